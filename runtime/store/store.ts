/**
 * The OLAP store seam. Two implementations pass one conformance suite
 * (test/conformance/store.ts): embedded chDB (`chdb/`) for `igloo dev`, and a ClickHouse
 * server over HTTP(S) for production. Both speak ClickHouse SQL; what differs between
 * engines is described by `capabilities`, never by checking which engine it is.
 */

export interface ColumnInfo {
  readonly name: string;
  /** The engine's type name, e.g. `LowCardinality(String)`. */
  readonly type: string;
  /** DEFAULT expression, empty when none. */
  readonly defaultExpression: string;
  readonly comment: string;
}

export interface QueryResult<Row = Record<string, unknown>> {
  readonly rows: Row[];
  readonly columns: readonly { readonly name: string; readonly type: string }[];
}

export type QueryParams = Readonly<Record<string, unknown>>;

export interface StoreCapabilities {
  /** The engine's version string. */
  readonly version: string;
  readonly supportsDateTime64: boolean;
  readonly supportsDate32: boolean;
  readonly supportsBool: boolean;
  readonly supportsJsonType: boolean;
  /** `{name:Type}` placeholders bound by the engine. */
  readonly supportsQueryParams: boolean;
  /** `insert_deduplication_token` plus `non_replicated_deduplication_window`. */
  readonly supportsInsertDeduplicationToken: boolean;
}

export interface InsertOptions {
  /** A retried insert with the same token is ignored by the engine. */
  readonly dedupToken?: string;
}

export interface Store {
  readonly capabilities: StoreCapabilities;
  /** DDL and other statements that return nothing. */
  exec(sql: string, params?: QueryParams): Promise<void>;
  /** Reads for Igloo itself (schema introspection, tests): not restricted. */
  query<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>>;
  /**
   * Reads on behalf of a user (the query API, views): the engine refuses anything but
   * reads. Values keep their precision: 64-bit integers and decimals come back as
   * strings, timestamps as ISO-8601 UTC strings.
   */
  readOnlyQuery<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>>;
  /** Inserts newline-separated JSON objects (JSONEachRow). */
  insertJsonEachRow(table: string, body: Uint8Array, options?: InsertOptions): Promise<void>;
  listTables(): Promise<string[]>;
  describeTable(table: string): Promise<ColumnInfo[] | undefined>;
  close(): Promise<void>;
}

/** The engine rejected a statement; `engineCode` is ClickHouse's error code when known. */
export class StoreError extends Error {
  readonly code = "E_STORE";
  readonly engineCode: string | undefined;
  readonly engineType: string | undefined;
  constructor(message: string, options: { cause?: unknown; engineCode?: string; engineType?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = "StoreError";
    this.engineCode = options.engineCode;
    this.engineType = options.engineType;
  }
}
