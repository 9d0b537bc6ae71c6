/**
 * Igloo on a replicated ClickHouse cluster: ZooKeeper and two Debian 18.16 servers as two
 * replicas of one shard (test/helpers/clickhouseCluster.ts), a real Kafka broker.
 *
 * `igloo migrate` with IGLOO_CLICKHOUSE_CLUSTER creates replicated tables on both. An
 * ingest and a worker process run with both replicas in IGLOO_CLICKHOUSE_URL while events
 * stream in; the replica Igloo writes to is killed with kill -9, writes and reads go on on
 * the other (/ready and /metrics say which is up), it is started again and Igloo returns
 * to it; both replicas end with every acknowledged event exactly once. Drift on one
 * replica is reported by `igloo plan`. Batches of identical events are all stored (the
 * servers have no insert tokens, and a replicated table would take the second for a
 * repeat of the first).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { ReplicaStore } from "../runtime/store/clickhouse/replicaStore.ts";
import { serverUrl } from "./helpers/clickhouseServer.ts";
import { startClickHouseCluster, type ClickHouseCluster } from "./helpers/clickhouseCluster.ts";
import { IGLOO, createKey, eventually, initProject, removeDir, startIgloo, type DevProcess } from "./helpers/igloo.ts";
import { sharedKafka } from "./helpers/kafka.ts";

const MODELS = `
model ClusterEvent {
  id     String @id
  userId String
  value  Float
}
`;

describe("a two-replica ClickHouse cluster: migrate, failover, exactly once", () => {
  let cluster: ClickHouseCluster;
  let project: string;
  let build: string;
  let env: Record<string, string>;
  const replicaStores: ClickHouseStore[] = [];
  const processes: DevProcess[] = [];
  const keys = { ingest: createKey("ingest"), admin: createKey("admin") };
  const acked = new Set<string>();
  let sending = true;
  let senders: Promise<void>[] = [];

  const igloo = (args: string[]) => {
    const result = Bun.spawnSync([join(build, "igloo"), ...args], { cwd: build, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
  };
  const countOn = async (i: number, sql = "SELECT toString(count()) AS c, toString(uniqExact(id)) AS u FROM ClusterEvent") =>
    (await replicaStores[i]!.query<{ c: string; u: string }>(sql)).rows[0]!;

  beforeAll(async () => {
    const [kafka, started] = await Promise.all([sharedKafka(), startClickHouseCluster("cluster-e2e")]);
    cluster = started;
    for (const replica of cluster.replicas) {
      replicaStores.push(await ClickHouseStore.connect({ url: replica.url, user: replica.user, password: replica.password, database: replica.database }));
    }
    env = {
      IGLOO_KAFKA_BROKERS: kafka.brokers.join(","),
      IGLOO_KAFKA_PARTITIONS: "2",
      IGLOO_KAFKA_SESSION_TIMEOUT_MS: "6000",
      IGLOO_KAFKA_CLIENT_ID: `igloo-cluster-${process.pid}`,
      IGLOO_CLICKHOUSE_URL: cluster.replicas.map((r) => serverUrl(r, r)).join(","),
      IGLOO_CLICKHOUSE_QUERY_URL: cluster.replicas.map((r) => serverUrl(r, r.reader)).join(","),
      IGLOO_CLICKHOUSE_CLUSTER: cluster.name,
      IGLOO_KEYS: [keys.ingest.entry, keys.admin.entry].join(","),
      IGLOO_HOST: "127.0.0.1",
    };
    project = initProject("cluster");
    for (const folder of ["datamodels", "functions", "views", "dashboards"]) for (const file of readdirSync(join(project, folder))) rmSync(join(project, folder, file), { recursive: true });
    writeFileSync(join(project, "datamodels", "models.prisma"), MODELS);
    build = join(dirname(project), "build");
    const built = Bun.spawnSync([IGLOO, "build", "--out", build], { cwd: project, stdout: "pipe", stderr: "pipe" });
    expect(built.stderr.toString()).toBe("");
  });

  afterAll(async () => {
    sending = false;
    await Promise.all(senders);
    await Promise.all(processes.map((p) => (p.proc.exitCode === null ? p.stop() : Promise.resolve(0))));
    for (const store of replicaStores) await store.close().catch(() => undefined);
    // Its own cluster: stopped here, not left to run beside the tests after it.
    await cluster?.stop();
    if (project) removeDir(dirname(project));
  });

  test("igloo migrate creates replicated tables on both replicas", async () => {
    const migrated = igloo(["migrate"]);
    expect(migrated.err).toBe("");
    expect(migrated.code).toBe(0);
    for (const store of replicaStores) {
      const { rows } = await store.query<{ name: string; engine: string }>("SELECT name, engine FROM system.tables WHERE database = 'igloo' AND name IN ('ClusterEvent', 'igloo_dead_letters', 'igloo_ingest_ids') ORDER BY name");
      expect(rows).toEqual([
        { name: "ClusterEvent", engine: "ReplicatedMergeTree" },
        { name: "igloo_dead_letters", engine: "ReplicatedMergeTree" },
        { name: "igloo_ingest_ids", engine: expect.stringMatching(/^Replicated/) },
      ]);
    }
    expect(JSON.parse(igloo(["plan", "--json"]).out)).toMatchObject({ changes: [], drift: [] });
  });

  test("a cluster the servers do not know is refused, naming the ones they do", () => {
    const result = Bun.spawnSync([join(build, "igloo"), "plan"], { cwd: build, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env, IGLOO_CLICKHOUSE_CLUSTER: "nope" } });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.toString()).toContain(`IGLOO_CLICKHOUSE_CLUSTER is \`nope\`, which the server at`);
    expect(result.stderr.toString()).toContain(`its remote_servers: `);
    expect(result.stderr.toString()).toContain(cluster.name);
  });

  test("kill -9 the replica in use while events stream in: writes and reads go on; it comes back; every event once on both", async () => {
    const start = (role: string) => startIgloo(build, "start", { binary: join(build, "igloo"), env, args: ["--role", role], timeoutMs: 60_000 });
    processes.push(await start("worker"), await start("ingest"));
    const api = processes[1]!;
    const headers = { authorization: `Bearer ${keys.ingest.key}`, "content-type": "application/json" };
    let n = 0;
    const sender = async () => {
      while (sending) {
        const batch = Array.from({ length: 50 }, () => {
          const i = n++;
          return { id: `c-${i}`, userId: `u-${i % 11}`, value: i % 100 };
        });
        try {
          const response = await fetch(`${api.url}/ingest/ClusterEvent`, { method: "POST", headers, body: JSON.stringify(batch) });
          const body = (await response.json()) as { accepted?: number };
          if (response.status === 200 && body.accepted === batch.length) for (const r of batch) acked.add(r.id);
        } catch {
          // Not acknowledged: not counted.
        }
        await Bun.sleep(50);
      }
    };
    senders = [sender(), sender()];
    const admin = { authorization: `Bearer ${keys.admin.key}`, "content-type": "application/json" };
    const stored = async () => {
      const response = await fetch(`${api.url}/query`, { method: "POST", headers: admin, body: JSON.stringify({ sql: "SELECT count() AS c FROM ClusterEvent" }) });
      return response.status === 200 ? Number(((await response.json()) as { data: { c: string }[] }).data[0]!.c) : -1;
    };
    await eventually(stored, (c) => c > 1000, 60_000);
    const ready = async () => (await (await fetch(`${api.url}/ready`)).json()) as { replicas: { replica: number; up: boolean; current: boolean }[] };
    expect((await ready()).replicas).toEqual([
      { replica: 1, up: true, current: true },
      { replica: 2, up: true, current: false },
    ]);

    // The first replica in the list is the one in use.
    await cluster.replicas[0]!.kill();
    const killedAt = acked.size;
    const afterKill = await stored();
    // Acknowledgements go on (Kafka takes them), the worker writes to the other replica, and reads are answered there.
    await eventually(async () => acked.size, (size) => size > killedAt + 1500, 60_000);
    await eventually(stored, (c) => c > afterKill + 1000, 60_000);
    const during = await ready();
    expect(during.replicas.map((r) => [r.up, r.current])).toEqual([[false, false], [true, true]]);
    const metrics = await (await fetch(`${api.url}/metrics`, { headers: admin })).text();
    // /ready, which answers anyone, names no host; /metrics (admin key) does.
    expect(JSON.stringify(during)).not.toContain("127.0.0.1");
    expect(metrics).toContain(`igloo_clickhouse_replica_up{replica="127.0.0.1:${cluster.replicas[0]!.port}"} 0`);
    expect(metrics).toContain(`igloo_clickhouse_replica_up{replica="127.0.0.1:${cluster.replicas[1]!.port}"} 1`);

    await cluster.replicas[0]!.start();
    await eventually(ready, (r) => r.replicas[0]!.up && r.replicas[0]!.current, 30_000);
    const back = acked.size;
    await eventually(async () => acked.size, (size) => size > back + 500, 60_000);
    sending = false;
    await Promise.all(senders);

    for (const i of [0, 1]) {
      await eventually(async () => Number((await countOn(i)).c), (c) => c >= acked.size, 90_000).catch((error: unknown) => {
        throw new Error(`replica ${i}: ${error}\n--- worker ---\n${processes[0]!.output().slice(-3000)}`);
      });
    }
    await Bun.sleep(1000);
    for (const i of [0, 1]) {
      const { c, u } = await countOn(i);
      expect(Number(c)).toBe(Number(u));
      const ids = new Set((await replicaStores[i]!.query<{ id: string }>("SELECT id FROM ClusterEvent")).rows.map((r) => r.id));
      expect([...acked].filter((id) => !ids.has(id)).slice(0, 5)).toEqual([]);
      console.log(`replica ${i}: ${c} rows, ${u} distinct; ${acked.size} acknowledged (${killedAt} before the kill)`);
    }
  });

  test("identical batches of events are all stored, not taken for repeats", async () => {
    const api = processes[1]!;
    const headers = { authorization: `Bearer ${keys.ingest.key}`, "content-type": "application/json" };
    // Five requests of the same twenty rows: rows alike, batches alike.
    const before = Number((await countOn(0)).c);
    const same = Array.from({ length: 20 }, () => ({ id: "same", userId: "u-same", value: 1 }));
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${api.url}/ingest/ClusterEvent`, { method: "POST", headers, body: JSON.stringify(same) });
      expect(((await response.json()) as { accepted: number }).accepted).toBe(20);
      // One batch each: the writer has written the last before the next is sent.
      await eventually(async () => Number((await countOn(0)).c), (c) => c >= before + 20 * (i + 1), 30_000);
    }
    await Bun.sleep(500);
    expect(Number((await countOn(0, "SELECT toString(count()) AS c, '' AS u FROM ClusterEvent WHERE id = 'same'")).c)).toBe(100);
  });

  test("drift on one replica is reported by igloo plan, naming the replica", async () => {
    // Outside Igloo, on the second replica only: a table of its own is dropped (locally: no ON CLUSTER).
    await replicaStores[1]!.exec("DROP TABLE igloo_dead_letters");
    const plan = igloo(["plan"]);
    expect(plan.code).toBe(2);
    expect(plan.out).toMatch(new RegExp(`igloo_dead_letters: the table was dropped \\(on replica 127\\.0\\.0\\.1:${cluster.replicas[1]!.port}\\)`));
    expect(plan.out).not.toMatch(new RegExp(`on replica 127\\.0\\.0\\.1:${cluster.replicas[0]!.port}`));
  });

  test("a table made while a replica is down: Igloo goes on after its wait, and the replica makes the table when it is back", async () => {
    const store = await ReplicaStore.connect(
      cluster.replicas.map((r) => ({ url: r.url, user: r.user, password: r.password, database: r.database, cluster: cluster.name, clusterDdlWaitSeconds: 3 })),
    );
    try {
      await cluster.replicas[1]!.kill();
      const began = performance.now();
      await store.exec("CREATE TABLE IF NOT EXISTS ClusterLate (k UInt32) ENGINE = MergeTree ORDER BY k");
      const waited = performance.now() - began;
      expect(store.health().map((h) => h.up)).toEqual([true, true]);
      await store.insertJsonEachRow("ClusterLate", new TextEncoder().encode('{"k":1}\n{"k":2}'));
      await cluster.replicas[1]!.start();
      const late = async () => (await replicaStores[1]!.query<{ engine: string }>("SELECT engine FROM system.tables WHERE database = 'igloo' AND name = 'ClusterLate'").catch(() => ({ rows: [] }))).rows;
      expect(await eventually(late, (rows) => rows.length === 1, 60_000)).toEqual([{ engine: "ReplicatedMergeTree" }]);
      await eventually(async () => Number((await replicaStores[1]!.query<{ c: string }>("SELECT count() AS c FROM ClusterLate")).rows[0]!.c), (c) => c === 2, 60_000);
      console.log(`CREATE TABLE ON CLUSTER with a replica down returned after ${Math.round(waited)} ms; the replica made it and fetched its rows after its restart`);
    } finally {
      await store.close();
    }
  });
});
