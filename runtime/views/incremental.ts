/**
 * Incremental views, the ClickHouse way: a simple aggregation over a model table is kept
 * up to date at insert time instead of being recomputed at every query.
 *
 *   igloo_view_<name>   AggregatingMergeTree ORDER BY (keys): one column per key and one
 *                       AggregateFunction(f, T) column per aggregate, holding states.
 *   igloo_mv_<name>     materialized view TO that table: the user's SELECT with each f(x)
 *                       replaced by fState(x), run on every block inserted into the table.
 *   <name>              the view users query: SELECT keys, fMerge(col) ... GROUP BY keys.
 *
 * Why states: a materialized view only sees one insert block at a time. `count()` per
 * block summed later happens to work, but `avg` or `uniq` per block cannot be combined
 * into the right answer. Partial aggregation states can, and merging the states of any
 * split of the rows gives exactly the from-scratch result (fMerge is the same code path
 * the engine uses to combine its own parallel threads).
 *
 * The MV is named igloo_mv_<name> rather than igloo_view_<name>_mv: the latter is also
 * the target table of a view called `<name>_mv`.
 *
 * Correctness first: the rewrite is only planned for the shape aggregation.ts recognises,
 * over a model table on plain MergeTree (ReplacingMergeTree drops duplicates at merge
 * time, which the states would never see), with deterministic expressions, and only when
 * the merged view's columns have exactly the original query's names and types.
 * Everything else stays a plain view, which is always equal to a from-scratch run.
 */
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import type { ViewIR } from "../../conventions/views/ir.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import { analyzeAggregation, vetExpressions } from "./aggregation.ts";
import { dedupWindow, type DedupMode } from "./dedupProbe.ts";

export interface ViewColumn {
  readonly name: string;
  readonly type: string;
}

export interface IncrementalPlan {
  readonly table: string;
  readonly target: string;
  readonly mv: string;
  readonly createTarget: string;
  readonly createMv: string;
  readonly backfill: string;
  /** The SELECT the user-facing view runs over the target table. */
  readonly mergeSelect: string;
}

/** What the planner needs to know about the engine, fetched once per apply. */
export interface EngineCatalog {
  /** Whether a function is deterministic and not an aggregate, by the engine's catalogue. */
  readonly deterministic: (fn: string) => boolean;
  /** How a target table must deduplicate to agree with its source (dedupProbe.ts). */
  readonly dedupMode: () => Promise<DedupMode>;
}

export const targetTable = (view: string): string => `igloo_view_${view}`;
export const materializedView = (view: string): string => `igloo_mv_${view}`;
const EXTRA_KEY = (i: number): string => `igloo_key_${i}`;

/** Asks the engine which functions are deterministic; an engine that can't say gets none. */
export async function loadCatalog(store: Store, dedupMode: () => Promise<DedupMode>): Promise<EngineCatalog> {
  let rows: { name: string; case_insensitive: number }[] = [];
  try {
    rows = (await store.query<{ name: string; case_insensitive: number }>(
      "SELECT name, case_insensitive FROM system.functions WHERE deterministic = 1 AND is_aggregate = 0",
    )).rows;
  } catch {
    // Servers without system.functions.deterministic: nothing with a function call is
    // rewritten; views still work, as plain views.
  }
  const exact = new Set(rows.map((r) => r.name));
  const folded = new Set(rows.filter((r) => Number(r.case_insensitive) === 1).map((r) => r.name.toLowerCase()));
  return { deterministic: (fn) => exact.has(fn) || folded.has(fn.toLowerCase()), dedupMode };
}

/**
 * The incremental plan for a view, or why it stays plain. `columns` is the engine's
 * description of the original query, which the merged view must reproduce; `models`
 * are the model tables by table name.
 */
export async function planIncremental(
  store: Store,
  view: ViewIR,
  columns: readonly ViewColumn[],
  models: ReadonlyMap<string, ModelIR>,
  catalog: EngineCatalog,
): Promise<IncrementalPlan | { reason: string }> {
  if (view.params.length > 0) return { reason: "it has parameters" };
  const shape = analyzeAggregation(view.sql);
  if ("reason" in shape) return shape;
  const model = models.get(shape.table);
  if (model === undefined) return { reason: `\`${shape.table}\` is not a model table` };
  if (model.engine.kind !== "MergeTree") return { reason: `${model.table} is a ${model.engine.kind}, whose merges remove rows the states would still count` };
  const live = await store.describeTable(shape.table);
  if (live === undefined) return { reason: `table ${shape.table} does not exist yet` };
  const problem = vetExpressions(shape, new Set(live.map((c) => c.name)), catalog.deterministic);
  if (problem !== undefined) return { reason: problem };
  const settings: string[] = [];
  const window = await dedupWindow(store, shape.table);
  if (window > 0) {
    const mode = await catalog.dedupMode();
    if (mode === "unsafe") return { reason: "this engine's materialized views do not drop replayed inserts the way their source table does" };
    if (mode === "mirror") settings.push(`non_replicated_deduplication_window = ${window}`);
  }

  const names = columns.map((c) => c.name);
  if (names.length !== shape.items.length || new Set(names).size !== names.length) return { reason: "its result columns are not one per select item, uniquely named" };
  if (names.some((n) => n.toLowerCase().startsWith("igloo_"))) return { reason: "a result column uses Igloo's reserved prefix igloo_" };

  // The MV query is the user's own text with f(x) -> fState(x) and every aggregate named
  // after its result column; keys (and their aliases) stay exactly as written, so every
  // name resolves in the MV as it does in the original query.
  const selectList = shape.items.map((item, i) =>
    item.kind === "key" ? item.text : `${item.fn}State(${item.arg ?? ""}) AS ${quoteIdent(names[i]!)}`,
  );
  shape.extraKeys.forEach((key, i) => selectList.push(`${key} AS ${EXTRA_KEY(i)}`));
  const stateSelect = `SELECT ${selectList.join(", ")}\n${shape.rest}`;

  let stateColumns: ViewColumn[];
  try {
    stateColumns = await describe(store, stateSelect);
  } catch (error) {
    return { reason: `the engine cannot run the rewritten query: ${(error as Error).message}` };
  }
  const expected = [...names, ...shape.extraKeys.map((_, i) => EXTRA_KEY(i))];
  if (stateColumns.map((c) => c.name).join("\0") !== expected.join("\0")) return { reason: "the rewritten query names its columns differently" };

  const keyColumns = stateColumns.filter((_, i) => i >= shape.items.length || shape.items[i]!.kind === "key");
  const target = targetTable(view.name);
  const mv = materializedView(view.name);
  const orderBy = keyColumns.map((c) => quoteIdent(c.name)).join(", ");
  if (keyColumns.some((c) => c.type.includes("Nullable("))) settings.push("allow_nullable_key = 1");
  const createTarget =
    `CREATE TABLE ${quoteIdent(target)} (\n${stateColumns.map((c) => `  ${quoteIdent(c.name)} ${c.type}`).join(",\n")}\n)\n` +
    `ENGINE = AggregatingMergeTree\nORDER BY (${orderBy})${settings.length > 0 ? `\nSETTINGS ${settings.join(", ")}` : ""}`;
  const columnList = stateColumns.map((c) => quoteIdent(c.name)).join(", ");
  const mergeList = shape.items.map((item, i) => {
    const column = quoteIdent(names[i]!);
    return item.kind === "key" ? column : `${item.fn}Merge(${column}) AS ${column}`;
  });
  return {
    table: shape.table,
    target,
    mv,
    createTarget,
    createMv: `CREATE MATERIALIZED VIEW ${quoteIdent(mv)} TO ${quoteIdent(target)} AS\n${stateSelect}`,
    backfill: `INSERT INTO ${quoteIdent(target)} (${columnList})\n${stateSelect}`,
    mergeSelect: `SELECT ${mergeList.join(", ")}\nFROM ${quoteIdent(target)}\nGROUP BY ${orderBy}`,
  };
}

/**
 * Builds the target table, the MV and the backfill, then points the view at the merged
 * states. The caller has already made `<name>` a plain view of the same query, so users
 * get right answers throughout; on any failure the partial objects are dropped and the
 * plain view stays.
 *
 * Backfill, exactly once: rows inserted before the MV exists must be aggregated by the
 * backfill INSERT ... SELECT, rows inserted after by the MV, and no row by both or
 * neither. The table is only written by Igloo's table writer, so the writer of that one
 * table is paused (its in-flight insert finished) while the MV is created and the
 * backfill reads the table: every row is then either before both steps or after both.
 * Inserts the writer replays after a crash are dropped by the target table as by the
 * model table, since the target deduplicates like its source (dedupProbe.ts).
 */
export async function buildIncremental(
  store: Store,
  view: ViewIR,
  plan: IncrementalPlan,
  originalColumns: readonly ViewColumn[],
  pauseWriter: (table: string) => Promise<() => Promise<void>>,
): Promise<void> {
  await dropIncrementalObjects(store, view.name);
  try {
    await store.exec(plan.createTarget);
    const merged = await describe(store, plan.mergeSelect);
    if (!sameColumns(merged, originalColumns)) {
      throw new Error(`the merged view would answer ${formatColumns(merged)} instead of ${formatColumns(originalColumns)}`);
    }
    const resume = await pauseWriter(plan.table);
    try {
      await store.exec(plan.createMv);
      await store.exec(plan.backfill);
    } finally {
      await resume();
    }
    await store.exec(`CREATE OR REPLACE VIEW ${quoteIdent(view.name)} AS\n${plan.mergeSelect}`);
  } catch (error) {
    await dropIncrementalObjects(store, view.name);
    throw error;
  }
}

/** The MV first, so nothing is written into a table being dropped. */
export async function dropIncrementalObjects(store: Store, name: string): Promise<void> {
  await store.exec(`DROP TABLE IF EXISTS ${quoteIdent(materializedView(name))} SYNC`);
  await store.exec(`DROP TABLE IF EXISTS ${quoteIdent(targetTable(name))} SYNC`);
}

export async function describe(store: Store, select: string, params?: Readonly<Record<string, unknown>>): Promise<ViewColumn[]> {
  // The newline keeps a trailing `--` comment from swallowing the parenthesis.
  // The project's own SQL, described (not run) by Igloo's session.
  const { rows } = await store.query<{ name: string; type: string }>(`DESCRIBE (\n${select}\n)`, params);
  return rows.map((r) => ({ name: r.name, type: r.type }));
}

function sameColumns(a: readonly ViewColumn[], b: readonly ViewColumn[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i]!.name && c.type === b[i]!.type);
}

function formatColumns(columns: readonly ViewColumn[]): string {
  return `(${columns.map((c) => `${c.name} ${c.type}`).join(", ")})`;
}
