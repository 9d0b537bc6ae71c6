/**
 * An incremental view created by a deploy while workers insert equals its SELECT from
 * scratch: the rollout's ViewManager builds it (materialized view, then backfill) under a
 * hold, which two workers following the deploy channel act on, on a real Kafka broker.
 *
 * In-process, on chDB (a database of its own): Debian's 18.16 server, the only ClickHouse
 * server here, cannot run Igloo's views (no DESCRIBE of a query, no CREATE OR REPLACE
 * VIEW), so e2e.deploy.test.ts checks the same hold with processes and hand-written SQL.
 * The workers are two Pipelines, each with its own Kafka client in one consumer group, as
 * two `igloo start --role worker` would be.
 *
 * On its own this rarely catches a missing hold: on chDB the materialized view and the
 * backfill run one right after the other, a short window for an insert to fall into.
 * e2e.deploy.test.ts widens that window, and fails when the hold is taken out.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseModels } from "../conventions/prisma/parse.ts";
import { parseViews } from "../conventions/views/parse.ts";
import { DeployChannel } from "../runtime/deploy/channel.ts";
import { DeployFollower } from "../runtime/deploy/follower.ts";
import { rollout } from "../runtime/deploy/rollout.ts";
import { ingest } from "../runtime/ingest/ingest.ts";
import { DEFAULT_LIMITS } from "../runtime/limits.ts";
import { consoleLogger } from "../runtime/observability/logger.ts";
import { Pipeline } from "../runtime/pipeline/pipeline.ts";
import { ChdbStore } from "../runtime/store/chdb/chdbStore.ts";
import { processChdbPath } from "../runtime/store/chdb/processPath.ts";
import { KafkaStream } from "../runtime/stream/kafka/kafkaStream.ts";
import { ViewManager } from "../runtime/views/viewManager.ts";
import { releaseOf } from "../src/manifest.ts";
import { sharedKafka } from "./helpers/kafka.ts";
import { random } from "./helpers/random.ts";

const MODEL = `DeployViewReading_${process.pid}`;
const { models } = parseModels([{ path: "datamodels/m.prisma", text: `model ${MODEL} {\n  id String\n  device String\n  value Int\n}\n` }]);
const VIEW = `per_device_${process.pid}`;
const parsed = parseViews([{ path: `views/${VIEW}.sql`, text: `SELECT device, count() AS n, sum(value) AS total, uniq(id) AS ids FROM ${MODEL} GROUP BY device` }]);
const logger = consoleLogger({ quiet: true });
const release = (views: typeof parsed.views) =>
  releaseOf({ models: models.models, views, functions: [], dashboards: {} }, { version: 0, createdAt: new Date().toISOString(), by: "test" });

let store: ChdbStore;
const streams: KafkaStream[] = [];
const workers: { pipeline: Pipeline; follower: DeployFollower }[] = [];

beforeAll(async () => {
  expect(parsed.errors).toEqual([]);
  store = await ChdbStore.open({ path: processChdbPath(), limits: DEFAULT_LIMITS.query, database: `deploy_views_${process.pid}` });
  const { brokers } = await sharedKafka();
  // v1 on empty engines: the table, no view.
  await rollout(store, release([]), { check: false, allowDestructive: false, keepColumns: false, waitMs: 10_000, say: () => {} });
  const channel = new DeployChannel(store);
  for (let i = 0; i < 2; i++) {
    const stream = await KafkaStream.connect({ brokers, partitions: 2, replicationFactor: 1, sessionTimeoutMs: 6000, clientId: `deploy-views-${process.pid}-${i}` });
    streams.push(stream);
    const pipeline = new Pipeline({ stream, store, logger, migrate: false });
    const state = await channel.state();
    const follower = new DeployFollower(channel, "worker", state, 1, { switchTo: async (r) => void (await pipeline.apply(r.models)), pause: (table) => pipeline.pauseWriter(table) }, logger);
    await follower.holdAsLogged();
    await pipeline.apply(models.models);
    await follower.start();
    workers.push({ pipeline, follower });
  }
});

afterAll(async () => {
  for (const { follower, pipeline } of workers) {
    await follower.stop();
    await pipeline.close();
  }
  for (const stream of streams) await stream.close();
  await store?.exec(`DROP DATABASE IF EXISTS deploy_views_${process.pid}`).catch(() => undefined);
  await store?.close();
});

const next = random(15);
let n = 0;
/** Ingests through the first worker's target, in small batches, until the returned function is called. */
function streamRecords(): () => Promise<void> {
  let sending = true;
  const sender = (async () => {
    while (sending) {
      const batch = Array.from({ length: 40 }, () => ({ id: `r-${n++}`, device: `d-${Math.floor(next() * 9)}`, value: Math.floor(next() * 1000) }));
      const verdict = await workers[0]!.pipeline.use(MODEL, (target) => ingest(streams[0]!, target, batch));
      expect(verdict?.accepted).toBe(batch.length);
      await Bun.sleep(5);
    }
  })();
  return async () => {
    sending = false;
    await sender;
    for (const { pipeline } of workers) expect(await pipeline.drain(30_000)).toBe(true);
  };
}
const rows = async () => Number((await store.query<{ c: string }>(`SELECT count() AS c FROM ${MODEL}`)).rows[0]!.c);
const viewAndScratch = async () => ({
  view: (await store.query(`SELECT device, toString(n) AS n, toString(total) AS total, toString(ids) AS ids FROM ${VIEW} ORDER BY device`)).rows,
  scratch: (await store.query(`SELECT device, toString(count()) AS n, toString(sum(value)) AS total, toString(uniq(id)) AS ids FROM ${MODEL} GROUP BY device ORDER BY device`)).rows,
});

test("a deploy builds an incremental view while two workers insert; it equals its SELECT from scratch", async () => {
  const stop = streamRecords();
  while ((await rows()) < 2000) await Bun.sleep(50);

  const lines: string[] = [];
  const report = await rollout(store, release(parsed.views), { check: false, allowDestructive: false, keepColumns: false, waitMs: 10_000, say: (line) => lines.push(line) });
  expect(report.plan.views.map((v) => v.kind)).toEqual(["create_view"]);
  expect(lines).toContain(`writers of ${MODEL} paused in 2 workers`);
  const before = await rows();
  while ((await rows()) < before + 2000) await Bun.sleep(50);
  await stop();

  const manager = new ViewManager(store);
  await manager.attach();
  expect(manager.kind(VIEW)).toBe("incremental");
  const { view, scratch } = await viewAndScratch();
  expect(view).toEqual(scratch);
  console.log(`incremental view deployed while 2 workers inserted: ${n} records, ${before} rows when the deploy returned; view equals its SELECT (${scratch.length} groups)`);
});

test("a hold its deploy stopped renewing runs out: the writers resume, and deploys run again", async () => {
  const channel = new DeployChannel(store);
  const { seq } = await channel.state();
  // A deploy that died right after holding: nothing renews or releases it.
  await channel.append({ kind: "hold", hold: "dead-deploy", tables: [MODEL], until: Date.now() + 3000 }, seq);
  const holding = async () => (await channel.processes(10_000)).filter((p) => p.holds.includes("dead-deploy")).length;
  while ((await holding()) < 2) await Bun.sleep(100);
  // A change (the view dropped) is refused beside the hold.
  const busy = await rollout(store, release([]), { check: false, allowDestructive: false, keepColumns: false, waitMs: 10_000, say: () => {} }).catch((error: unknown) => error);
  expect(busy).toMatchObject({ code: "E_DEPLOY_BUSY" });
  const began = Date.now();
  while ((await holding()) > 0) await Bun.sleep(100);
  console.log(`a dead deploy's hold ran out ${Date.now() - began} ms after both workers held it`);
  // Ingest is written again.
  const rows = async () => Number((await store.query<{ c: string }>(`SELECT count() AS c FROM ${MODEL}`)).rows[0]!.c);
  const before = await rows();
  await workers[0]!.pipeline.use(MODEL, (target) => ingest(streams[0]!, target, [{ id: "after-hold", device: "d-0", value: 1 }]));
  for (const { pipeline } of workers) expect(await pipeline.drain(30_000)).toBe(true);
  expect(await rows()).toBe(before + 1);
  const report = await rollout(store, release(parsed.views), { check: false, allowDestructive: false, keepColumns: false, waitMs: 10_000, say: () => {} });
  expect(report.unchanged).toBe(true);
});

test("a type change under the view, deployed with consent while the workers insert: altered under a hold, the view rebuilt, nothing lost", async () => {
  const widened = parseModels([{ path: "datamodels/m.prisma", text: `model ${MODEL} {\n  id String\n  device String\n  value BigInt\n}\n` }]).models.models;
  const v3 = releaseOf({ models: widened, views: parsed.views, functions: [], dashboards: {} }, { version: 0, createdAt: new Date().toISOString(), by: "test" });
  const options = { check: false, allowDestructive: false, keepColumns: false, waitMs: 10_000 };
  const refused = await rollout(store, v3, { ...options, say: () => {} }).catch((error: unknown) => error);
  expect(refused).toMatchObject({ code: "E_DESTRUCTIVE" });

  const stop = streamRecords();
  const before = await rows();
  while ((await rows()) < before + 1000) await Bun.sleep(50);
  const lines: string[] = [];
  const report = await rollout(store, v3, { ...options, allowDestructive: true, say: (line) => lines.push(line) });
  expect(report.plan.changes.map((c) => c.kind)).toEqual(["modify_column"]);
  expect(lines.filter((l) => l === `writers of ${MODEL} paused in 2 workers`).length).toBeGreaterThanOrEqual(1);
  const after = await rows();
  while ((await rows()) < after + 1000) await Bun.sleep(50);
  await stop();

  expect((await store.describeTable(MODEL))!.find((c) => c.name === "value")!.type).toBe("Int64");
  // Every record sent, once (the hold test above sent one more, `after-hold`).
  const stored = (await store.query<{ c: string; u: string }>(`SELECT toString(count()) AS c, toString(uniqExact(id)) AS u FROM ${MODEL} WHERE id LIKE 'r-%'`)).rows[0]!;
  expect(stored).toEqual({ c: String(n), u: String(n) });
  const { view, scratch } = await viewAndScratch();
  expect(view).toEqual(scratch);
  console.log(`value Int32 -> Int64 deployed while 2 workers inserted: ${n} records, each stored once; the view equals its SELECT`);
});

test("table options reach the table through a deploy: a skip index and a codec, then nothing left to do", async () => {
  const text = `model ${MODEL} {\n  id String\n  device String\n  value BigInt @codec("Delta, ZSTD(3)")\n  @@skipIndex(name: "idx_device", expr: "device", type: "bloom_filter(0.01)", granularity: 4)\n}\n`;
  const parsedModels = parseModels([{ path: "datamodels/m.prisma", text }]);
  expect(parsedModels.errors).toEqual([]);
  const v5 = releaseOf({ models: parsedModels.models.models, views: parsed.views, functions: [], dashboards: {} }, { version: 0, createdAt: new Date().toISOString(), by: "test" });
  const options = { check: false, allowDestructive: false, keepColumns: false, waitMs: 10_000, say: () => {} };
  const report = await rollout(store, v5, options);
  expect(new Set(report.plan.changes.map((c) => c.kind))).toEqual(new Set(["table_option"]));
  const { rows } = await store.query<{ name: string; type: string }>(`SELECT name, type FROM system.data_skipping_indices WHERE database = currentDatabase() AND table = '${MODEL}'`);
  expect(rows).toEqual([{ name: "idx_device", type: "bloom_filter" }]);
  const codec = (await store.query<{ c: string }>(`SELECT compression_codec AS c FROM system.columns WHERE database = currentDatabase() AND table = '${MODEL}' AND name = 'value'`)).rows[0]!.c;
  expect(codec).toBe("CODEC(Delta(8), ZSTD(3))");
  expect((await rollout(store, v5, options)).unchanged).toBe(true);
});

test("a process that cannot switch fails the deploy, and every process is sent back to the version before", async () => {
  const channel = new DeployChannel(store);
  const before = (await channel.state()).target!;
  // A third worker whose switch fails, as a function module that throws at import would.
  const broken = new DeployFollower(channel, "worker", await channel.state(), before.worker, {
    switchTo: async (r) => {
      throw new Error(`functions/boom.ts: loading the module threw (version ${r.version})`);
    },
    pause: async () => async () => {},
  }, logger);
  await broken.start();
  try {
    const text = `model ${MODEL} {\n  id String\n  device String\n  value BigInt @codec("Delta, ZSTD(3)")\n  note String?\n  @@skipIndex(name: "idx_device", expr: "device", type: "bloom_filter(0.01)", granularity: 4)\n}\n`;
    const v6 = releaseOf({ models: parseModels([{ path: "datamodels/m.prisma", text }]).models.models, views: parsed.views, functions: [], dashboards: {} }, { version: 0, createdAt: new Date().toISOString(), by: "test" });
    const lines: string[] = [];
    const failed = await rollout(store, v6, { check: false, allowDestructive: false, keepColumns: false, waitMs: 10_000, say: (line) => lines.push(line) }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: "E_DEPLOY_SWITCH", message: expect.stringContaining("loading the module threw") });
    expect(lines).toContain(`deploy failed; the processes were told to go back to version ${before.worker}.`);
    expect((await channel.state()).target).toEqual(before);
    // The two healthy workers went back too, and run on: ingest is written.
    const back = async () => (await channel.processes(10_000)).filter((p) => p.id !== broken.id).map((p) => p.version);
    while ((await back()).some((v) => v !== before.worker)) await Bun.sleep(100);
    const rows = async () => Number((await store.query<{ c: string }>(`SELECT count() AS c FROM ${MODEL} WHERE id = 'after-failed-deploy'`)).rows[0]!.c);
    await workers[0]!.pipeline.use(MODEL, (target) => ingest(streams[0]!, target, [{ id: "after-failed-deploy", device: "d-0", value: 1 }]));
    for (const { pipeline } of workers) expect(await pipeline.drain(30_000)).toBe(true);
    expect(await rows()).toBe(1);
  } finally {
    await broken.stop();
  }
});
