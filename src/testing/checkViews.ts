/**
 * `pipeline.checkViews()`: every incremental view must equal its own SELECT run from
 * scratch. A materialized view sees the data one insert at a time, so a view that
 * aggregates in a way that does not merge (a non-mergeable function, a WHERE that reads
 * the target, a state that depends on order) agrees with its SELECT for some batchings
 * and not others. So the check runs twice: on the pipeline as the test filled it, and on
 * a fresh pipeline fed the same records again in random batches (seeded, interleaving the
 * models), through the functions again.
 */
import { IglooError } from "../../conventions/errors.ts";

type Row = Record<string, unknown>;

export interface ViewCheckTarget {
  /** Names of the incremental views. */
  incremental(): string[];
  /** The view's SELECT as its file holds it. */
  sql(name: string): string;
  view(name: string): Promise<Row[]>;
  query(sql: string): Promise<Row[]>;
}

/** The same value, however the engine summed it: floats agree to 12 significant digits. */
function canonical(value: unknown): unknown {
  if (typeof value === "number" && !Number.isInteger(value)) return Number(value.toPrecision(12));
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]));
  return value;
}

/** Rows as a multiset: their canonical JSON, counted. */
function counted(rows: readonly Row[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) {
    const key = JSON.stringify(canonical(row));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const SHOWN = 10;
const CELL = 24;

/**
 * What differs between the view and its SELECT, or undefined when they agree: the rows of
 * each side that the other lacks, side by side, each row of the view next to the row from
 * scratch it has most values in common with, and the values that differ marked `*`.
 */
export function viewDiff(name: string, incremental: readonly Row[], scratch: readonly Row[]): string | undefined {
  const [a, b] = [counted(incremental), counted(scratch)];
  const only = (x: Map<string, number>, y: Map<string, number>) =>
    [...x].flatMap(([key, n]) => Array.from({ length: Math.max(0, n - (y.get(key) ?? 0)) }, () => JSON.parse(key) as Row));
  const [extra, missing] = [only(a, b), only(b, a)];
  if (extra.length === 0 && missing.length === 0) return undefined;
  const pairs = pair(extra, missing);
  const shown = pairs.slice(0, SHOWN);
  return [
    `view \`${name}\` (incremental: ${incremental.length} rows) differs from its SELECT run from scratch (${scratch.length} rows): ${extra.length} only in the view, ${missing.length} only in the SELECT`,
    ...sideBySide(shown, columnsOf([...incremental, ...scratch])),
    ...(pairs.length > SHOWN ? [`  ... and ${pairs.length - SHOWN} more`] : []),
  ].join("\n");
}

type Pair = readonly [Row | undefined, Row | undefined];

function columnsOf(rows: readonly Row[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) names.add(key);
  return [...names];
}

/** Each row of the view with the unpaired SELECT row that shares most of its values (greedy), then the leftovers. */
function pair(extra: readonly Row[], missing: readonly Row[]): Pair[] {
  const free = [...missing];
  const shared = (x: Row, y: Row) => Object.keys(x).filter((k) => JSON.stringify(x[k]) === JSON.stringify(y[k])).length;
  const pairs: Pair[] = extra.map((row) => {
    let best = -1;
    for (let i = 0, most = 0; i < free.length; i++) {
      const n = shared(row, free[i]!);
      if (n > most) [best, most] = [i, n];
    }
    return [row, best < 0 ? undefined : free.splice(best, 1)[0]];
  });
  return [...pairs, ...free.map((row): Pair => [undefined, row])];
}

function cell(row: Row | undefined, column: string, other: Row | undefined): string {
  if (row === undefined) return "";
  const value = row[column];
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? "";
  const clipped = text.length > CELL ? `${text.slice(0, CELL - 1)}…` : text;
  return other !== undefined && JSON.stringify(value) !== JSON.stringify(other[column]) ? `${clipped}*` : clipped;
}

/** The two sides as aligned columns: the view on the left, the SELECT from scratch on the right. */
function sideBySide(pairs: readonly Pair[], columns: readonly string[]): string[] {
  const side = (index: 0 | 1) => [columns, ...pairs.map((p) => columns.map((c) => cell(p[index], c, p[1 - index])))];
  const widths = columns.map((c, i) => Math.max(...[...side(0), ...side(1)].map((cells) => cells[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((text, i) => text.padEnd(widths[i]!)).join("  ");
  const [left, right] = [side(0).map(line), side(1).map(line)];
  const width = Math.max("incremental view".length, "(no such row)".length, ...left.map((l) => l.length));
  const row = (l: string, r: string) => `    ${l.padEnd(width)} | ${r}`.trimEnd();
  const blank = (cells: string) => (cells.trim() === "" ? "(no such row)" : cells);
  return [row("incremental view", "SELECT from scratch"), ...left.map((l, i) => row(i === 0 ? l : blank(l), i === 0 ? right[i]! : blank(right[i]!)))];
}

/** The differences of every incremental view of `target`, each as viewDiff words it. */
export async function viewDiffs(target: ViewCheckTarget, when: string): Promise<string[]> {
  const problems: string[] = [];
  for (const name of target.incremental()) {
    const problem = viewDiff(name, await target.view(name), await target.query(target.sql(name)));
    if (problem !== undefined) problems.push(`${problem}\n  (${when})`);
  }
  return problems;
}

/** Splits records into batches of random sizes (1 to `max`), keeping their order. */
export function randomBatches<T>(records: readonly T[], next: () => number, max: number): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < records.length; ) {
    const size = 1 + Math.floor(next() * max);
    batches.push(records.slice(i, i + size));
    i += size;
  }
  return batches;
}

export function mismatch(problems: readonly string[], seed: number): IglooError {
  // The hint follows on a line of its own, under the tables.
  return new IglooError("E_VIEW_MISMATCH", `${problems.join("\n\n")}\n`, {
    hint: `Replayed with seed ${seed}: pass checkViews({ seed: ${seed} }) to see the same batches. An incremental view must give the same rows however its source's inserts are split.`,
  });
}
