/**
 * The rewrite of Igloo's own DDL for a cluster (runtime/store/clickhouse/clusterDdl.ts),
 * statement by statement, as the runtime writes them. e2e.cluster.test.ts runs them on a
 * real two-replica cluster.
 */
import { expect, test } from "bun:test";
import { ClusterDdl } from "../runtime/store/clickhouse/clusterDdl.ts";

const ddl = () => new ClusterDdl("c1", "analytics");

test("tables: ON CLUSTER after the qualified name, MergeTree engines replicated with their arguments", () => {
  const d = ddl();
  expect(d.rewrite("CREATE TABLE IF NOT EXISTS `Ev` (\n  `a` String\n)\nENGINE = MergeTree()\nORDER BY (`a`)")).toBe(
    "CREATE TABLE IF NOT EXISTS `analytics`.`Ev` ON CLUSTER `c1` (\n  `a` String\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/analytics/Ev', '{replica}')\nORDER BY (`a`)",
  );
  expect(d.rewrite("CREATE TABLE IF NOT EXISTS igloo_processes (id String, seen_at UInt64) ENGINE = ReplacingMergeTree(seen_at) ORDER BY id")).toBe(
    "CREATE TABLE IF NOT EXISTS `analytics`.igloo_processes ON CLUSTER `c1` (id String, seen_at UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/analytics/igloo_processes', '{replica}', seen_at) ORDER BY id",
  );
  expect(d.rewrite("CREATE TABLE `igloo_view_x` (a String) ENGINE = AggregatingMergeTree\nORDER BY (a)")).toContain(
    "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/analytics/igloo_view_x', '{replica}')\nORDER BY (a)",
  );
});

test("views, ALTER and DROP run ON CLUSTER; other statements pass unchanged", () => {
  const d = ddl();
  expect(d.rewrite("ALTER TABLE `Ev` ADD COLUMN `b` String AFTER `a`")).toBe("ALTER TABLE `analytics`.`Ev` ON CLUSTER `c1` ADD COLUMN `b` String AFTER `a`");
  expect(d.rewrite("DROP TABLE IF EXISTS `igloo_mv_x` SYNC")).toBe("DROP TABLE IF EXISTS `analytics`.`igloo_mv_x` ON CLUSTER `c1` SYNC");
  expect(d.rewrite("CREATE MATERIALIZED VIEW `mv` TO `t` AS SELECT 1")).toBe("CREATE MATERIALIZED VIEW `analytics`.`mv` ON CLUSTER `c1` TO `t` AS SELECT 1");
  expect(d.rewrite("CREATE OR REPLACE VIEW `v` AS SELECT 1")).toBe("CREATE OR REPLACE VIEW `analytics`.`v` ON CLUSTER `c1` AS SELECT 1");
  expect(d.rewrite("DROP TABLE other.t")).toBe("DROP TABLE other.t ON CLUSTER `c1`");
  for (const same of ["INSERT INTO t SELECT 1", "SELECT 1", "KILL QUERY WHERE query_id = 'x' ASYNC"]) expect(d.rewrite(same)).toBe(same);
});

test("Memory staging tables stay on the replica that made them, and so does their DROP", () => {
  const d = ddl();
  expect(d.rewrite("CREATE TABLE `stage_1` AS `Ev` ENGINE = Memory")).toBe("CREATE TABLE `stage_1` AS `Ev` ENGINE = Memory");
  expect(d.rewrite("DROP TABLE IF EXISTS `stage_1`")).toBe("DROP TABLE IF EXISTS `stage_1`");
  // Dropped once: a later table of that name is not taken for it.
  expect(d.rewrite("DROP TABLE IF EXISTS `stage_1`")).toBe("DROP TABLE IF EXISTS `analytics`.`stage_1` ON CLUSTER `c1`");
});

test("CREATE TABLE IF NOT EXISTS names the table to look for first; other statements none", () => {
  const d = ddl();
  expect(d.createsIfMissing("CREATE TABLE IF NOT EXISTS `Ev` (a String) ENGINE = MergeTree ORDER BY a")).toBe("Ev");
  expect(d.createsIfMissing("CREATE TABLE IF NOT EXISTS igloo_deploy (seq UInt64) ENGINE = MergeTree ORDER BY seq")).toBe("igloo_deploy");
  expect(d.createsIfMissing("CREATE TABLE `Ev` (a String) ENGINE = MergeTree ORDER BY a")).toBeUndefined();
  expect(d.createsIfMissing("CREATE TABLE IF NOT EXISTS `s` AS `Ev` ENGINE = Memory")).toBeUndefined();
  expect(d.createsIfMissing("ALTER TABLE `Ev` ADD COLUMN b String")).toBeUndefined();
});
