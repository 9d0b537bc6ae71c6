/**
 * Igloo's table writer is exactly once because a replayed insert carries the same
 * `insert_deduplication_token` and the model table drops it. An incremental view's
 * target table must drop it too, or the replay is counted twice. How to get that depends
 * on the engine version: since ClickHouse 24.7 a materialized view's target deduplicates
 * on its own, with block ids derived from the source insert, so it needs the same
 * deduplication window as its source; before, equal aggregated blocks from different
 * inserts could be mistaken for duplicates there. Rather than keep a version list, we
 * ask the engine: replay a few inserts through a throwaway MV and see which target
 * configuration ends up agreeing with its source.
 */
import { randomUUID } from "node:crypto";
import { quoteIdent } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";

/** `mirror`: give the target its source's window; `none`: no window; `unsafe`: neither agrees. */
export type DedupMode = "mirror" | "none" | "unsafe";

const WINDOW = 10;

export async function probeDedupMode(store: Store): Promise<DedupMode> {
  for (const mode of ["mirror", "none"] as const) {
    if (await targetAgrees(store, mode === "mirror")) return mode;
  }
  return "unsafe";
}

async function targetAgrees(store: Store, withWindow: boolean): Promise<boolean> {
  const id = randomUUID().slice(0, 8);
  const [source, target, mv] = [`igloo_probe_src_${id}`, `igloo_probe_dst_${id}`, `igloo_probe_mv_${id}`].map(quoteIdent) as [string, string, string];
  const row = new TextEncoder().encode('{"k":1}');
  try {
    await store.exec(`CREATE TABLE ${source} (k UInt8) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = ${WINDOW}`);
    await store.exec(
      `CREATE TABLE ${target} (k UInt8, n AggregateFunction(count)) ENGINE = AggregatingMergeTree ORDER BY k` +
        (withWindow ? ` SETTINGS non_replicated_deduplication_window = ${WINDOW}` : ""),
    );
    await store.exec(`CREATE MATERIALIZED VIEW ${mv} TO ${target} AS SELECT k, countState() AS n FROM ${source} GROUP BY k`);
    // A replayed insert, a new insert whose aggregate equals the first one's, and an
    // untokened insert sent twice: the source keeps three rows.
    await store.insertJsonEachRow(`igloo_probe_src_${id}`, row, { dedupToken: `${id}-a` });
    await store.insertJsonEachRow(`igloo_probe_src_${id}`, row, { dedupToken: `${id}-a` });
    await store.insertJsonEachRow(`igloo_probe_src_${id}`, row, { dedupToken: `${id}-b` });
    await store.insertJsonEachRow(`igloo_probe_src_${id}`, row);
    await store.insertJsonEachRow(`igloo_probe_src_${id}`, row);
    const { rows } = await store.query<{ source: string; target: string }>(
      `SELECT (SELECT count() FROM ${source}) AS source, (SELECT countMerge(n) FROM ${target}) AS target`,
    );
    return rows[0] !== undefined && rows[0].source === rows[0].target;
  } finally {
    await store.exec(`DROP TABLE IF EXISTS ${mv} SYNC`);
    await store.exec(`DROP TABLE IF EXISTS ${target} SYNC`);
    await store.exec(`DROP TABLE IF EXISTS ${source} SYNC`);
  }
}

/** The table's `non_replicated_deduplication_window`, 0 when it keeps none. */
export async function dedupWindow(store: Store, table: string): Promise<number> {
  const { rows } = await store.query<{ engine_full: string }>(
    "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {table:String}",
    { table },
  );
  const m = /non_replicated_deduplication_window\s*=\s*(\d+)/.exec(rows[0]?.engine_full ?? "");
  return m ? Number(m[1]) : 0;
}
