/**
 * The production OLAP store: a ClickHouse server over HTTP(S), through
 * `@clickhouse/client`, the same client the embedded store drives.
 *
 * Everything is stateless per request: settings travel with each query (a server session
 * would pin us to one node behind a load balancer), so the read-only lock of user queries
 * is `readonly = 2` on the request itself, enforced by the server. Settings the server
 * does not know are dropped (an old server refuses a request with an unknown setting),
 * after asking `system.settings` once at connect; jsonResult.ts makes up for the output
 * settings an old server lacks.
 */
import { createClient, ClickHouseLogLevel, type ClickHouseClient } from "@clickhouse/client";
import { Readable } from "node:stream";
import { detectCapabilities } from "../capabilities.ts";
import { quoteIdent } from "../clickhouseSql.ts";
import { INSERT_SETTINGS, OUTPUT_SETTINGS } from "../querySettings.ts";
import { statementCount } from "../statements.ts";
import { StoreError, type ColumnInfo, type InsertOptions, type QueryParams, type QueryResult, type Store, type StoreCapabilities } from "../store.ts";
import { resolveConnection, type ClickHouseConnectOptions } from "./connectionOptions.ts";
import { parseJsonResult, type OutputEmulation } from "./jsonResult.ts";
import { toStoreError, type ServerTarget } from "./serverErrors.ts";

export type { ClickHouseConnectOptions, ClickHouseTlsFiles } from "./connectionOptions.ts";

type Settings = Record<string, string | number>;

/** What the adapter learnt about the server at connect, beyond the seam's capabilities. */
interface ServerFacts {
  readonly capabilities: StoreCapabilities;
  readonly knownSettings: ReadonlySet<string>;
  readonly emulation: OutputEmulation;
  /** The fields of system.columns: old servers lack `comment` and `position`. */
  readonly columnFields: ReadonlySet<string>;
}

function known(settings: Readonly<Settings>, names: ReadonlySet<string>): Settings {
  return Object.fromEntries(Object.entries(settings).filter(([name]) => names.has(name)));
}

const hasParams = (params: QueryParams | undefined): params is QueryParams => params !== undefined && Object.keys(params).length > 0;

async function selectRows(client: ClickHouseClient, sql: string, params?: Record<string, unknown>): Promise<Record<string, unknown>[]> {
  const result = await client.query({ query: sql, format: "JSON", ...(params ? { query_params: params } : {}) });
  return ((await result.json()) as { data: Record<string, unknown>[] }).data;
}

async function learnServer(client: ClickHouseClient): Promise<ServerFacts> {
  // The first statement authenticates: a wrong password fails here, not at ping.
  const knownSettings = new Set((await selectRows(client, "SELECT name FROM system.settings")).map((r) => String(r.name)));
  const capabilities = await detectCapabilities((sql, params) => selectRows(client, sql, params));
  const columnFields = new Set(
    (await selectRows(client, "SELECT name FROM system.columns WHERE database = 'system' AND table = 'columns'")).map((r) => String(r.name)),
  );
  const [zone] = await selectRows(client, "SELECT timezone() AS tz");
  return {
    capabilities,
    knownSettings,
    columnFields,
    emulation: {
      decimalsAsText: !knownSettings.has("output_format_json_quote_decimals"),
      int64AsText: !knownSettings.has("output_format_json_quote_64bit_integers"),
      isoDateTimes: !knownSettings.has("date_time_output_format"),
      serverTimezone: String(zone?.tz ?? "UTC"),
    },
  };
}

export class ClickHouseStore implements Store {
  readonly capabilities: StoreCapabilities;
  readonly #client: ClickHouseClient;
  readonly #target: ServerTarget;
  readonly #facts: ServerFacts;
  readonly #outputSettings: Settings;
  readonly #readOnlySettings: Settings;
  readonly #insertSettings: Settings;

  private constructor(client: ClickHouseClient, target: ServerTarget, facts: ServerFacts) {
    this.#client = client;
    this.#target = target;
    this.#facts = facts;
    this.capabilities = facts.capabilities;
    this.#outputSettings = known(OUTPUT_SETTINGS, facts.knownSettings);
    // `readonly = 2`, unlike 1, still lets a request set the output settings; the server
    // then refuses every write, DDL, and any change of `readonly` itself.
    this.#readOnlySettings = { ...this.#outputSettings, readonly: 2 };
    this.#insertSettings = known(INSERT_SETTINGS, facts.knownSettings);
  }

  static async connect(options: ClickHouseConnectOptions): Promise<ClickHouseStore> {
    const connection = resolveConnection(options);
    const target: ServerTarget = { url: connection.url, user: connection.user, requestTimeoutMs: connection.requestTimeoutMs };
    const client = createClient({
      url: connection.url,
      username: connection.user,
      password: connection.password,
      database: connection.database,
      request_timeout: connection.requestTimeoutMs,
      ...(connection.tls ? { tls: connection.tls } : {}),
      compression: { request: false, response: false },
      // Failures reach the caller as StoreErrors; the client's own console logging would
      // print them a second time.
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      const ping = await client.ping();
      if (!ping.success) throw ping.error;
      return new ClickHouseStore(client, target, await learnServer(client));
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
        { engineType: "UNSUPPORTED_PARAMETER" },
      );
    }
    return params as Record<string, unknown>;
  }

  async #select<Row>(sql: string, params: QueryParams | undefined, settings: Settings): Promise<QueryResult<Row>> {
    const bound = this.#bindable(params);
    try {
      const result = await this.#client.query({ query: sql, format: "JSON", clickhouse_settings: settings, ...(bound ? { query_params: bound } : {}) });
      return parseJsonResult<Row>(await result.text(), this.#facts.emulation);
    } catch (error) {
      throw toStoreError(error, "query failed", this.#target);
    }
  }

  async exec(sql: string, params?: QueryParams): Promise<void> {
    const bound = this.#bindable(params);
    try {
      await this.#client.command({ query: sql, ...(bound ? { query_params: bound } : {}) });
    } catch (error) {
      throw toStoreError(error, "statement failed", this.#target);
    }
  }

  query<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>> {
    return this.#select<Row>(sql, params, this.#outputSettings);
  }

  async readOnlyQuery<Row = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<QueryResult<Row>> {
    // The server refuses multi-statements too; counting here gives the same error as chDB.
    const statements = statementCount(sql);
    if (statements !== 1) throw new StoreError(`a query must be exactly one statement, got ${statements}`, { engineType: "SYNTAX_ERROR" });
    return this.#select<Row>(sql, params, this.#readOnlySettings);
  }

  async insertJsonEachRow(table: string, body: Uint8Array, options: InsertOptions = {}): Promise<void> {
    if (body.length === 0) return;
    const settings: Settings = { ...this.#insertSettings };
    if (options.dedupToken !== undefined && this.capabilities.supportsInsertDeduplicationToken) {
      settings.insert_deduplication_token = options.dedupToken;
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

  async listTables(): Promise<string[]> {
    const { rows } = await this.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name");
    return rows.map((r) => r.name);
  }

  async describeTable(table: string): Promise<ColumnInfo[] | undefined> {
    const has = this.#facts.columnFields;
    const fields = `table, name, type, default_expression, ${has.has("comment") ? "comment" : "'' AS comment"}`;
    // Without `position`, system.columns lists a table's columns in their declared order.
    const order = has.has("position") ? " ORDER BY table, position" : "";
    type Row = { table: string; name: string; type: string; default_expression: string; comment: string };
    // Without parameter binding the table name is matched here rather than spliced into SQL.
    const { rows } = this.capabilities.supportsQueryParams
      ? await this.query<Row>(`SELECT ${fields} FROM system.columns WHERE database = currentDatabase() AND table = {table:String}${order}`, { table })
      : await this.query<Row>(`SELECT ${fields} FROM system.columns WHERE database = currentDatabase()${order}`);
    const mine = rows.filter((r) => r.table === table);
    if (mine.length === 0) return undefined;
    return mine.map((r) => ({ name: r.name, type: r.type, defaultExpression: r.default_expression, comment: r.comment }));
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
