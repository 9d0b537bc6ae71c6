/**
 * Rows to one figure: the value column aggregated (`last` by default: the newest row, in
 * the view's order or by `x`), what it is compared with, and the points of a sparkline.
 * Pure, tested in test/components.data.test.ts.
 */
import { axisOf, compareValues, display, displayNumber, numberOf, type Column, type Row } from "./columns.ts";

export type KpiAggregate = "last" | "first" | "sum" | "avg" | "min" | "max" | "count";
export const KPI_AGGREGATES: readonly KpiAggregate[] = ["last", "first", "sum", "avg", "min", "max", "count"];

export interface KpiSpec {
  readonly value: string | undefined;
  readonly aggregate: KpiAggregate;
  readonly x: string | undefined;
  /** A column aggregated alike, or `previous`: the row before the last (after the first). */
  readonly compare: string | undefined;
}

export interface Figure {
  readonly value: number | null;
  readonly text: string;
}

export interface Kpi {
  readonly column: Column;
  readonly figure: Figure;
  readonly compared: Figure | undefined;
  /** (value - compared) / |compared|; null when there is nothing to divide by. */
  readonly change: number | null;
  /** The value column over the rows, in order, for the sparkline. */
  readonly points: readonly (number | null)[];
}

function aggregate(rows: readonly Row[], column: Column, how: KpiAggregate): Figure {
  const raw = rows.map((row) => row[column.name]);
  if (how === "count") return { value: rows.length, text: displayNumber(rows.length) };
  if (how === "first" || how === "last") {
    const value = how === "first" ? raw[0] : raw[raw.length - 1];
    return { value: numberOf(value), text: display(column, value) };
  }
  const numbers = raw.map(numberOf).filter((n): n is number => n !== null);
  if (numbers.length === 0) return { value: null, text: "—" };
  if (how === "min" || how === "max") {
    const pick = how === "min" ? Math.min(...numbers) : Math.max(...numbers);
    return { value: pick, text: display(column, raw.find((v) => numberOf(v) === pick)) };
  }
  const sum = numbers.reduce((a, b) => a + b, 0);
  const value = how === "sum" ? sum : sum / numbers.length;
  return { value, text: displayNumber(value) };
}

export function kpiData(rows: readonly Row[], columns: readonly Column[], spec: KpiSpec): Kpi | string {
  const names = columns.map((c) => c.name).join(", ");
  const named = (name: string) => columns.find((c) => c.name === name);
  if (spec.value === undefined) return `no value: name the column to show in the \`value\` attribute (columns: ${names})`;
  for (const name of [spec.value, spec.x, spec.compare === "previous" ? undefined : spec.compare]) {
    if (name !== undefined && !named(name)) return `no column \`${name}\` in the view (its columns: ${names})`;
  }
  const column = named(spec.value)!;
  const order = spec.x === undefined ? undefined : named(spec.x)!;
  const ordered = order ? [...rows].sort((a, b) => compareValues(axisOf(order.type), a[order.name], b[order.name])) : rows;
  const figure = aggregate(ordered, column, spec.aggregate);
  let compared: Figure | undefined;
  if (spec.compare === "previous") {
    if (spec.aggregate !== "last" && spec.aggregate !== "first") return "`compare=\"previous\"` compares one row with the one before it: use it with aggregate `last` or `first`";
    const rest = spec.aggregate === "last" ? ordered.slice(0, -1) : ordered.slice(1);
    compared = rest.length > 0 ? aggregate(rest, column, spec.aggregate) : undefined;
  } else if (spec.compare !== undefined) {
    compared = aggregate(ordered, named(spec.compare)!, spec.aggregate);
  }
  const change = compared?.value === null || compared?.value === undefined || compared.value === 0 || figure.value === null ? null : (figure.value - compared.value) / Math.abs(compared.value);
  return { column, figure, compared, change, points: ordered.map((row) => numberOf(row[column.name])) };
}
