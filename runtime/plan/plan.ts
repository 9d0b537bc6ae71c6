/**
 * A schema change, planned as a diff between the models and the live tables before
 * anything runs. Each change says whether it can lose data; `igloo dev` applies the safe
 * ones at once and holds the others until told to go on, never dropping data silently.
 */
import type { FieldIR, ModelIR } from "../../conventions/datamodels/ir.ts";
import { isNullable, mapScalar, type ColumnType } from "../../conventions/datamodels/types.ts";
import { fieldColumn } from "../../conventions/datamodels/fieldTypes.ts";
import { parseType, typeName, zeroValueSql } from "../../conventions/datamodels/typeFaces.ts";
import { columnDefinition, createTableSql, quoteIdent, quoteString } from "../store/clickhouseSql.ts";
import type { ColumnInfo, Store, StoreCapabilities } from "../store/store.ts";
import { tableOptionChanges, type TableOption, type TableOptionsPair } from "./tableOptions.ts";

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
    }
  | {
      /** A table option (runtime/plan/tableOptions.ts): TTL, codec, index, projection or setting. */
      readonly kind: "table_option";
      readonly table: string;
      readonly option: TableOption;
      /** The table (TTL), column (codec, column TTL), index, projection or setting it changes. */
      readonly name: string;
      /**
       * When it runs beside the table's column changes: `before_columns` (dropping an index
       * or projection, which a column's type change or drop may need gone) or
       * `after_columns` (what may name a column the plan adds or changes). The plan lists
       * them in that order; a caller that runs changes by kind keeps it.
       */
      readonly stage: "before_columns" | "after_columns";
      readonly sql: string;
      /** A TTL that may delete rows, or reset values, sooner than before. */
      readonly destructive: boolean;
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

/**
 * ClickHouse prints types with its own spacing; compare them without it. An enum is the
 * same type whatever numbers its values have (evolveEnum keeps a column's numbers, which
 * then differ from the positions a new table would give them): its values decide.
 */
function sameType(a: ColumnType, b: ColumnType): boolean {
  const norm = (type: ColumnType) =>
    typeName(mapScalar(type, (scalar) => (scalar.kind === "enum" ? { kind: "enum", name: "", values: [...scalar.values].sort() } : scalar))).replace(/\s+/g, "");
  return norm(a) === norm(b);
}

/**
 * The enum type to change a column to. The engine stores an enum value as its number, and
 * a new table numbers values by position, so asking for the model's type as is would move
 * the numbers of the values after an inserted or removed one: the engine then refuses the
 * change, or reads the rows it has as other values. Values the column has keep their
 * numbers; new ones get numbers after the largest (Enum16 past 127).
 */
function evolveEnum(live: ColumnType, wanted: ColumnType): ColumnType {
  let numbers: Map<string, number> | undefined;
  mapScalar(live, (scalar) => {
    if (scalar.kind === "enum") numbers = new Map(scalar.values.map((value, i) => [value, scalar.numbers?.[i] ?? i + 1]));
    return scalar;
  });
  if (numbers === undefined) return wanted;
  const known = numbers;
  return mapScalar(wanted, (scalar) => {
    if (scalar.kind !== "enum") return scalar;
    let next = Math.max(0, ...known.values()) + 1;
    const assigned = scalar.values.map((value) => known.get(value) ?? next++);
    const bits = assigned.every((n) => n >= -128 && n <= 127) ? 8 : 16;
    return { ...scalar, numbers: assigned, bits };
  });
}

/**
 * What the NULLs of a column become when its field is made required (the engine refuses
 * the change without a DEFAULT for them): the column's DEFAULT when it has one, else the
 * field's literal @default, else the zero value of its type. A column keeps the DEFAULT
 * it was created with (the field's @default then), because rows older than the column
 * are read through it: changing it would change them.
 */
function nullReplacement(field: FieldIR, live: ColumnInfo, to: ColumnType): string {
  // Read as a value of the column's old type, then converted like the column's values (a
  // Boolean's DEFAULT `0` becomes "false" in a String, as its rows' false do, not "0").
  if (live.defaultExpression.trim() !== "") {
    const liveType = parseType(live.type);
    const oldType =
      liveType.kind === "nullable" ? liveType.of : liveType.kind === "lowCardinality" && liveType.of.kind === "nullable" ? { ...liveType, of: liveType.of.of } : liveType;
    return sameType(oldType, to) ? `(${live.defaultExpression})` : `CAST((${live.defaultExpression}), ${quoteString(typeName(oldType))})`;
  }
  const d = field.default;
  if (d?.kind === "literal" && d.value !== null && !Array.isArray(d.value)) {
    if (typeof d.value === "string") return quoteString(d.value);
    if (typeof d.value === "number") return String(d.value);
    if (typeof d.value === "boolean") return d.value ? "1" : "0";
  }
  return zeroValueSql(field.type);
}

/**
 * `options` holds the live and wanted table options of the tables that have any
 * (readTableOptions): without it, table options are left as they are. A table's changes
 * run in this order: index and projection drops, column adds and type changes, TTLs,
 * codecs and settings, index and projection adds, column drops.
 */
export function planModels(
  models: readonly ModelIR[],
  live: ReadonlyMap<string, readonly ColumnInfo[]>,
  caps: StoreCapabilities,
  options: ReadonlyMap<string, TableOptionsPair> = new Map(),
): Plan {
  const changes: Change[] = [];
  for (const model of models) {
    const columns = live.get(model.table);
    if (!columns) {
      changes.push({ kind: "create_table", table: model.table, sql: createTableSql(model, caps), destructive: false, summary: `create table ${model.table}` });
      continue;
    }
    const byName = new Map(columns.map((c) => [c.name, c]));
    const pair = options.get(model.table);
    const { before, after } = pair === undefined ? { before: [], after: [] } : tableOptionChanges(model, pair, new Set(byName.keys()));
    changes.push(...before);
    let previous: string | undefined;
    for (const field of model.fields) {
      const existing = byName.get(field.column);
      const wanted = fieldColumn(field, caps);
      if (!existing) {
        const after = previous === undefined ? " FIRST" : ` AFTER ${quoteIdent(previous)}`;
        changes.push({
          kind: "add_column",
          table: model.table,
          column: field.column,
          // No IF NOT EXISTS (nor IF EXISTS below): the plan is made from the live columns
          // just before it runs, and servers before 19.x reject both as syntax errors.
          sql: `ALTER TABLE ${quoteIdent(model.table)} ADD COLUMN ${columnDefinition(field, caps)}${after}`,
          destructive: false,
          summary: `add column ${model.table}.${field.column} ${typeName(wanted)}`,
        });
      } else if (!sameType(parseType(existing.type), wanted)) {
        const toType = evolveEnum(parseType(existing.type), wanted);
        const to = typeName(toType);
        const nulls = isNullable(parseType(existing.type)) && !isNullable(toType) && !field.list ? nullReplacement(field, existing, toType) : undefined;
        changes.push({
          kind: "modify_column",
          table: model.table,
          column: field.column,
          from: existing.type,
          to,
          // The DEFAULT is cast to the column's type: the engine fills NULLs with
          // ifNull(column, default), which compares an enum with a plain string as text and
          // fails on the NULL rows (their enum number is 0), leaving the table unreadable.
          sql: `ALTER TABLE ${quoteIdent(model.table)} MODIFY COLUMN ${quoteIdent(field.column)} ${to}${nulls === undefined ? "" : ` DEFAULT CAST(${nulls} AS ${to})`}`,
          destructive: true,
          summary: `change ${model.table}.${field.column} from ${existing.type} to ${to} (rewrites the column; values that do not convert fail or are lost${nulls === undefined ? "" : `; NULLs become ${existing.defaultExpression.trim() !== "" ? `the column's DEFAULT (${existing.defaultExpression}), converted` : nulls}`})`,
        });
      }
      previous = field.column;
    }
    changes.push(...after);
    const wantedColumns = new Set(model.fields.map((f) => f.column));
    for (const column of columns) {
      if (wantedColumns.has(column.name)) continue;
      changes.push({
        kind: "drop_column",
        table: model.table,
        column: column.name,
        sql: `ALTER TABLE ${quoteIdent(model.table)} DROP COLUMN ${quoteIdent(column.name)}`,
        destructive: true,
        summary: `drop column ${model.table}.${column.name} (its data is deleted; to rename a field instead, keep @map("${column.name}") on it)`,
      });
    }
  }
  return { changes };
}
