/**
 * `igloo deploy` on real engines: a Kafka broker and a ClickHouse server of its own (the
 * deploy log lives in the project's database, which the shared server's other tests use).
 *
 * v1 is deployed on empty engines and run as 2 ingest and 2 worker processes started with
 * only the environment (no build directory). Events stream in throughout. v2 (a new field,
 * a new model and a new function) is deployed: every process switches without a restart
 * (same pids, same process ids in `igloo status`) within the deploy's 10 s wait, the new
 * field is stored, the new function runs. A destructive v3 fails `deploy --check` and is
 * refused by `deploy`. `igloo rollback` returns to v1 (the new column stays). Then an
 * aggregate over the streaming table is built the way a deploy builds an incremental view
 * (a materialized view and a backfill, under a hold of the table's writers in every
 * worker), and equals its SELECT from scratch (it does not without the hold). Last, v3 is
 * deployed with --allow-destructive while events stream in: the field is refused, then
 * its column dropped. Every acknowledged event is stored exactly once. v2 also adds a
 * dashboard, served by the ingest processes until the rollback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeployChannel } from "../runtime/deploy/channel.ts";
import { DeploySteps } from "../runtime/deploy/rollout.ts";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { startClickHouse, type ClickHouseServer } from "./helpers/clickhouseServer.ts";
import { IGLOO, eventually, initProject, removeDir, startIgloo, tempDir, type DevProcess } from "./helpers/igloo.ts";
import { sharedKafka } from "./helpers/kafka.ts";
import { productionEnv } from "./helpers/production.ts";

// Model names of their own: the Kafka broker is shared with other tests.
const V1_MODELS = `
model DeployReading {
  id     String
  device String
  value  Float
}

model DeployAlarm {
  id    String
  value Float
}
`;
const V2_MODELS = V1_MODELS.replace("  value  Float\n}", "  value  Float\n  site   String?\n}") + `
model DeployCopy {
  id   String
  site String?
}
`;
// Destructive: `device` goes, and its column with it.
const V3_MODELS = V2_MODELS.replace("  device String\n", "");
const ALARMS = `import { defineFunction } from "igloo";
export default defineFunction({ from: "DeployReading", to: "DeployAlarm", run: (r) => (r.value >= 90 ? { id: r.id, value: r.value } : null) });
`;
const COPIES = `import { defineFunction } from "igloo";
export default defineFunction({ from: "DeployReading", to: "DeployCopy", run: (r) => ({ id: r.id, site: r.site ?? null }) });
`;

interface Status {
  deployed: { ingest: number; worker: number } | undefined;
  processes: { id: string; role: string; version: number; pid: number; live: boolean; error: string }[];
}

describe("igloo deploy: 2 ingest + 2 workers switch versions while events stream in", () => {
  let clickhouse: ClickHouseServer;
  let store: ClickHouseStore;
  let env: Record<string, string>;
  let ingestKey: string;
  let project: string;
  let empty: string;
  const processes: DevProcess[] = [];
  const acked = new Set<string>();
  let streaming: Promise<void>[] = [];
  let sending = true;
  let n = 0;
  /** Whether records carry `device` (v3 removes it). */
  let withDevice = true;
  /** Events stream in, several hundred a second, over both ingest processes, until stopStreaming(). */
  const startStreaming = () => {
    sending = true;
    const sender = async (lane: number) => {
      while (sending) {
        const batch = Array.from({ length: 50 }, () => {
          const i = n++;
          return { id: `r-${i}`, ...(withDevice ? { device: `d-${i % 7}` } : {}), value: i % 100 };
        });
        const api = processes.filter((p) => p.output().includes('"role":"ingest"'))[lane % 2]!;
        try {
          const response = await fetch(`${api.url}/ingest/DeployReading`, { method: "POST", headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" }, body: JSON.stringify(batch) });
          const body = (await response.json()) as { accepted?: number };
          if (response.status === 200 && body.accepted === batch.length) for (const r of batch) acked.add(r.id);
        } catch {
          // Not acknowledged: not counted.
        }
        await Bun.sleep(50);
      }
    };
    streaming = [0, 1].map(sender);
  };
  const stopStreaming = async () => {
    sending = false;
    await Promise.all(streaming);
  };

  const igloo = (args: string[], cwd = project) => {
    const result = Bun.spawnSync([IGLOO, ...args], { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() };
  };
  const status = () => JSON.parse(igloo(["status", "--json"]).out) as Status;
  const count = async (sql: string) => Number((await store.query<{ c: string }>(sql)).rows[0]!.c);
  const writeVersion = (models: string, functions: Record<string, string>) => {
    writeFileSync(join(project, "datamodels", "models.prisma"), models);
    rmSync(join(project, "functions"), { recursive: true, force: true });
    mkdirSync(join(project, "functions"));
    for (const [name, code] of Object.entries(functions)) writeFileSync(join(project, "functions", `${name}.ts`), code);
  };

  beforeAll(async () => {
    const [kafka, server] = await Promise.all([sharedKafka(), startClickHouse("deploy")]);
    clickhouse = server;
    ({ env, keys: { ingest: { key: ingestKey } } } = productionEnv(kafka.brokers, clickhouse, "deploy"));
    store = await ClickHouseStore.connect({ url: clickhouse.url, user: clickhouse.user, password: clickhouse.password, database: clickhouse.database });
    project = initProject("deploy");
    for (const folder of ["datamodels", "functions", "views", "dashboards"]) rmSync(join(project, folder), { recursive: true, force: true });
    mkdirSync(join(project, "datamodels"));
    writeVersion(V1_MODELS, { alarms: ALARMS });
    empty = tempDir("deploy-empty");
  });

  afterAll(async () => {
    await stopStreaming();
    await Promise.all(processes.map((p) => (p.proc.exitCode === null ? p.stop() : Promise.resolve(0))));
    await store?.close();
    await clickhouse?.stop();
    removeDir(project);
    removeDir(empty);
  });

  test("the first deploy sets up empty engines; processes start from it with only the environment", async () => {
    const first = igloo(["deploy"]);
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    expect(first.out).toContain("create table DeployReading");
    expect(first.out).toMatch(/deployed version 1: 0 worker and 0 ingest processes switched/);
    // The same project again: nothing to do.
    const again = igloo(["deploy"]);
    expect(again.code).toBe(0);
    expect(again.out).toContain("Version 1 is already deployed; nothing to do.");

    // An empty directory: no build, no config file; the deployed version is read from ClickHouse.
    const start = (role: string) => startIgloo(empty, "start", { env, args: ["--role", role], timeoutMs: 60_000 });
    processes.push(await start("worker"), await start("worker"), await start("ingest"), await start("ingest"));
    const seen = await eventually(async () => status(), (s) => s.processes.filter((p) => p.live && p.version === 1).length === 4, 30_000);
    expect(seen.deployed).toEqual(expect.objectContaining({ ingest: 1, worker: 1 }));
    expect(seen.processes.map((p) => p.role).sort()).toEqual(["ingest", "ingest", "worker", "worker"]);
    expect(igloo(["status"]).out).toMatch(/Deployed: version 1, by .+\nPROCESS +ROLE +VERSION +BACKLOG +SEEN +STATE\n/);

    startStreaming();
    await eventually(async () => count("SELECT count() AS c FROM DeployAlarm"), (c) => c > 0, 30_000);
  });

  test("deploy v2 (a new field, model and function): every process switches without a restart", async () => {
    const before = status();
    const pids = processes.map((p) => p.proc.pid);
    writeVersion(V2_MODELS, { alarms: ALARMS, copies: COPIES });
    mkdirSync(join(project, "dashboards"));
    writeFileSync(join(project, "dashboards", "ops.html"), "<!doctype html><title>ops v2</title><igloo-table view=\"x\"></igloo-table>");
    const began = performance.now();
    // Each step may wait 10 s for the processes: the deploy fails if one does not switch in time.
    const deployed = igloo(["deploy", "--wait-ms", "10000"]);
    const ms = performance.now() - began;
    expect(deployed.err).toBe("");
    expect(deployed.code).toBe(0);
    expect(deployed.out).toContain("add column DeployReading.site");
    expect(deployed.out).toContain("create table DeployCopy");
    expect(deployed.out).toMatch(/deployed version 2: 2 worker and 2 ingest processes switched in [\d.]+ s/);
    console.log(`deploy v2: ${Math.round(ms)} ms in all (check included); ${deployed.out.match(/switched in ([\d.]+ s)/)![1]} from plan to the last process switched`);

    const after = status();
    expect(after.processes.filter((p) => p.live).map((p) => [p.id, p.version]).sort()).toEqual(before.processes.filter((p) => p.live).map((p) => [p.id, 2]).sort());
    expect(processes.map((p) => p.proc.pid)).toEqual(pids);
    expect(processes.every((p) => p.proc.exitCode === null)).toBe(true);

    // The new field is taken and stored; the new function writes its model; the dashboard is served.
    const api = processes.find((p) => p.output().includes('"role":"ingest"'))!;
    expect(await (await fetch(`${api.url}/dashboards/ops`)).text()).toContain("<title>ops v2</title>");
    const sited = Array.from({ length: 10 }, (_, i) => ({ id: `s-${i}`, device: "d-s", value: 1, site: `site-${i}` }));
    const response = await fetch(`${api.url}/ingest/DeployReading`, { method: "POST", headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" }, body: JSON.stringify(sited) });
    expect(((await response.json()) as { accepted: number }).accepted).toBe(10);
    for (const r of sited) acked.add(r.id);
    await eventually(async () => count("SELECT count() AS c FROM DeployReading WHERE site LIKE 'site-%'"), (c) => c === 10, 30_000);
    await eventually(async () => count("SELECT count() AS c FROM DeployCopy WHERE site LIKE 'site-%'"), (c) => c === 10, 30_000);
  });

  test("a destructive v3 fails deploy --check and is refused by deploy", () => {
    writeVersion(V3_MODELS, { alarms: ALARMS, copies: COPIES });
    const check = igloo(["deploy", "--check"]);
    expect(check.code).not.toBe(0);
    expect(check.out).toContain("! drop column DeployReading.device");
    expect(check.out).toContain("igloo deploy --allow-destructive");
    const refused = igloo(["deploy"]);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain("Nothing was deployed.");
    expect(refused.err).toContain("--allow-destructive");
    expect(status().deployed).toEqual(expect.objectContaining({ ingest: 2, worker: 2 }));
  });

  test("rollback returns every process to v1; the column v2 added stays", async () => {
    const rolled = igloo(["rollback", "--wait-ms", "10000"]);
    expect(rolled.err).toBe("");
    expect(rolled.code).toBe(0);
    expect(rolled.out).toContain("rolling back from version 2 to version 1");
    expect(rolled.out).toContain("= keep column DeployReading.site");
    expect(rolled.out).toMatch(/deployed version 1: 2 worker and 2 ingest processes switched/);
    expect(status().processes.filter((p) => p.live).map((p) => p.version)).toEqual([1, 1, 1, 1]);
    // v1 refuses the field again.
    const api = processes.find((p) => p.output().includes('"role":"ingest"'))!;
    const response = await fetch(`${api.url}/ingest/DeployReading`, { method: "POST", headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" }, body: JSON.stringify({ id: "x-1", device: "d", value: 1, site: "s" }) });
    expect((await response.json()) as unknown).toMatchObject({ accepted: 0, rejected: 1, errors: [{ message: expect.stringContaining("unknown field `site`") }] });
    expect((await store.describeTable("DeployReading"))!.map((c) => c.name)).toContain("site");
    // v1 had no dashboard.
    expect((await fetch(`${api.url}/dashboards/ops`)).status).toBe(404);
  });

  test("an aggregate built under a hold of the writers, while they insert, equals its SELECT from scratch", async () => {
    const channel = new DeployChannel(store);
    const steps = new DeploySteps(channel, (await channel.state()).seq, { waitMs: 10_000, say: (line) => console.log(line) });
    const rowsBefore = await count("SELECT count() AS c FROM DeployReading");
    // What buildIncremental does for `SELECT device, count() AS n, sum(value) AS total FROM DeployReading GROUP BY device`,
    // in SQL Debian's 18.16 server takes (it has no DESCRIBE of a query, which Igloo's views need).
    await store.exec("CREATE TABLE deploy_agg (device String, n AggregateFunction(count), total AggregateFunction(sum, Float64)) ENGINE = AggregatingMergeTree ORDER BY device");
    const end = await steps.hold(["DeployReading"]);
    try {
      await store.exec("CREATE MATERIALIZED VIEW deploy_agg_mv TO deploy_agg AS SELECT device, countState() AS n, sumState(value) AS total FROM DeployReading GROUP BY device");
      // A backfill of a large table starts later than this: without the hold, what the
      // writers insert meanwhile is counted by both the view and the backfill.
      await Bun.sleep(1500);
      await store.exec("INSERT INTO deploy_agg SELECT device, countState() AS n, sumState(value) AS total FROM DeployReading GROUP BY device");
    } finally {
      await end();
    }
    // The writers resume and insert through the materialized view.
    await eventually(async () => count("SELECT count() AS c FROM DeployReading"), (c) => c > rowsBefore + 1000, 30_000);
    await stopStreaming();
    await eventually(async () => count("SELECT count() AS c FROM DeployReading"), (c) => c >= acked.size, 60_000);
    const merged = (await store.query<{ device: string; n: string; total: string }>("SELECT device, toString(countMerge(n)) AS n, toString(sumMerge(total)) AS total FROM deploy_agg GROUP BY device ORDER BY device")).rows;
    const scratch = (await store.query<{ device: string; n: string; total: string }>("SELECT device, toString(count()) AS n, toString(sum(value)) AS total FROM DeployReading GROUP BY device ORDER BY device")).rows;
    expect(merged).toEqual(scratch);
    console.log(`aggregate built while writers inserted: ${scratch.length} groups, ${rowsBefore} rows before the hold, ${scratch.reduce((s, r) => s + Number(r.n), 0)} in all`);
  });

  test("the destructive v3 with --allow-destructive, while events stream in: ingest refuses the field, then its column goes", async () => {
    await store.exec("DROP TABLE deploy_agg_mv");
    startStreaming();
    const before = acked.size;
    await eventually(async () => acked.size, (size) => size > before + 500, 30_000);
    writeVersion(V3_MODELS, { alarms: ALARMS, copies: COPIES });
    const deployed = igloo(["deploy", "--allow-destructive", "--wait-ms", "10000"]);
    expect(deployed.err).toBe("");
    expect(deployed.code).toBe(0);
    expect(deployed.out).toMatch(/deployed version 3: 2 worker and 2 ingest processes switched/);
    expect((await store.describeTable("DeployReading"))!.map((c) => c.name)).not.toContain("device");
    // Records with the field are refused now (not acknowledged, so not counted); without it they are taken.
    withDevice = false;
    const after = acked.size;
    await eventually(async () => acked.size, (size) => size > after + 500, 30_000);
    await stopStreaming();
    await eventually(async () => count("SELECT count() AS c FROM DeployReading"), (c) => c >= acked.size, 60_000);
  });

  test("every acknowledged event is stored exactly once", async () => {
    expect(acked.size).toBeGreaterThan(3000);
    const ids = (await store.query<{ id: string; c: string }>("SELECT id, toString(count()) AS c FROM DeployReading GROUP BY id")).rows;
    const stored = new Map(ids.map((r) => [r.id, Number(r.c)]));
    const missing = [...acked].filter((id) => !stored.has(id));
    const twice = ids.filter((r) => Number(r.c) > 1).map((r) => r.id);
    expect({ missing: missing.slice(0, 5), twice: twice.slice(0, 5) }).toEqual({ missing: [], twice: [] });
    console.log(`${acked.size} acknowledged events, each stored once, across deploys, a refused deploy, a rollback and a destructive deploy`);
  });
});
