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

/** What differs between the view and its SELECT, or undefined when they agree. */
export function viewDiff(name: string, incremental: readonly Row[], scratch: readonly Row[]): string | undefined {
  const [a, b] = [counted(incremental), counted(scratch)];
  const only = (x: Map<string, number>, y: Map<string, number>) =>
    [...x].flatMap(([key, n]) => Array.from({ length: Math.max(0, n - (y.get(key) ?? 0)) }, () => key));
  const [extra, missing] = [only(a, b), only(b, a)];
  if (extra.length === 0 && missing.length === 0) return undefined;
  const list = (keys: string[]) => keys.slice(0, SHOWN).map((k) => `    ${k}`).join("\n") + (keys.length > SHOWN ? `\n    ... and ${keys.length - SHOWN} more` : "");
  return [
    `view \`${name}\` (incremental: ${incremental.length} rows) differs from its SELECT run from scratch (${scratch.length} rows):`,
    ...(extra.length ? [`  only in the view (${extra.length}):`, list(extra)] : []),
    ...(missing.length ? [`  only in the SELECT (${missing.length}):`, list(missing)] : []),
  ].join("\n");
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
  return new IglooError("E_VIEW_MISMATCH", problems.join("\n\n"), {
    hint: `Replayed with seed ${seed}: pass checkViews({ seed: ${seed} }) to see the same batches. An incremental view must give the same rows however its source's inserts are split.`,
  });
}
