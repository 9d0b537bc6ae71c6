/**
 * A schema change, planned as a diff between the models and the live tables before
 * anything runs. Each change says whether it can lose data; `igloo dev` applies the safe
 * ones at once and holds the others until told to go on, never dropping data silently.
 */
import type { FieldIR, ModelIR } from "../../conventions/datamodels/ir.ts";
import { columnDefinition, columnType, createTableSql, quoteIdent, quoteString } from "../store/clickhouseSql.ts";
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

/** An `Enum8(...)`/`Enum16(...)` inside a column type; group 2 holds its members. */
const ENUM_TYPE = /Enum(8|16)\(((?:\s*'(?:[^'\\]|\\.)*'\s*=\s*-?\d+\s*,?)*)\s*\)/;

function enumMembers(inner: string): { name: string; value: number }[] {
  return [...inner.matchAll(/'((?:[^'\\]|\\.)*)'\s*=\s*(-?\d+)/g)].map((m) => ({ name: m[1]!.replace(/\\(.)/g, "$1"), value: Number(m[2]) }));
}

/**
 * ClickHouse prints types with its own spacing; compare them without it. An enum is the
 * same type whatever numbers its values have (evolveEnum keeps a column's numbers, which
 * then differ from the positions a new table would give them): its values decide.
 */
function sameType(a: string, b: string): boolean {
  const norm = (type: string) => {
    const compact = type.replace(/\s+/g, "");
    const found = ENUM_TYPE.exec(compact);
    if (!found) return compact;
    const names = enumMembers(found[2]!).map((m) => m.name).sort();
    return `${compact.slice(0, found.index)}Enum(${names.map((n) => quoteString(n)).join(",")})${compact.slice(found.index + found[0].length)}`;
  };
  return norm(a) === norm(b);
}

/**
 * The enum type to change a column to. The engine stores an enum value as its number, and
 * a new table numbers values by position, so asking for the model's type as is would move
 * the numbers of the values after an inserted or removed one: the engine then refuses the
 * change, or reads the rows it has as other values. Values the column has keep their
 * numbers; new ones get numbers after the largest (Enum16 past 127).
 */
function evolveEnum(live: string, wanted: string): string {
  const from = ENUM_TYPE.exec(live);
  const to = ENUM_TYPE.exec(wanted);
  if (!from || !to) return wanted;
  const numbers = new Map(enumMembers(from[2]!).map((m) => [m.name, m.value]));
  let next = Math.max(0, ...numbers.values()) + 1;
  const members = enumMembers(to[2]!).map((m) => ({ name: m.name, value: numbers.get(m.name) ?? next++ }));
  const width = members.every((m) => m.value >= -128 && m.value <= 127) ? 8 : 16;
  const type = `Enum${width}(${members.map((m) => `${quoteString(m.name)} = ${m.value}`).join(", ")})`;
  return wanted.slice(0, to.index) + type + wanted.slice(to.index + to[0].length);
}

const nullable = (type: string): boolean => /^(LowCardinality\()?Nullable\(/.test(type.replace(/\s+/g, ""));

/**
 * What the NULLs of a column become when its field is made required (the engine refuses
 * the change without a DEFAULT for them): the column's DEFAULT when it has one, else the
 * field's literal @default, else the zero value of its type. A column keeps the DEFAULT
 * it was created with (the field's @default then), because rows older than the column
 * are read through it: changing it would change them.
 */
function nullReplacement(field: FieldIR, live: ColumnInfo, to: string): string {
  // Read as a value of the column's old type, then converted like the column's values (a
  // Boolean's DEFAULT `0` becomes "false" in a String, as its rows' false do, not "0").
  if (live.defaultExpression.trim() !== "") {
    const oldType = live.type.replace(/^(LowCardinality\()?Nullable\((.*)\)(\))?$/s, (_m, low: string | undefined, inner: string) => (low ? `LowCardinality(${inner})` : inner));
    return sameType(oldType, to) ? `(${live.defaultExpression})` : `CAST((${live.defaultExpression}), ${quoteString(oldType)})`;
  }
  const d = field.default;
  if (d?.kind === "literal" && d.value !== null && !Array.isArray(d.value)) {
    if (typeof d.value === "string") return quoteString(d.value);
    if (typeof d.value === "number") return String(d.value);
    if (typeof d.value === "boolean") return d.value ? "1" : "0";
  }
  switch (field.type.kind) {
    case "string":
    case "bytes":
      return "''";
    case "json":
      return field.type.native ? "'{}'" : "''";
    case "uuid":
      return "'00000000-0000-0000-0000-000000000000'";
    case "enum":
      return quoteString(field.type.values[0]!);
    default:
      return "0"; // numbers, false, 1970-01-01 (00:00:00)
  }
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
          // No IF NOT EXISTS (nor IF EXISTS below): the plan is made from the live columns
          // just before it runs, and servers before 19.x reject both as syntax errors.
          sql: `ALTER TABLE ${quoteIdent(model.table)} ADD COLUMN ${columnDefinition(field, caps)}${after}`,
          destructive: false,
          summary: `add column ${model.table}.${field.column} ${wanted}`,
        });
      } else if (!sameType(existing.type, wanted)) {
        const to = evolveEnum(existing.type, wanted);
        const nulls = nullable(existing.type) && !nullable(to) && !field.list ? nullReplacement(field, existing, to) : undefined;
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
