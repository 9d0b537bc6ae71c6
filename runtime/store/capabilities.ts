/**
 * What an engine can do, asked of the engine itself (its system tables), so adapters
 * branch on capabilities and never on an engine's name or a hard-coded version list.
 */
import type { StoreCapabilities } from "./store.ts";

type Query = (sql: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>[]>;

async function names(query: Query, sql: string): Promise<Set<string>> {
  try {
    return new Set((await query(sql)).map((row) => String(row.name)));
  } catch {
    // A server too old to have this system table has none of what we asked about.
    return new Set();
  }
}

export async function detectCapabilities(query: Query): Promise<StoreCapabilities> {
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
  };
}
