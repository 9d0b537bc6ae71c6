/**
 * What Igloo last created for each view, kept in the engine beside the views themselves
 * (`igloo_views`): the definition's hash, to make re-applying an unchanged view a no-op
 * and to notice a changed one, and enough of the view (kind, SQL, parameters, columns)
 * to keep serving its last good version after a restart while its file has an error.
 *
 * Rows are appended, never updated: the newest version of a name wins, and a removed
 * view gets a row with `removed = 1`. Mutations would be asynchronous; appends are not.
 */
import type { ColumnType } from "../../conventions/datamodels/types.ts";
import { parseType, typeName } from "../../conventions/datamodels/typeFaces.ts";
import type { ViewParam } from "../../conventions/views/ir.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import type { ViewColumn } from "./incremental.ts";

export type ViewKind = "plain" | "incremental" | "parameterized";

export interface ViewRecord {
  readonly name: string;
  readonly kind: ViewKind;
  readonly hash: string;
  readonly file: string;
  readonly sql: string;
  readonly params: readonly ViewParam[];
  readonly columns: readonly ViewColumn[];
}

interface Row {
  name: string;
  version: string | number;
  removed: number;
  kind: string;
  hash: string;
  file: string;
  sql: string;
  params: string;
  columns: string;
}

export const DEFAULT_STATE_TABLE = "igloo_views";

export class ViewState {
  readonly #store: Store;
  readonly #table: string;
  #version = 0;

  constructor(store: Store, table: string) {
    this.#store = store;
    this.#table = table;
  }

  /** The live records by name (creating the table on first use). */
  async load(): Promise<Map<string, ViewRecord>> {
    await this.#store.exec(
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(this.#table)} (\n` +
        "  name String, version UInt64, removed UInt8, kind String, hash String, file String, sql String, params String, columns String\n" +
        ") ENGINE = MergeTree ORDER BY (name, version)",
    );
    const { rows } = await this.#store.query<Row>(`SELECT * FROM ${quoteIdent(this.#table)} ORDER BY name, version`);
    const latest = new Map<string, Row>();
    for (const row of rows) {
      latest.set(row.name, row);
      this.#version = Math.max(this.#version, Number(row.version));
    }
    const records = new Map<string, ViewRecord>();
    for (const row of latest.values()) {
      if (Number(row.removed) === 1) continue;
      records.set(row.name, {
        name: row.name,
        kind: row.kind as ViewKind,
        hash: row.hash,
        file: row.file,
        sql: row.sql,
        params: readParams(JSON.parse(row.params) as StoredParam[]),
        columns: JSON.parse(row.columns) as ViewColumn[],
      });
    }
    return records;
  }

  save(record: ViewRecord): Promise<void> {
    return this.#append({ ...record, removed: 0, params: writeParams(record.params), columns: JSON.stringify(record.columns) });
  }

  remove(name: string): Promise<void> {
    return this.#append({ name, removed: 1, kind: "", hash: "", file: "", sql: "", params: "[]", columns: "[]" });
  }

  async #append(row: Omit<Row, "version">): Promise<void> {
    this.#version++;
    const line = JSON.stringify({ ...row, version: this.#version }) + "\n";
    await this.#store.insertJsonEachRow(this.#table, new TextEncoder().encode(line));
  }
}

/**
 * Parameters are stored with their types spelled (`[{"name":"n","type":"UInt8"}]`), as
 * every version has stored them, so processes of an older and a newer build can share the
 * table during a deploy.
 */
function writeParams(params: readonly ViewParam[]): string {
  return JSON.stringify(params.map((p) => ({ name: p.name, type: typeName(p.type) })));
}

export type StoredParam = { readonly name: string; readonly type: string | ColumnType };

/** Parameters as stored (types spelled) or as a manifest holds them (parsed). */
export function readParams(stored: readonly StoredParam[]): ViewParam[] {
  return stored.map((p) => ({ name: p.name, type: typeof p.type === "string" ? parseType(p.type) : p.type }));
}
