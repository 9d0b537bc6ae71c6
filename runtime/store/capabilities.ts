/**
 * What an engine can do, asked of the engine itself (its system tables, and for table
 * options a throwaway table), so adapters branch on capabilities and never on an
 * engine's name or a hard-coded version list.
 */
import { randomBytes } from "node:crypto";
import type { StoreCapabilities } from "./store.ts";

type Query = (sql: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>[]>;
/** Runs a statement that returns nothing (DDL), for the probes that need a table. */
type Exec = (sql: string) => Promise<void>;

type TableOptionFlags = Pick<StoreCapabilities, "supportsTableTtl" | "supportsColumnTtl" | "supportsCodecs" | "supportsSkipIndexes" | "supportsProjections">;

/** Each option as a throwaway table would carry it: columns and elements, then clauses after ORDER BY. */
const OPTION_PROBES: Record<keyof TableOptionFlags, { readonly column?: string; readonly element?: string; readonly clause?: string }> = {
  supportsTableTtl: { clause: "TTL ts + INTERVAL 1 DAY" },
  supportsColumnTtl: { column: "t String TTL ts + INTERVAL 1 DAY" },
  supportsCodecs: { column: "c String CODEC(LZ4)" },
  supportsSkipIndexes: { element: "INDEX probe_index v TYPE minmax GRANULARITY 1" },
  supportsProjections: { element: "PROJECTION probe_projection (SELECT v, count() GROUP BY v)" },
};

/**
 * Whether the engine takes each table option, by creating (and dropping) a throwaway table
 * with it: parsing is where old servers fail (18.16 knows none of them), and a setting can
 * hold an option back (data-skipping indexes on 19.x), so asking the engine to do it is the
 * one answer that holds on every server. One table with all options first, which a current
 * engine takes in one statement; only when it fails, one table per option. That the ALTER
 * forms the plan uses (MODIFY/REMOVE TTL, ADD/DROP/MATERIALIZE INDEX and PROJECTION,
 * MODIFY COLUMN ... CODEC) come with them is assumed: a server between 19.6 and 21.x that
 * has an option but lacks one of its ALTERs refuses that change when it is applied.
 */
async function probeTableOptions(exec: Exec): Promise<TableOptionFlags> {
  const kinds = Object.keys(OPTION_PROBES) as (keyof TableOptionFlags)[];
  const tryTable = async (options: readonly (keyof TableOptionFlags)[]): Promise<boolean> => {
    const table = `igloo_probe_${randomBytes(6).toString("hex")}`;
    const probes = options.map((kind) => OPTION_PROBES[kind]);
    const elements = ["id UInt64", "ts DateTime", "v String", ...probes.flatMap((p) => (p.column === undefined ? [] : [p.column])), ...probes.flatMap((p) => (p.element === undefined ? [] : [p.element]))];
    const clauses = probes.flatMap((p) => (p.clause === undefined ? [] : [` ${p.clause}`])).join("");
    try {
      await exec(`CREATE TABLE ${table} (${elements.join(", ")}) ENGINE = MergeTree() ORDER BY id${clauses}`);
      return true;
    } catch {
      return false;
    } finally {
      await exec(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    }
  };
  const all = (value: boolean) => Object.fromEntries(kinds.map((kind) => [kind, value])) as unknown as TableOptionFlags;
  if (await tryTable(kinds)) return all(true);
  // Without even a plain table (a user without CREATE rights) nothing can be told: such a
  // connection does not migrate, and reads none of these flags.
  if (!(await tryTable([]))) return all(false);
  const flags: Partial<Record<keyof TableOptionFlags, boolean>> = {};
  for (const kind of kinds) flags[kind] = await tryTable([kind]);
  return flags as TableOptionFlags;
}

async function names(query: Query, sql: string): Promise<Set<string>> {
  try {
    return new Set((await query(sql)).map((row) => String(row.name)));
  } catch {
    // A server too old to have this system table has none of what we asked about.
    return new Set();
  }
}

export async function detectCapabilities(query: Query, exec: Exec): Promise<StoreCapabilities> {
  const [versionRow] = await query("SELECT version() AS version");
  const types = await names(query, "SELECT name FROM system.data_type_families WHERE name IN ('DateTime64', 'Date32', 'Bool', 'JSON', 'LowCardinality')");
  const settings = await names(query, "SELECT name FROM system.settings WHERE name IN ('insert_deduplication_token')");
  const mergeTree = await names(query, "SELECT name FROM system.merge_tree_settings WHERE name IN ('non_replicated_deduplication_window')");
  let supportsQueryParams = true;
  try {
    const [row] = await query("SELECT {probe:UInt8} AS name", { probe: 7 });
    supportsQueryParams = Number(row?.name) === 7;
  } catch {
    supportsQueryParams = false;
  }
  // As a subquery, so the FORMAT a client appends applies to the outer SELECT.
  const supportsExplainAst = await query("SELECT count() AS n FROM (EXPLAIN AST SELECT 1)").then(
    (rows) => Number(rows[0]?.n) > 0,
    () => false,
  );
  // Servers of 2018 (18.x) know LowCardinality but refuse it in CREATE TABLE unless the
  // user's profile sets allow_experimental_low_cardinality_type = 1, which is off by
  // default; later servers dropped the setting. The setting's value is the user's own.
  const lowCardinalityGate = await query("SELECT value FROM system.settings WHERE name = 'allow_experimental_low_cardinality_type'").then(
    (rows) => rows,
    () => undefined,
  );
  const supportsLowCardinality =
    types.has("LowCardinality") && lowCardinalityGate !== undefined && (lowCardinalityGate.length === 0 || String(lowCardinalityGate[0]?.value) !== "0");
  return {
    version: String(versionRow?.version ?? "unknown"),
    supportsDateTime64: types.has("DateTime64"),
    supportsDate32: types.has("Date32"),
    supportsBool: types.has("Bool"),
    supportsJsonType: types.has("JSON"),
    supportsLowCardinality,
    supportsQueryParams,
    supportsInsertDeduplicationToken: settings.has("insert_deduplication_token") && mergeTree.has("non_replicated_deduplication_window"),
    supportsExplainAst,
    ...(await probeTableOptions(exec)),
  };
}
