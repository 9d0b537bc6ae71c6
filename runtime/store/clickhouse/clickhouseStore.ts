/**
 * The production OLAP store: a ClickHouse server over HTTP(S), through
 * `@clickhouse/client`, the same client the embedded store drives.
 *
 * Everything is stateless per request: settings travel with each query (a server session
 * would pin us to one node behind a load balancer). Settings the server does not know are
 * dropped (an old server refuses a request with an unknown setting), after asking
 * `system.settings` once at connect; jsonResult.ts makes up for the output settings an old
 * server lacks.
 *
 * Reads made on behalf of clients run as a second user, the query user
 * (IGLOO_CLICKHOUSE_QUERY_URL), whom the server itself holds to reading the project's
 * database: its profile has `readonly = 1` (no writes, no SET or SETTINGS, no temporary
 * tables, no table functions on old servers), the limits, and, on servers with SQL access
 * control, SELECT on the project's database only and no source grants (FILE, URL, REMOTE,
 * S3...). Igloo checks at connect that the server does enforce `readonly = 1` for it, and
 * sends it no settings (it could change none); its output settings are read instead, and
 * made up for like an old server's. Reads are streamed, and cancelled with KILL QUERY (as
 * Igloo's own user) when their client leaves or their deadline passes.
 */
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from "@clickhouse/client";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { detectCapabilities } from "../capabilities.ts";
import { quoteIdent, quoteString } from "../clickhouseSql.ts";
import { readCompactJson } from "../compactJson.ts";
import { describeTable, listTables } from "../introspection.ts";
import { INSERT_SETTINGS, OUTPUT_SETTINGS } from "../querySettings.ts";
import { hasParams, requireOneStatement, StoreError, type ColumnInfo, type InsertOptions, type QueryParams, type QueryResult, type ReadOptions, type RowStream, type Store, type StoreCapabilities } from "../store.ts";
import { resolveConnection, type ClickHouseConnectOptions, type ResolvedConnection } from "./connectionOptions.ts";
import { parseJsonResult, valueRewrites, type OutputEmulation } from "./jsonResult.ts";
import { toStoreError, type ServerTarget } from "./serverErrors.ts";
import { checkCluster, ClusterDdl } from "./clusterDdl.ts";

export type { ClickHouseConnectOptions, ClickHouseTlsFiles } from "./connectionOptions.ts";

export interface ClickHouseStoreOptions extends ClickHouseConnectOptions {
  /** The query user, for reads on behalf of clients; without it `read` refuses. */
  readonly reader?: ClickHouseConnectOptions;
  /**
   * A cluster's name (IGLOO_CLICKHOUSE_CLUSTER): DDL runs ON CLUSTER, tables replicated
   * (clusterDdl.ts). The replicas of a ReplicaStore share one ClusterDdl.
   */
  readonly cluster?: string | ClusterDdl;
  /** How long an ON CLUSTER statement waits for a replica that is down (default 30 s). */
  readonly clusterDdlWaitSeconds?: number;
  /** Reads at once (connections of the query user). */
  readonly readConcurrency?: number;
}

/** The query user: its client, and how its answers must be made up for. */
interface Reader {
  readonly client: ClickHouseClient;
  readonly target: ServerTarget;
  readonly emulation: OutputEmulation;
}

const READER_HINT =
  "Configure a ClickHouse user for queries (IGLOO_CLICKHOUSE_QUERY_URL) whose profile sets readonly = 1, with access to the project's database only: see the README, Production, the query user.";

type Settings = Record<string, string | number>;

/** How long an ON CLUSTER statement waits for a replica that is down (#clusterCommand), unless told. */
const DDL_WAIT_S = 30;

/** What the adapter learnt about the server at connect, beyond the seam's capabilities. */
interface ServerFacts {
  readonly capabilities: StoreCapabilities;
  readonly knownSettings: ReadonlySet<string>;
  readonly emulation: OutputEmulation;
}

function known(settings: Readonly<Settings>, names: ReadonlySet<string>): Settings {
  return Object.fromEntries(Object.entries(settings).filter(([name]) => names.has(name)));
}


async function selectRows(client: ClickHouseClient, sql: string, params?: Record<string, unknown>): Promise<Record<string, unknown>[]> {
  const result = await client.query({ query: sql, format: "JSON", ...(params ? { query_params: params } : {}) });
  return ((await result.json()) as { data: Record<string, unknown>[] }).data;
}

function openClient(connection: ResolvedConnection, maxConnections?: number): ClickHouseClient {
  return createClient({
    url: connection.url,
    username: connection.user,
    password: connection.password,
    database: connection.database,
    request_timeout: connection.requestTimeoutMs,
    ...(connection.tls ? { tls: connection.tls } : {}),
    ...(maxConnections ? { max_open_connections: maxConnections } : {}),
    compression: { request: false, response: false },
    // Failures reach the caller as StoreErrors; the client's own console logging would
    // print them a second time.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/**
 * Connects as the query user and checks that the server holds it to reading: its
 * `readonly` must be 1. Its output settings decide what to make up for.
 */
async function openReader(options: ClickHouseConnectOptions, main: ResolvedConnection, concurrency: number): Promise<Reader> {
  const connection = resolveConnection(options);
  const database = main.database;
  const target: ServerTarget = { url: connection.url, user: connection.user, requestTimeoutMs: connection.requestTimeoutMs, hidden: [main.user] };
  const client = openClient(connection, concurrency + 2);
  try {
    if (connection.database !== database) {
      throw new StoreError(`the query user's URL names database \`${connection.database}\`, the project's is \`${database}\`; they must be the same`);
    }
    const rows = await selectRows(
      client,
      "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'output_format_json_quote_64bit_integers', 'output_format_json_quote_decimals', 'date_time_output_format')",
    );
    const settings = new Map(rows.map((r) => [String(r.name), String(r.value)]));
    if (settings.get("readonly") !== "1") {
      throw new StoreError(
        `the query user "${connection.user}" has readonly = ${settings.get("readonly") ?? "?"}: the server would let clients of POST /query write, change settings or reach files and hosts. ${READER_HINT}`,
      );
    }
    const [zone] = await selectRows(client, "SELECT timezone() AS tz");
    return {
      client,
      target,
      emulation: {
        int64AsText: settings.get("output_format_json_quote_64bit_integers") === "0",
        decimalsAsText: settings.get("output_format_json_quote_decimals") !== "1",
        isoDateTimes: settings.get("date_time_output_format") !== "iso",
        serverTimezone: String(zone?.tz ?? "UTC"),
      },
    };
  } catch (error) {
    await client.close().catch(() => {});
    throw toStoreError(error, `cannot use the query user at ${connection.url}`, target);
  }
}

async function learnServer(client: ClickHouseClient): Promise<ServerFacts> {
  // The first statement authenticates: a wrong password fails here, not at ping.
  const knownSettings = new Set((await selectRows(client, "SELECT name FROM system.settings")).map((r) => String(r.name)));
  const capabilities = await detectCapabilities((sql, params) => selectRows(client, sql, params), async (sql) => void (await client.command({ query: sql })));
  const [zone] = await selectRows(client, "SELECT timezone() AS tz");
  return {
    capabilities,
    knownSettings,
    emulation: {
      decimalsAsText: !knownSettings.has("output_format_json_quote_decimals"),
      int64AsText: !knownSettings.has("output_format_json_quote_64bit_integers"),
      isoDateTimes: !knownSettings.has("date_time_output_format"),
      serverTimezone: String(zone?.tz ?? "UTC"),
    },
  };
}

export class ClickHouseStore implements Store {
  /** A server works on several reads at once while each waits on the network. */
  readonly backgroundReads = 4;
  readonly capabilities: StoreCapabilities;
  readonly database: string;
  readonly #client: ClickHouseClient;
  readonly #target: ServerTarget;
  readonly #facts: ServerFacts;
  readonly #reader: Reader | undefined;
  readonly #outputSettings: Settings;
  readonly #insertSettings: Settings;
  /** Ids of the reads running now, to cancel at close. */
  readonly #running = new Set<string>();
  readonly #cluster: ClusterDdl | undefined;
  readonly #ddlWaitSeconds: number;

  private constructor(client: ClickHouseClient, target: ServerTarget, database: string, facts: ServerFacts, reader: Reader | undefined, options: ClickHouseStoreOptions) {
    const { cluster } = options;
    this.#cluster = typeof cluster === "string" ? new ClusterDdl(cluster, database) : cluster;
    this.#ddlWaitSeconds = options.clusterDdlWaitSeconds ?? DDL_WAIT_S;
    this.#client = client;
    this.#target = target;
    this.database = database;
    this.#facts = facts;
    this.#reader = reader;
    this.capabilities = facts.capabilities;
    this.#outputSettings = known(OUTPUT_SETTINGS, facts.knownSettings);
    this.#insertSettings = known(INSERT_SETTINGS, facts.knownSettings);
  }

  static async connect(options: ClickHouseStoreOptions): Promise<ClickHouseStore> {
    const connection = resolveConnection(options);
    const target: ServerTarget = { url: connection.url, user: connection.user, requestTimeoutMs: connection.requestTimeoutMs };
    const client = openClient(connection);
    let reader: Reader | undefined;
    try {
      const ping = await client.ping();
      if (!ping.success) throw ping.error;
      const facts = await learnServer(client);
      if (options.cluster !== undefined) await checkCluster((sql) => selectRows(client, sql), typeof options.cluster === "string" ? options.cluster : options.cluster.cluster, connection.url);
      if (options.reader) reader = await openReader(options.reader, connection, options.readConcurrency ?? 4);
      return new ClickHouseStore(client, target, connection.database, facts, reader, options);
    } catch (error) {
      await client.close().catch(() => {});
      throw toStoreError(error, `cannot connect to ClickHouse at ${connection.url}`, target);
    }
  }

  #bindable(params: QueryParams | undefined): Record<string, unknown> | undefined {
    if (!hasParams(params)) return undefined;
    if (!this.capabilities.supportsQueryParams) {
      throw new StoreError(
        `this ClickHouse server (version ${this.capabilities.version}) cannot bind query parameters ({name:Type} placeholders), ` +
          "and values are never spliced into SQL: upgrade the server, or run the query without parameters",
        { engineType: "UNSUPPORTED_PARAMETER", kind: "bad_input" },
      );
    }
    return params as Record<string, unknown>;
  }


  async exec(sql: string, params?: QueryParams): Promise<void> {
    const bound = this.#bindable(params);
    try {
      const made = this.#cluster?.createsIfMissing(sql);
      if (made !== undefined) {
        const [row] = await selectRows(this.#client, `SELECT count() AS n FROM system.tables WHERE database = ${quoteString(this.database)} AND name = ${quoteString(made)}`);
        if (Number(row?.n) > 0) return;
      }
      if (this.#cluster === undefined) await this.#client.command({ query: sql, ...(bound ? { query_params: bound } : {}) });
      else await this.#clusterCommand(this.#cluster.rewrite(sql), bound);
    } catch (error) {
      throw toStoreError(error, "statement failed", this.#target);
    }
  }

  /**
   * An ON CLUSTER statement waits for every replica, at most DDL_WAIT_S (or as configured) for one that is
   * down; the server has then run it on those that are up and queued it for the others,
   * which run it when they return (TIMEOUT_EXCEEDED, "going to execute the query in
   * background"): done, as far as Igloo is concerned.
   */
  async #clusterCommand(query: string, bound: Record<string, unknown> | undefined): Promise<void> {
    const settings = known({ distributed_ddl_task_timeout: this.#ddlWaitSeconds }, this.#facts.knownSettings);
    try {
      await this.#client.command({ query, clickhouse_settings: settings, ...(bound ? { query_params: bound } : {}) });
    } catch (error) {
      if (/execute the query in background/i.test(error instanceof Error ? error.message : String(error))) return;
      throw error;
    }
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>> {
    const bound = this.#bindable(params);
    try {
      const result = await this.#client.query({ query: sql, format: "JSON", clickhouse_settings: this.#outputSettings, ...(bound ? { query_params: bound } : {}) });
      return parseJsonResult<Row>(await result.text(), this.#facts.emulation);
    } catch (error) {
      throw toStoreError(error, "query failed", this.#target);
    }
  }

  #queryUser(): Reader {
    if (this.#reader === undefined) throw new StoreError(`this process has no query user: reads on behalf of clients need one. ${READER_HINT}`);
    return this.#reader;
  }

  async read(sql: string, params: QueryParams | undefined, options: ReadOptions = {}): Promise<RowStream> {
    requireOneStatement(sql);
    const reader = this.#queryUser();
    const bound = this.#bindable(params);
    const queryId = randomUUID();
    const { signal } = options;
    const abort = new AbortController();
    let ended = false;
    const cancel = () => {
      if (ended) return;
      ended = true;
      abort.abort();
      void this.#kill(queryId);
    };
    signal?.addEventListener("abort", cancel, { once: true });
    const release = () => {
      signal?.removeEventListener("abort", cancel);
      this.#running.delete(queryId);
    };
    this.#running.add(queryId);
    if (signal?.aborted) cancel();
    let body: AsyncIterable<Buffer>;
    try {
      // After a newline, so a trailing `--` comment cannot swallow the FORMAT.
      ({ stream: body } = await reader.client.exec({ query: `${sql}\nFORMAT JSONCompact`, query_id: queryId, abort_signal: abort.signal, ...(bound ? { query_params: bound } : {}) }));
    } catch (error) {
      ended = true;
      release();
      throw toStoreError(error, "query failed", reader.target);
    }
    const target = reader.target;
    async function* chunks(): AsyncGenerator<string> {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of body) yield decoder.decode(chunk, { stream: true });
      } catch (error) {
        throw toStoreError(error, "query failed", target);
      }
      ended = true;
    }
    return await readCompactJson(chunks(), { rewrites: (columns) => valueRewrites(columns, reader.emulation), cancel, release });
  }

  async explainAst(sql: string, params: QueryParams | undefined): Promise<string[]> {
    requireOneStatement(sql);
    const reader = this.#queryUser();
    const bound = this.#bindable(params);
    try {
      // No FORMAT clause (it would attach to the explained statement): the server's
      // default, TabSeparated, one escaped line a node.
      const { stream } = await reader.client.exec({ query: `EXPLAIN AST ${sql}`, ...(bound ? { query_params: bound } : {}) });
      let text = "";
      for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString("utf8");
      return text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => line.replace(/\\(.)/g, (_, c: string) => ({ n: "\n", t: "\t", r: "\r", "0": "\0", b: "\b", f: "\f" })[c] ?? c));
    } catch (error) {
      throw toStoreError(error, "query failed", reader.target);
    }
  }

  /** Cancels a client's read on the server; never throws. */
  async #kill(queryId: string): Promise<void> {
    try {
      await this.#client.command({ query: `KILL QUERY WHERE query_id = ${quoteString(queryId)} ASYNC` });
    } catch {
      // Finished already, or the server is gone: nothing left to cancel.
    }
  }

  async insertJsonEachRow(table: string, body: Uint8Array, options: InsertOptions = {}): Promise<void> {
    if (body.length === 0) return;
    const settings: Settings = { ...this.#insertSettings };
    if (options.dedupToken !== undefined && this.capabilities.supportsInsertDeduplicationToken) {
      settings.insert_deduplication_token = options.dedupToken;
    } else if (this.#cluster !== undefined && options.retry !== true && this.#facts.knownSettings.has("insert_deduplicate")) {
      // Without tokens a replicated table drops a block whose rows equal a recent one's:
      // two batches of identical events would be taken for one sent twice, and the second
      // lost (found by bench/production.ts, which sends the same payloads again and again).
      // A first attempt is never a repeat, so it is not checked, and its hash is not kept;
      // a retry is checked against the retries before it. The price, on such servers: a
      // batch of a model without @id retried after an insert whose answer was lost may be
      // stored twice (with @id, the writer inserts only the ids the table lacks).
      settings.insert_deduplicate = 0;
    }
    try {
      // `exec` with `values` sends the bytes as the request body untouched (client.insert
      // would want objects to serialise); the statement travels in the URL.
      const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const { stream } = await this.#client.exec({
        query: `INSERT INTO ${quoteIdent(table)} FORMAT JSONEachRow`,
        values: Readable.from([bytes], { objectMode: false }),
        clickhouse_settings: settings,
      });
      // The answer is empty; reading it to the end frees the socket for reuse.
      for await (const _ of stream);
    } catch (error) {
      throw toStoreError(error, `insert into ${table} failed`, this.#target);
    }
  }

  listTables(): Promise<string[]> {
    return listTables(this);
  }

  describeTable(table: string): Promise<ColumnInfo[] | undefined> {
    return describeTable(this, table);
  }

  /** Cancels the reads still running (a stop must not wait for a client's query), then closes. */
  async close(): Promise<void> {
    await Promise.all([...this.#running].map((id) => this.#kill(id)));
    await this.#reader?.client.close();
    await this.#client.close();
  }
}
