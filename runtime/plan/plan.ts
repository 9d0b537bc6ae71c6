/**
 * A schema change, planned as a diff between the models and the live tables before
 * anything runs. Each change says whether it can lose data; `igloo dev` applies the safe
 * ones at once and holds the others until told to go on, never dropping data silently.
 */
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { columnDefinition, columnType, createTableSql, quoteIdent } from "../store/clickhouseSql.ts";
import type { ColumnInfo, Store, StoreCapabilities } from "../store/store.ts";

export type Change =
  | { readonly kind: "create_table"; readonly table: string; readonly sql: string; readonly destructive: false; readonly summary: string }
  | { readonly kind: "add_column"; readonly table: string; readonly column: string; readonly sql: string; readonly destructive: false; readonly summary: string }
  | { readonly kind: "drop_column"; readonly table: string; readonly column: string; readonly sql: string; readonly destructive: true; readonly summary: string }
  | {
      readonly kind: "modify_column";
      readonly table: string;
      readonly column: string;
      readonly from: string;
      readonly to: string;
      readonly sql: string;
      readonly destructive: true;
      readonly summary: string;
    };

export interface Plan {
  readonly changes: readonly Change[];
}

/** The live columns of those of `tables` that exist. */
export async function liveColumns(store: Store, tables: readonly string[]): Promise<Map<string, ColumnInfo[]>> {
  const live = new Map<string, ColumnInfo[]>();
  for (const table of tables) {
    const columns = await store.describeTable(table);
    if (columns) live.set(table, columns);
  }
  return live;
}

/** ClickHouse prints types with its own spacing; compare them without it. */
function sameType(a: string, b: string): boolean {
  return a.replace(/\s+/g, "") === b.replace(/\s+/g, "");
}

export function planModels(
  models: readonly ModelIR[],
  live: ReadonlyMap<string, readonly ColumnInfo[]>,
  caps: StoreCapabilities,
): Plan {
  const changes: Change[] = [];
  for (const model of models) {
    const columns = live.get(model.table);
    if (!columns) {
      changes.push({ kind: "create_table", table: model.table, sql: createTableSql(model, caps), destructive: false, summary: `create table ${model.table}` });
      continue;
    }
    const byName = new Map(columns.map((c) => [c.name, c]));
    let previous: string | undefined;
    for (const field of model.fields) {
      const existing = byName.get(field.column);
      const wanted = columnType(field, caps);
      if (!existing) {
        const after = previous === undefined ? " FIRST" : ` AFTER ${quoteIdent(previous)}`;
        changes.push({
          kind: "add_column",
          table: model.table,
          column: field.column,
          sql: `ALTER TABLE ${quoteIdent(model.table)} ADD COLUMN IF NOT EXISTS ${columnDefinition(field, caps)}${after}`,
          destructive: false,
          summary: `add column ${model.table}.${field.column} ${wanted}`,
        });
      } else if (!sameType(existing.type, wanted)) {
        changes.push({
          kind: "modify_column",
          table: model.table,
          column: field.column,
          from: existing.type,
          to: wanted,
          sql: `ALTER TABLE ${quoteIdent(model.table)} MODIFY COLUMN ${quoteIdent(field.column)} ${wanted}`,
          destructive: true,
          summary: `change ${model.table}.${field.column} from ${existing.type} to ${wanted} (rewrites the column; values that do not convert fail or are lost)`,
        });
      }
      previous = field.column;
    }
    const wantedColumns = new Set(model.fields.map((f) => f.column));
    for (const column of columns) {
      if (wantedColumns.has(column.name)) continue;
      changes.push({
        kind: "drop_column",
        table: model.table,
        column: column.name,
        sql: `ALTER TABLE ${quoteIdent(model.table)} DROP COLUMN IF EXISTS ${quoteIdent(column.name)}`,
        destructive: true,
        summary: `drop column ${model.table}.${column.name} (its data is deleted; to rename a field instead, keep @map("${column.name}") on it)`,
      });
    }
  }
  return { changes };
}
