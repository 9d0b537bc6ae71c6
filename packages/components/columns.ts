/**
 * What a column's type says about showing it: an axis kind, numbers and instants to plot,
 * and the text of a value, all through the one type module (conventions/datamodels), as
 * the server spells the types in `GET /_igloo/views/<name>/columns`.
 */
import { displayValue, parseType } from "../../conventions/datamodels/typeFaces.ts";
import { valueType, type ColumnType } from "../../conventions/datamodels/types.ts";

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}

export type Row = Readonly<Record<string, unknown>>;

/** How values of a column are laid out on an axis. */
export type Axis = "time" | "number" | "category";

export function axisOf(type: ColumnType): Axis {
  const kind = valueType(type).kind;
  if (kind === "datetime" || kind === "date") return "time";
  return kind === "int" || kind === "float" || kind === "decimal" ? "number" : "category";
}

/** A number to plot: 64-bit integers and decimals come as digit strings, booleans count as 1 and 0. */
export function numberOf(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" && value.trim() !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** Milliseconds since the epoch: the query API sends instants in ISO-8601 UTC, dates as `YYYY-MM-DD` (UTC midnight). */
export function timeOf(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return null;
  const iso = value.includes(" ") && !/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? `${value.replace(" ", "T")}Z` : value;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** A value on its axis: an instant in ms, a number, or undefined for a category. */
export function positionOf(axis: Axis, value: unknown): number | null {
  return axis === "time" ? timeOf(value) : axis === "number" ? numberOf(value) : null;
}

/** A value as text, as the type module shows it ("" for NULL). */
export function display(column: Column | undefined, value: unknown): string {
  return column ? displayValue(column.type, value) : value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
}

const FLOAT: ColumnType = { kind: "float", bits: 64 };

/** A computed number (a sum, an average), with up to 3 fraction digits. */
export function displayNumber(value: number): string {
  return displayValue(FLOAT, value);
}

/** Columns from the server's description (`{ name, type }`, the engine's spelling of each type). */
export function readColumns(described: readonly { readonly name: string; readonly type: string }[]): Column[] {
  return described.map((c) => ({ name: c.name, type: parseType(c.type) }));
}

/** Columns guessed from the rows, when the server described none: numbers, or text. */
export function inferColumns(rows: readonly Row[]): Column[] {
  const names = new Set<string>();
  for (const row of rows.slice(0, 50)) for (const name of Object.keys(row)) names.add(name);
  return [...names].map((name) => {
    const sample = rows.find((row) => row[name] !== null && row[name] !== undefined)?.[name];
    const type: ColumnType = typeof sample === "number" ? FLOAT : { kind: "string", lowCardinality: false };
    return { name, type };
  });
}

/** Orders values of one axis kind: numbers and instants by value, text by locale; nulls last. */
export function compareValues(axis: Axis, a: unknown, b: unknown): number {
  const absent = (v: unknown) => v === null || v === undefined;
  if (absent(a) || absent(b)) return absent(a) ? (absent(b) ? 0 : 1) : -1;
  if (axis !== "category") return (positionOf(axis, a) ?? 0) - (positionOf(axis, b) ?? 0);
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  return text(a).localeCompare(text(b), undefined, { numeric: true });
}
