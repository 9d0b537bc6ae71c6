/**
 * The OLAP store seam. Two implementations pass one conformance suite
 * (test/conformance/store.ts): embedded chDB (`chdb/`) for `igloo dev`, and a ClickHouse
 * server over HTTP(S) for production. Both speak ClickHouse SQL; what differs between
 * engines is described by `capabilities`, never by checking which engine it is.
 */
import { IglooError, type ErrorKind } from "../../conventions/errors.ts";
import { statementCount } from "./statements.ts";

export interface ColumnInfo {
  readonly name: string;
  /** The engine's type name, e.g. `LowCardinality(String)`. */
  readonly type: string;
  /** DEFAULT expression, empty when none. */
  readonly defaultExpression: string;
  readonly comment: string;
}

export interface ResultColumn {
  readonly name: string;
  /** The engine's type name. */
  readonly type: string;
}

export interface QueryResult<Row = Record<string, unknown>> {
  readonly rows: Row[];
  readonly columns: readonly ResultColumn[];
}

/**
 * A user's read as the engine answers it: the columns, then the rows in batches, each row
 * the text of a JSON object with exact values (64-bit integers and decimals as strings,
 * timestamps as ISO-8601 UTC). Reading to the end, breaking off the loop, or `close()`
 * frees what the query holds; `close()` before the end cancels the query in the engine.
 */
export interface RowStream {
  readonly columns: readonly ResultColumn[];
  readonly batches: AsyncIterable<readonly string[]>;
  close(): void;
}

/** What one user read may take; see runtime/limits.ts for the defaults and settings. */
export interface ReadLimits {
  /** Longest a read may run, in milliseconds. */
  readonly timeoutMs: number;
  /** Memory one read may use in the engine, in bytes. */
  readonly maxMemoryBytes: number;
  /** Rows and bytes of one read's result. */
  readonly maxResultRows: number;
  readonly maxResultBytes: number;
  /** Reads running at once. */
  readonly concurrency: number;
}

export interface ReadOptions {
  /** Aborting cancels the query in the engine, wherever it is. */
  readonly signal?: AbortSignal;
}

export type QueryParams = Readonly<Record<string, unknown>>;

/** Whether there are values to bind at all. */
export function hasParams(params: QueryParams | undefined): params is QueryParams {
  return params !== undefined && Object.keys(params).length > 0;
}

export interface StoreCapabilities {
  /** The engine's version string. */
  readonly version: string;
  readonly supportsDateTime64: boolean;
  readonly supportsDate32: boolean;
  readonly supportsBool: boolean;
  readonly supportsJsonType: boolean;
  /** LowCardinality columns in CREATE TABLE (18.x servers allow them only with an experimental setting). */
  readonly supportsLowCardinality: boolean;
  /** `{name:Type}` placeholders bound by the engine. */
  readonly supportsQueryParams: boolean;
  /** `insert_deduplication_token` plus `non_replicated_deduplication_window`. */
  readonly supportsInsertDeduplicationToken: boolean;
  /** `EXPLAIN AST`: the engine shows its parse tree of a statement without running it. */
  readonly supportsExplainAst: boolean;
  /**
   * Table options, each tried on a throwaway table (runtime/store/capabilities.ts): a table
   * TTL (`@@ttl`), column TTLs (`@ttl`), column codecs (`@codec`), data-skipping indexes
   * (`@@skipIndex`; 19.x servers only with allow_experimental_data_skipping_indices) and
   * projections (`@@projection`).
   */
  readonly supportsTableTtl: boolean;
  readonly supportsColumnTtl: boolean;
  readonly supportsCodecs: boolean;
  readonly supportsSkipIndexes: boolean;
  readonly supportsProjections: boolean;
}

export interface InsertOptions {
  /** A retried insert with the same token is ignored by the engine. */
  readonly dedupToken?: string;
  /** These rows were sent before and may be stored already (a replayed batch). */
  readonly retry?: boolean;
}

export interface Store {
  readonly capabilities: StoreCapabilities;
  /**
   * How many reads Igloo's own background readers (live subscriptions) should run at once:
   * 1 for an engine inside this process, whose reads contend for the same cores and run
   * slower side by side than one after the other; more for a server across a network.
   */
  readonly backgroundReads: number;
  /** DDL and other statements that return nothing. */
  exec(sql: string, params?: QueryParams): Promise<void>;
  /** Reads for Igloo itself (schema introspection, tests): not restricted. */
  query<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>>;
  /**
   * Reads on behalf of a user (the query API, views), streamed. The engine itself holds
   * them to reading, with the limits the store was opened with (time, memory, result
   * size), and keeps no state between them. Resolves once the engine begins to answer;
   * a statement the engine refuses rejects with a StoreError.
   */
  read(sql: string, params: QueryParams | undefined, options?: ReadOptions): Promise<RowStream>;
  /**
   * The engine's parse tree of a user's statement (`EXPLAIN AST`, one node a line), for
   * runtime/query/readPolicy.ts; only when `capabilities.supportsExplainAst`.
   */
  explainAst(sql: string, params: QueryParams | undefined): Promise<string[]>;
  /** The database user reads resolve unqualified names in: the project's. */
  readonly database: string;
  /** Inserts newline-separated JSON objects (JSONEachRow). */
  insertJsonEachRow(table: string, body: Uint8Array, options?: InsertOptions): Promise<void>;
  listTables(): Promise<string[]>;
  describeTable(table: string): Promise<ColumnInfo[] | undefined>;
  close(): Promise<void>;
  /** With several replicas (a comma-separated IGLOO_CLICKHOUSE_URL): which are up, and which is in use. */
  health?(): readonly ReplicaHealth[];
  /** Each replica that answers, as a store of its own: drift is looked for on every one. */
  replicaStores?(): readonly { readonly replica: string; readonly store: Store }[];
}

export interface ReplicaHealth {
  /** host:port, safe to print. */
  readonly replica: string;
  readonly up: boolean;
  /** The one Igloo's writes and reads go to now. */
  readonly current: boolean;
}

/** All rows of a read, parsed: for Igloo's own reads and tests, not for results of any size. */
export async function readAll<Row = Record<string, unknown>>(store: Store, sql: string, params?: QueryParams): Promise<QueryResult<Row>> {
  const stream = await store.read(sql, params);
  const rows: Row[] = [];
  for await (const batch of stream.batches) for (const row of JSON.parse(`[${batch.join(",")}]`) as Row[]) rows.push(row);
  return { rows, columns: stream.columns };
}

/**
 * The engine refused a statement, or could not be reached (kind `unavailable`: retry
 * later). `engineCode` is ClickHouse's error code when known, `engineType` its name.
 * The message may say where the engine is and who Igloo connects as, for logs and the
 * CLI; `publicMessage` is what a client of the API may be told: the engine's own words
 * about the statement, never those.
 */
export class StoreError extends IglooError {
  declare readonly code: "E_STORE";
  readonly engineCode: string | undefined;
  readonly engineType: string | undefined;
  constructor(
    message: string,
    options: { cause?: unknown; engineCode?: string; engineType?: string; publicMessage?: string; kind?: ErrorKind } = {},
  ) {
    super("E_STORE", message, { kind: options.kind ?? "internal", cause: options.cause, ...(options.publicMessage === undefined ? {} : { publicMessage: options.publicMessage }) });
    this.name = "StoreError";
    this.engineCode = options.engineCode;
    this.engineType = options.engineType;
  }
}

/**
 * A user's read is exactly one statement: chDB would run a second one after the first
 * (EXPLAIN AST included), and the server refuses it with another error. Both stores
 * check it first, so both refuse alike.
 */
export function requireOneStatement(sql: string): void {
  const statements = statementCount(sql);
  if (statements !== 1) throw new StoreError(`a query must be exactly one statement, got ${statements}`, { engineType: "SYNTAX_ERROR", kind: "bad_input" });
}
