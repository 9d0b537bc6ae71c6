/**
 * The embedded OLAP store: the real ClickHouse engine in-process (chDB), driven through
 * `@clickhouse/client` so the code above this seam is the same as for a server.
 *
 * chDB binds one data directory per process, but several sessions may share it, and they
 * run queries side by side. We open:
 * - a writer session, for Igloo's own statements and inserts;
 * - a few reader sessions for reads made on behalf of users, each locked by the engine:
 *   the output settings and the limits (time, memory, result size) are SET, then
 *   `readonly = 1`, after which the engine refuses writes, DDL, temporary tables, SET and
 *   SETTINGS clauses (so no limit can be lifted and no state outlives a query), and every
 *   table function that reaches files, network or processes. What the engine still lets
 *   through (the `file()` function, INTO OUTFILE, other databases) is runtime/query's
 *   policy to refuse, decided on the engine's own parse tree (`explainAst`);
 * - a control session that cancels user reads (`KILL QUERY`), found by a tag comment
 *   each read starts with, when their client leaves or a deadline passes.
 * Settings are SET once per session because chDB applies per-query settings as session
 * SETs, which would leak (a dedup token must never stick to later inserts), except for
 * inserts, whose settings go into the INSERT's own SETTINGS clause.
 *
 * chDB 3.4 leaves the output of a statement that failed (or was cancelled) in its
 * session, and the session's next statement returns that instead of its own answer: an
 * empty result, silently. So after any failure a session is flushed (flush() below)
 * before it runs anything else.
 */
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { Session, type ChdbQueryStream } from "chdb";
import { createChdbConnection, type ChdbConnection } from "chdb/connection";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { detectCapabilities } from "../capabilities.ts";
import { quoteIdent, quoteString } from "../clickhouseSql.ts";
import { readCompactJson } from "../compactJson.ts";
import { describeTable, listTables } from "../introspection.ts";
import { hasParams, requireOneStatement, StoreError, type ColumnInfo, type InsertOptions, type QueryParams, type QueryResult, type ReadLimits, type ReadOptions, type RowStream, type Store, type StoreCapabilities } from "../store.ts";
import { INSERT_SETTINGS, OUTPUT_SETTINGS, readLimitSettings } from "../querySettings.ts";

interface WriterSession {
  readonly connection: ChdbConnection;
  readonly client: ClickHouseClient;
}

function openWriter(path: string): WriterSession {
  const connection = createChdbConnection({ path });
  // `connection` is part of @clickhouse/client's public options since 1.23; its typings
  // lag behind, hence the widening.
  const client = createClient({ connection } as unknown as Parameters<typeof createClient>[0]);
  return { connection, client };
}

/** chDB's messages read `Code: 164. DB::Exception: <what>. (READONLY)`. */
function toStoreError(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error;
  const e = error as { message?: string; code?: string; type?: string };
  const message = e?.message ?? String(error);
  const engineCode = e?.code !== undefined && /^\d+$/.test(String(e.code)) ? String(e.code) : /Code: (\d+)\./.exec(message)?.[1];
  const engineType = e?.type !== undefined ? String(e.type) : /\(([A-Z_]+)\)\s*$/.exec(message)?.[1];
  return new StoreError(`${what}: ${message}`, {
    cause: error,
    ...(engineCode !== undefined ? { engineCode } : {}),
    ...(engineType !== undefined ? { engineType } : {}),
  });
}

function settingStatements(settings: Readonly<Record<string, string | number>>): string[] {
  return Object.entries(settings).map(([name, value]) => `SET ${name} = ${typeof value === "number" ? String(value) : quoteString(value)}`);
}

async function setAll(writer: WriterSession, settings: Readonly<Record<string, string | number>>): Promise<void> {
  for (const statement of settingStatements(settings)) await writer.client.command({ query: statement });
}

async function runQuery<Row>(session: WriterSession, sql: string, params: QueryParams | undefined): Promise<QueryResult<Row>> {
  const result = await session.client.query({
    query: sql,
    format: "JSON",
    ...(hasParams(params) ? { query_params: params as Record<string, unknown> } : {}),
  });
  const body = (await result.json()) as { data?: Row[]; meta?: { name: string; type: string }[] };
  return { rows: body.data ?? [], columns: body.meta ?? [] };
}

function startStream(session: Session, sql: string, params: QueryParams | undefined, format: string): ChdbQueryStream {
  return hasParams(params) ? session.queryStreamBind(sql, params, { format }) : session.queryStream(sql, { format });
}

/** The whole answer at once: for what chDB cannot stream (its answer is small, and limited). */
async function wholeText(session: Session, sql: string, params: QueryParams | undefined, format: string): Promise<string> {
  const result = hasParams(params) ? await session.queryBindAsync(sql, params, { format }) : await session.queryAsync(sql, { format });
  return result.text();
}

/**
 * Runs a statement that answers a fresh nonce until the nonce comes back: what a failed
 * statement left in the session is read and dropped on the way (once, in practice).
 */
async function flush(run: (sql: string) => Promise<string>): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const nonce = `igloo-flush-${randomUUID()}`;
    try {
      if ((await run(`SELECT '${nonce}' AS flush`)).includes(nonce)) return;
    } catch {
      // A stale failure may surface here too; the next attempt reads past it.
    }
  }
  throw new StoreError("a chDB session kept answering with an earlier statement's output after a failure", { kind: "unavailable" });
}

/** chDB streams SELECTs only; SHOW, DESCRIBE and EXPLAIN are refused with this. */
const STREAM_REFUSED = /Streaming query is not supported/;

/** The reader sessions; a read waits for a free one. */
class ReaderPool {
  readonly #free: Session[];
  readonly #waiting: { resolve: (session: Session) => void; reject: (error: unknown) => void }[] = [];
  readonly all: readonly Session[];

  constructor(sessions: Session[]) {
    this.all = sessions;
    this.#free = [...sessions];
  }

  acquire(signal?: AbortSignal): Promise<Session> {
    const session = this.#free.pop();
    if (session !== undefined) return Promise.resolve(session);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (s: Session) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(s);
        },
        reject,
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at !== -1) this.#waiting.splice(at, 1);
        reject(signal?.reason ?? new Error("aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Hands the session on; after a failure, only once it has been flushed. */
  release(session: Session, failed = false): void {
    if (failed) {
      flush(async (sql) => (await session.queryAsync(sql, { format: "TSV" })).text()).then(
        () => this.release(session),
        // A session that cannot be cleaned is left out of the pool: reads go on with one less.
        () => session.close(),
      );
      return;
    }
    const next = this.#waiting.shift();
    if (next) next.resolve(session);
    else this.#free.push(session);
  }

  failAll(error: unknown): void {
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }
}

/** Every user read starts with this comment, so the control session can find and kill it. */
const TAG_PREFIX = "/*igloo:read:";

export interface ChdbStoreOptions {
  readonly path: string;
  /**
   * The database every session uses (created when missing; default `default`). chDB binds
   * one data directory per process, so pipelines that share a process (tests) keep apart
   * by database.
   */
  readonly database?: string;
  /** What the engine can do, when the caller already asked this library (tests open many stores). */
  readonly capabilities?: StoreCapabilities;
  /** Limits of user reads; `concurrency` reader sessions are opened. */
  readonly limits: ReadLimits;
}

export class ChdbStore implements Store {
  // Measured (bench/subscriptions.ts): 100 live reads after each change, one at a time,
  // p99 963 ms; two at a time 1,420 ms; three 2,012 ms.
  readonly backgroundReads = 1;
  readonly capabilities: StoreCapabilities;
  readonly database: string;
  readonly #writer: WriterSession;
  readonly #readers: ReaderPool;
  readonly #control: Session;
  /** Tags of the reads running now, to cancel at close. */
  readonly #running = new Set<string>();
  /** The writer session's last statement (and its flush): the next one waits for it. */
  #writerTurn: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(writer: WriterSession, readers: ReaderPool, control: Session, capabilities: StoreCapabilities, database: string) {
    this.database = database;
    this.#writer = writer;
    this.#readers = readers;
    this.#control = control;
    this.capabilities = capabilities;
  }

  static async open(options: ChdbStoreOptions): Promise<ChdbStore> {
    mkdirSync(options.path, { recursive: true });
    let writer: WriterSession | undefined;
    const sessions: Session[] = [];
    try {
      writer = openWriter(options.path);
      const database = options.database ?? "default";
      const use = database === "default" ? [] : [`USE ${quoteIdent(database)}`];
      if (use.length > 0) await writer.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)}` });
      for (const statement of use) await writer.client.command({ query: statement });
      await setAll(writer, OUTPUT_SETTINGS);
      const w = writer;
      const capabilities =
        options.capabilities ??
        (await detectCapabilities(
          async (sql, params) => (await runQuery<Record<string, unknown>>(w, sql, params)).rows,
          // A refused probe leaves its failure in the session: flushed, as #onWriter does.
          (sql) => w.client.command({ query: sql }).then(() => {}, async (error: unknown) => {
            await flush(async (text) => JSON.stringify((await runQuery(w, text, undefined)).rows)).catch(() => {});
            throw error;
          }),
        ));
      const locked = [...use, ...settingStatements({ ...OUTPUT_SETTINGS, ...readLimitSettings(options.limits) }), "SET readonly = 1"];
      for (let i = 0; i < Math.max(1, options.limits.concurrency); i++) {
        const session = new Session(options.path);
        sessions.push(session);
        for (const statement of locked) await session.queryAsync(statement);
      }
      const control = new Session(options.path);
      sessions.push(control);
      return new ChdbStore(writer, new ReaderPool(sessions.slice(0, -1)), control, capabilities, database);
    } catch (error) {
      for (const session of sessions) session.close();
      await writer?.client.close().catch(() => {});
      throw toStoreError(error, `cannot open the embedded ClickHouse (chDB) data directory ${options.path}`);
    }
  }

  /** The writer session's statements, one at a time, the session flushed after a failure. */
  async #onWriter<T>(what: string, work: () => Promise<T>): Promise<T> {
    const turn = this.#writerTurn.then(work);
    this.#writerTurn = turn.then(
      () => {},
      () => flush(async (sql) => JSON.stringify((await runQuery(this.#writer, sql, undefined)).rows)).catch(() => {}),
    );
    try {
      return await turn;
    } catch (error) {
      throw toStoreError(error, what);
    }
  }

  exec(sql: string, params?: QueryParams): Promise<void> {
    return this.#onWriter("statement failed", async () => {
      await this.#writer.client.command({
        query: sql,
        ...(hasParams(params) ? { query_params: params as Record<string, unknown> } : {}),
      });
    });
  }

  query<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>> {
    return this.#onWriter("query failed", () => runQuery<Row>(this.#writer, sql, params));
  }

  async read(sql: string, params: QueryParams | undefined, options: ReadOptions = {}): Promise<RowStream> {
    requireOneStatement(sql);
    if (this.#closed) throw new StoreError("the store is closed", { kind: "unavailable" });
    const { signal } = options;
    const reader = await this.#readers.acquire(signal);
    const tag = `${TAG_PREFIX}${randomUUID()}*/`;
    const text = `${tag}\n${sql}`;
    let stream: ChdbQueryStream | undefined;
    let whole: Promise<string> | undefined;
    try {
      stream = startStream(reader, text, params, "JSONCompact");
    } catch (error) {
      if (!STREAM_REFUSED.test(String((error as Error)?.message))) {
        this.#readers.release(reader, true);
        throw toStoreError(error, "query failed");
      }
      whole = wholeText(reader, text, params, "JSONCompact");
    }
    this.#running.add(tag);
    const iterator = stream?.[Symbol.asyncIterator]();
    // The fetch in flight, if any: the session is handed on only once it settled, since
    // a cancelled stream's handle is destroyed after its last fetch. (Its catch also keeps
    // a failed whole answer from being an unhandled rejection.)
    let inflight: Promise<unknown> = whole ? whole.catch(() => {}) : Promise.resolve();
    let ended = false;
    /** The engine answered to the end: nothing is left in the session. */
    let clean = false;
    const cancel = () => {
      if (ended) return;
      ended = true;
      void this.#kill(tag);
      stream?.cancel();
    };
    signal?.addEventListener("abort", cancel, { once: true });
    if (signal?.aborted) cancel();
    async function* chunks(): AsyncGenerator<string> {
      if (whole !== undefined || iterator === undefined) {
        let text: string;
        try {
          text = await whole!;
        } catch (error) {
          throw toStoreError(error, "query failed");
        }
        ended = clean = true;
        yield text;
        return;
      }
      for (;;) {
        const next = iterator.next();
        inflight = next.catch(() => {});
        let step: IteratorResult<{ text(): string }>;
        try {
          step = await next;
        } catch (error) {
          throw toStoreError(error, "query failed");
        }
        if (step.done) {
          ended = clean = true;
          return;
        }
        yield step.value.text();
      }
    }
    return await readCompactJson(chunks(), {
      cancel,
      release: () => {
        signal?.removeEventListener("abort", cancel);
        this.#running.delete(tag);
        void inflight.then(() => this.#readers.release(reader, !clean));
      },
    });
  }

  async explainAst(sql: string, params: QueryParams | undefined): Promise<string[]> {
    requireOneStatement(sql);
    const reader = await this.#readers.acquire();
    let failed = true;
    try {
      const text = await wholeText(reader, `EXPLAIN AST ${sql}`, params, "JSONCompact");
      failed = false;
      return (JSON.parse(text) as { data: [string][] }).data.map((row) => row[0]);
    } catch (error) {
      throw toStoreError(error, "query failed");
    } finally {
      this.#readers.release(reader, failed);
    }
  }

  /** Cancels a user read wherever it is in the engine; never throws. */
  async #kill(tag: string): Promise<void> {
    try {
      await this.#control.queryAsync(`KILL QUERY WHERE startsWith(query, ${quoteString(tag)}) ASYNC`);
    } catch {
      // Already finished, or the store is closing: nothing left to cancel.
    }
  }

  async insertJsonEachRow(table: string, body: Uint8Array, options: InsertOptions = {}): Promise<void> {
    if (body.length === 0) return;
    const settings: Record<string, string | number> = { ...INSERT_SETTINGS };
    if (options.dedupToken !== undefined && this.capabilities.supportsInsertDeduplicationToken) {
      settings.insert_deduplication_token = options.dedupToken;
    }
    // rawInsert hands the bytes to the engine's parallel parser without a JS copy.
    await this.#onWriter(`insert into ${table} failed`, () => this.#writer.connection.chdb.rawInsert({ table, values: body, format: "JSONEachRow", settings }));
  }

  listTables(): Promise<string[]> {
    return listTables(this);
  }

  describeTable(table: string): Promise<ColumnInfo[] | undefined> {
    return describeTable(this, table);
  }

  /** Cancels the reads still running (a stop must not wait for a user's query), then closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new StoreError("the store is closed", { kind: "unavailable" });
    this.#readers.failAll(closed);
    if (this.#running.size > 0) await this.#kill(TAG_PREFIX);
    for (const session of this.#readers.all) session.close();
    this.#control.close();
    await this.#writer.client.close();
  }
}
