/**
 * What tables and columns the project's database holds, read from the engine's system
 * tables over the seam's own `query`, once for every store (as Kysely builds its
 * introspector on `executeQuery`): the stores' `listTables` and `describeTable` are these.
 *
 * Servers differ in what they can answer, and that is asked, not assumed: old servers'
 * `system.columns` has no `comment` or `position`, and servers that cannot bind
 * parameters get the table's name matched here rather than spliced into SQL.
 */
import { quoteIdent } from "./clickhouseSql.ts";
import type { ColumnInfo, Store } from "./store.ts";

type Introspected = Pick<Store, "query" | "capabilities">;

/** The fields of each store's `system.columns`, asked once. */
const columnFieldsOf = new WeakMap<Introspected, Promise<ReadonlySet<string>>>();

function columnFields(store: Introspected): Promise<ReadonlySet<string>> {
  let fields = columnFieldsOf.get(store);
  if (fields === undefined) {
    fields = store
      .query<{ name: string }>("SELECT name FROM system.columns WHERE database = 'system' AND table = 'columns'")
      .then(({ rows }) => new Set(rows.map((r) => r.name)));
    // A failure (the engine away for a moment) is not remembered: the next call asks again.
    fields.catch(() => columnFieldsOf.delete(store));
    columnFieldsOf.set(store, fields);
  }
  return fields;
}

/** The tables (and views) of the store's database, by name. */
export async function listTables(store: Introspected): Promise<string[]> {
  const { rows } = await store.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name");
  return rows.map((r) => r.name);
}

/** A table's columns in their declared order; undefined when there is no such table. */
export async function describeTable(store: Introspected, table: string): Promise<ColumnInfo[] | undefined> {
  const has = await columnFields(store);
  const fields = `table, name, type, default_expression, ${has.has("comment") ? "comment" : "'' AS comment"}`;
  // Without `position`, system.columns lists a table's columns in their declared order.
  const order = has.has("position") ? " ORDER BY table, position" : "";
  type Row = { table: string; name: string; type: string; default_expression: string; comment: string };
  const { rows } = store.capabilities.supportsQueryParams
    ? await store.query<Row>(`SELECT ${fields} FROM system.columns WHERE database = currentDatabase() AND table = {table:String}${order}`, { table })
    : await store.query<Row>(`SELECT ${fields} FROM system.columns WHERE database = currentDatabase()${order}`);
  const mine = rows.filter((r) => r.table === table);
  if (mine.length === 0) return undefined;
  return mine.map((r) => ({ name: r.name, type: r.type, defaultExpression: r.default_expression, comment: r.comment }));
}

/**
 * The engine's CREATE TABLE statement of each of `tables` that exists, by name: from
 * `system.tables.create_table_query`, or `SHOW CREATE TABLE` on a server without that
 * column. What runtime/store/tableDefinition.ts reads table options from.
 */
export async function createStatements(store: Introspected, tables: readonly string[]): Promise<Map<string, string>> {
  const wanted = new Set(tables);
  const statements = new Map<string, string>();
  if (wanted.size === 0) return statements;
  type Row = { name: string; create_table_query: string };
  let rows: Row[] | undefined;
  try {
    ({ rows } = store.capabilities.supportsQueryParams
      ? await store.query<Row>("SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() AND has({tables:Array(String)}, name)", { tables: [...wanted] })
      : await store.query<Row>("SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase()"));
  } catch {
    rows = undefined;
  }
  if (rows !== undefined) {
    for (const row of rows) if (wanted.has(row.name) && row.create_table_query !== "") statements.set(row.name, row.create_table_query);
    return statements;
  }
  const existing = new Set(await listTables(store));
  for (const table of wanted) {
    if (!existing.has(table)) continue;
    const { rows: shown } = await store.query<{ statement: string }>(`SHOW CREATE TABLE ${quoteIdent(table)}`);
    if (shown[0] !== undefined) statements.set(table, shown[0].statement);
  }
  return statements;
}
