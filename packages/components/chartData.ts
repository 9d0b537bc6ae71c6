/**
 * Rows to what a chart plots, with no drawing in it: the x positions (instants, numbers,
 * or category indexes), one series per y column (or per value of the `series` column, and
 * y column), and stacking. Pure, so it is tested on tables of cases
 * (test/components.data.test.ts).
 */
import { axisOf, display, numberOf, positionOf, type Axis, type Column, type Row } from "./columns.ts";

export type ChartType = "line" | "area" | "bar" | "scatter";
export const CHART_TYPES: readonly ChartType[] = ["line", "area", "bar", "scatter"];

export interface ChartSpec {
  readonly type: ChartType;
  readonly stacked: boolean;
  readonly x: string | undefined;
  readonly y: readonly string[];
  readonly series: string | undefined;
}

export interface Series {
  readonly label: string;
  /** The y column it plots. */
  readonly column: Column;
  /** What is drawn: the values, or their running sums when stacked. */
  readonly values: (number | null)[];
  /** The values as the view gave them, for the legend and the accessible table. */
  readonly raw: unknown[];
}

export interface ChartData {
  readonly axis: Axis;
  readonly x: Column;
  /** Positions: ms since the epoch, numbers, or 0..n-1 for categories. Ascending. */
  readonly xs: number[];
  /** The x value shown at each position. */
  readonly labels: string[];
  readonly series: Series[];
}

const isNumeric = (column: Column) => axisOf(column.type) === "number";

function pickColumns(columns: readonly Column[], spec: ChartSpec): { x: Column; y: Column[]; series: Column | undefined } | string {
  const named = (name: string) => columns.find((c) => c.name === name);
  const names = columns.map((c) => c.name).join(", ");
  for (const name of [spec.x, spec.series, ...spec.y]) {
    if (name !== undefined && !named(name)) return `no column \`${name}\` in the view (its columns: ${names})`;
  }
  const x = spec.x !== undefined ? named(spec.x)! : (columns.find((c) => axisOf(c.type) === "time") ?? columns[0]);
  if (!x) return "the view has no columns";
  const series = spec.series === undefined ? undefined : named(spec.series);
  const y = spec.y.length > 0 ? spec.y.map((name) => named(name)!) : columns.filter((c) => c !== x && c !== series && isNumeric(c));
  if (y.length === 0) return `no numeric column to plot against \`${x.name}\`; name one in the \`y\` attribute (columns: ${names})`;
  return { x, y, series };
}

export function chartData(rows: readonly Row[], columns: readonly Column[], spec: ChartSpec): ChartData | string {
  const picked = pickColumns(columns, spec);
  if (typeof picked === "string") return picked;
  const { x, y, series } = picked;
  const axis = axisOf(x.type);
  // Each row's position once (parsing instants is the costly part for 10,000 rows), then
  // the rows in position order; categories keep the view's order.
  const placed = rows
    .map((row) => ({ row, at: axis === "category" ? 0 : positionOf(axis, row[x.name]) }))
    .filter((p): p is { row: Row; at: number } => p.at !== null);
  if (axis !== "category") placed.sort((a, b) => a.at - b.at);
  const groupOf = (row: Row) => (series === undefined ? "" : display(series, row[series.name]));
  const slots = new Map<string | number, number>();
  const labels: string[] = [];
  const xs: number[] = [];
  // A scatter plot keeps every row; other charts have one point per x (and series), the last row's.
  const slotOf = placed.map(({ row, at }, i) => {
    const key = spec.type === "scatter" ? i : axis === "category" ? display(x, row[x.name]) : at;
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = labels.length;
      slots.set(key, slot);
      labels.push(display(x, row[x.name]));
      xs.push(axis === "category" ? slot : at);
    }
    return slot;
  });

  // Series in the view's order of their first row, so ORDER BY decides the legend.
  const groups = series === undefined ? [""] : [...new Set(rows.map(groupOf))];
  const rowGroups = placed.map(({ row }) => groupOf(row));
  const out: Series[] = [];
  for (const group of groups) {
    for (const column of y) {
      const raw: unknown[] = new Array<unknown>(labels.length).fill(null);
      placed.forEach(({ row }, i) => {
        if (rowGroups[i] === group) raw[slotOf[i]!] = row[column.name];
      });
      const label = series === undefined ? column.name : y.length === 1 ? group || "(empty)" : `${group || "(empty)"} · ${column.name}`;
      out.push({ label, column, raw, values: raw.map(numberOf) });
    }
  }
  return { axis, x, xs, labels, series: spec.stacked && spec.type !== "scatter" ? stack(out) : out };
}

/** Running sums, series after series: each one is drawn from the previous one's top. */
export function stack(series: readonly Series[]): Series[] {
  const sums: number[] = [];
  return series.map((s) => ({
    ...s,
    values: s.values.map((v, i) => {
      if (v === null) return sums[i] ?? null;
      sums[i] = (sums[i] ?? 0) + v;
      return sums[i]!;
    }),
  }));
}
