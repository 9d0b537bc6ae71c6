/**
 * The embedded OLAP store: the real ClickHouse engine in-process (chDB), driven through
 * `@clickhouse/client` so the code above this seam is the same as for a server.
 *
 * chDB binds one data directory per process, but several sessions may share it. We open
 * two: a writer session, and a reader session locked with `readonly = 2` for queries made
 * on behalf of users. The lock is the engine's own: `SELECT 1; DROP TABLE t` fails there.
 * Settings are SET once per session because chDB applies per-query settings as session
 * SETs, which would leak (a dedup token must never stick to later inserts), except for
 * inserts, whose settings go into the INSERT's own SETTINGS clause.
 */
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { createChdbConnection, type ChdbConnection } from "chdb/connection";
import { mkdirSync } from "node:fs";
import { detectCapabilities } from "../capabilities.ts";
import { quoteString } from "../clickhouseSql.ts";
import {
  StoreError,
  type ColumnInfo,
  type InsertOptions,
  type QueryParams,
  type QueryResult,
  type Store,
  type StoreCapabilities,
} from "../store.ts";
import { INSERT_SETTINGS, OUTPUT_SETTINGS } from "../querySettings.ts";
import { statementCount } from "../statements.ts";

interface Session {
  readonly connection: ChdbConnection;
  readonly client: ClickHouseClient;
}

function openSession(path: string): Session {
  const connection = createChdbConnection({ path });
  // `connection` is part of @clickhouse/client's public options since 1.23; its typings
  // lag behind, hence the widening.
  const client = createClient({ connection } as unknown as Parameters<typeof createClient>[0]);
  return { connection, client };
}

function toStoreError(error: unknown, what: string): StoreError {
  if (error instanceof StoreError) return error;
  const e = error as { message?: string; code?: string; type?: string };
  return new StoreError(`${what}: ${e?.message ?? String(error)}`, {
    cause: error,
    ...(e?.code !== undefined ? { engineCode: String(e.code) } : {}),
    ...(e?.type !== undefined ? { engineType: String(e.type) } : {}),
  });
}

async function setAll(session: Session, settings: Readonly<Record<string, string | number>>): Promise<void> {
  for (const [name, value] of Object.entries(settings)) {
    const literal = typeof value === "number" ? String(value) : quoteString(value);
    await session.client.command({ query: `SET ${name} = ${literal}` });
  }
}

async function runQuery<Row>(session: Session, sql: string, params: QueryParams | undefined): Promise<QueryResult<Row>> {
  const result = await session.client.query({
    query: sql,
    format: "JSON",
    ...(params && Object.keys(params).length > 0 ? { query_params: params as Record<string, unknown> } : {}),
  });
  const body = (await result.json()) as { data?: Row[]; meta?: { name: string; type: string }[] };
  return { rows: body.data ?? [], columns: body.meta ?? [] };
}

export class ChdbStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly #writer: Session;
  readonly #reader: Session;

  private constructor(writer: Session, reader: Session, capabilities: StoreCapabilities) {
    this.#writer = writer;
    this.#reader = reader;
    this.capabilities = capabilities;
  }

  static async open(options: { path: string }): Promise<ChdbStore> {
    mkdirSync(options.path, { recursive: true });
    let writer: Session | undefined;
    let reader: Session | undefined;
    try {
      writer = openSession(options.path);
      await setAll(writer, OUTPUT_SETTINGS);
      reader = openSession(options.path);
      await setAll(reader, OUTPUT_SETTINGS);
      await setAll(reader, { readonly: 2 });
      const w = writer;
      const capabilities = await detectCapabilities(async (sql, params) => (await runQuery<Record<string, unknown>>(w, sql, params)).rows);
      return new ChdbStore(writer, reader, capabilities);
    } catch (error) {
      await reader?.client.close().catch(() => {});
      await writer?.client.close().catch(() => {});
      throw toStoreError(error, `cannot open the embedded ClickHouse (chDB) data directory ${options.path}`);
    }
  }

  async exec(sql: string, params?: QueryParams): Promise<void> {
    try {
      await this.#writer.client.command({
        query: sql,
        ...(params && Object.keys(params).length > 0 ? { query_params: params as Record<string, unknown> } : {}),
      });
    } catch (error) {
      throw toStoreError(error, "statement failed");
    }
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>> {
    try {
      return await runQuery<Row>(this.#writer, sql, params);
    } catch (error) {
      throw toStoreError(error, "query failed");
    }
  }

  async readOnlyQuery<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>> {
    const statements = statementCount(sql);
    if (statements !== 1) throw new StoreError(`a query must be exactly one statement, got ${statements}`, { engineType: "SYNTAX_ERROR" });
    try {
      return await runQuery<Row>(this.#reader, sql, params);
    } catch (error) {
      throw toStoreError(error, "query failed");
    }
  }

  async insertJsonEachRow(table: string, body: Uint8Array, options: InsertOptions = {}): Promise<void> {
    if (body.length === 0) return;
    const settings: Record<string, string | number> = { ...INSERT_SETTINGS };
    if (options.dedupToken !== undefined && this.capabilities.supportsInsertDeduplicationToken) {
      settings.insert_deduplication_token = options.dedupToken;
    }
    try {
      // rawInsert hands the bytes to the engine's parallel parser without a JS copy.
      await this.#writer.connection.chdb.rawInsert({ table, values: body, format: "JSONEachRow", settings });
    } catch (error) {
      throw toStoreError(error, `insert into ${table} failed`);
    }
  }

  async listTables(): Promise<string[]> {
    const { rows } = await this.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name");
    return rows.map((r) => r.name);
  }

  async describeTable(table: string): Promise<ColumnInfo[] | undefined> {
    const { rows } = await this.query<{ name: string; type: string; default_expression: string; comment: string }>(
      "SELECT name, type, default_expression, comment FROM system.columns WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
      { table },
    );
    if (rows.length === 0) return undefined;
    return rows.map((r) => ({ name: r.name, type: r.type, defaultExpression: r.default_expression, comment: r.comment }));
  }

  async close(): Promise<void> {
    await this.#reader.client.close();
    await this.#writer.client.close();
  }
}
