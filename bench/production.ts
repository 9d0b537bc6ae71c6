/**
 * `bun bench/production.ts`: the production path on real engines, in one run.
 *
 *   raw produce   the same events appended to Kafka with Igloo's own Kafka client
 *                 (KafkaStream.append, batches of 100 from 32 callers): the ceiling
 *   end-to-end    HTTP batches of 100 -> an `igloo start --role ingest` process -> Kafka
 *                 -> `--role worker` process(es) -> the ClickHouse server, timed until
 *                 every acknowledged event is counted in the table; with 1 and 2 workers,
 *                 and with 1 worker on a replicated cluster (two replicas, ZooKeeper)
 *
 * The broker, the server, the Igloo processes and the load generator share this
 * machine's cores, so the ratio matters more than the absolute figures.
 */
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { KafkaStream } from "../runtime/stream/kafka/kafkaStream.ts";
import { IGLOO, createKey, initProject, removeDir, startIgloo, type DevProcess } from "../scripts/lib/igloo.ts";
import { serverUrl, sharedClickHouse } from "../test/helpers/clickhouseServer.ts";
import { sharedKafka } from "../test/helpers/kafka.ts";
import { startClickHouseCluster } from "../test/helpers/clickhouseCluster.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 300_000);
const BATCH = 100;
const CONCURRENCY = 32;
const MODEL = `model BenchEvent {\n  id String\n  ts DateTime @db.DateTime64(0)\n  userId String\n  event String @db.LowCardinality\n  value Float\n  count Int @db.UInt32\n  @@key(userId)\n}\n`;

const event = (i: number) => ({ id: `e-${i}`, ts: "2026-01-01T00:00:00Z", userId: `user-${i % 5000}`, event: ["view", "click", "buy"][i % 3]!, value: (i % 1000) / 7, count: i % 100 });
const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });
const bodies = Array.from({ length: 500 }, (_, b) => Array.from({ length: BATCH }, (_, k) => event(b * BATCH + k)));

async function rawProduce(brokers: string[]): Promise<number> {
  const stream = await KafkaStream.connect({ brokers, partitions: 6, clientId: "bench-raw", replicationFactor: 1 });
  const topic = `bench_raw_${Date.now()}`;
  await stream.ensureTopic(topic);
  const values = bodies.map((batch) => batch.map((e) => ({ key: e.userId, value: JSON.stringify(e) })));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < EVENTS / BATCH) await stream.append(topic, values[next++ % values.length]!);
    }),
  );
  const rate = EVENTS / ((performance.now() - started) / 1000);
  await stream.close();
  return rate;
}

async function endToEnd(build: string, env: Record<string, string>, key: string, store: ClickHouseStore, workers: number): Promise<number> {
  const started: DevProcess[] = [];
  try {
    for (let i = 0; i < workers; i++) started.push(await startIgloo(build, "start", { binary: join(build, "igloo"), env, args: ["--role", "worker"] }));
    const ingest = await startIgloo(build, "start", { binary: join(build, "igloo"), env, args: ["--role", "ingest"] });
    started.push(ingest);
    const payloads = bodies.map((b) => JSON.stringify(b));
    const before = Number((await store.query<{ c: string }>("SELECT count() AS c FROM BenchEvent")).rows[0]!.c);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < EVENTS / BATCH) {
          const body = payloads[next++ % payloads.length]!;
          const response = await fetch(`${ingest.url}/ingest/BenchEvent`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body });
          if (response.status !== 200) throw new Error(`ingest answered ${response.status}: ${await response.text()}`);
          await response.arrayBuffer();
        }
      }),
    );
    // Every acknowledged event must arrive: a run that stops short fails, naming the shortfall.
    let stored = 0;
    let progressAt = performance.now();
    while (stored - before < EVENTS) {
      const now = Number((await store.query<{ c: string }>("SELECT count() AS c FROM BenchEvent")).rows[0]!.c);
      if (now !== stored) progressAt = performance.now();
      stored = now;
      if (performance.now() - progressAt > 60_000) throw new Error(`${fmt(EVENTS)} events acknowledged, ${fmt(stored - before)} stored after a minute without progress`);
      await Bun.sleep(50);
    }
    return EVENTS / ((performance.now() - t0) / 1000);
  } finally {
    await Promise.all(started.map((p) => p.stop()));
  }
}

const [kafka, clickhouse] = await Promise.all([sharedKafka(), sharedClickHouse()]);
const { key, entry } = createKey("admin");
const project = initProject("bench-prod");
for (const folder of ["datamodels", "functions", "views"]) for (const file of readdirSync(join(project, folder))) rmSync(join(project, folder, file));
writeFileSync(join(project, "datamodels", "BenchEvent.prisma"), MODEL);
const build = join(dirname(project), "build");
Bun.spawnSync([IGLOO, "build", "--out", build], { cwd: project });
const results: [string, string][] = [];
try {
  console.error("raw produce through KafkaStream...");
  const raw = await rawProduce(kafka.brokers);
  results.push(["raw produce, batches of 100 (events/s)", fmt(raw)]);
  for (const workers of [1, 2]) {
    // The query user of the test server reads database `igloo` only: each run starts it empty.
    const database = clickhouse.database;
    const admin = await ClickHouseStore.connect({ url: clickhouse.url, user: clickhouse.user, password: clickhouse.password, database });
    for (const table of await admin.listTables()) await admin.exec(`DROP TABLE ${table}`);
    await admin.close();
    const env = {
      IGLOO_KAFKA_BROKERS: kafka.brokers.join(","),
      IGLOO_KAFKA_PARTITIONS: "6",
      IGLOO_KAFKA_REPLICATION: "1",
      IGLOO_KAFKA_CLIENT_ID: `bench-${database}`,
      IGLOO_CLICKHOUSE_URL: serverUrl(clickhouse, clickhouse),
      IGLOO_CLICKHOUSE_QUERY_URL: serverUrl(clickhouse, clickhouse.reader),
      IGLOO_KEYS: entry,
      IGLOO_HOST: "127.0.0.1",
    };
    Bun.spawnSync([join(build, "igloo"), "migrate"], { cwd: build, env: { ...process.env, ...env } });
    const store = await ClickHouseStore.connect({ url: clickhouse.url, user: clickhouse.user, password: clickhouse.password, database });
    console.error(`end-to-end with ${workers} worker(s)...`);
    const rate = await endToEnd(build, env, key, store, workers);
    await store.close();
    results.push([`end-to-end, 1 ingest + ${workers} worker${workers > 1 ? "s" : ""} (events/s)`, `${fmt(rate)}  (${fmt((rate / raw) * 100)}% of raw produce)`]);
  }
  // The same with a replicated cluster (ZooKeeper, two 18.16 replicas): IGLOO_CLICKHOUSE_CLUSTER
  // and both replicas in IGLOO_CLICKHOUSE_URL; every insert is replicated to the other.
  console.error("end-to-end on a two-replica cluster, 1 worker...");
  const cluster = await startClickHouseCluster("bench-cluster");
  const [first] = cluster.replicas;
  const env = {
    IGLOO_KAFKA_BROKERS: kafka.brokers.join(","),
    IGLOO_KAFKA_PARTITIONS: "6",
    IGLOO_KAFKA_REPLICATION: "1",
    IGLOO_KAFKA_CLIENT_ID: "bench-cluster",
    IGLOO_CLICKHOUSE_URL: cluster.replicas.map((r) => serverUrl(r, r)).join(","),
    IGLOO_CLICKHOUSE_QUERY_URL: cluster.replicas.map((r) => serverUrl(r, r.reader)).join(","),
    IGLOO_CLICKHOUSE_CLUSTER: cluster.name,
    IGLOO_KEYS: entry,
    IGLOO_HOST: "127.0.0.1",
  };
  Bun.spawnSync([join(build, "igloo"), "migrate"], { cwd: build, env: { ...process.env, ...env } });
  const store = await ClickHouseStore.connect({ url: first!.url, user: first!.user, password: first!.password, database: first!.database });
  const rate = await endToEnd(build, env, key, store, 1);
  await store.close();
  const single = Number(results.find(([name]) => name.includes("1 worker ("))![1].split(" ")[0]!.replace(/,/g, ""));
  results.push(["end-to-end on a 2-replica cluster, 1 + 1 (events/s)", `${fmt(rate)}  (${fmt((rate / single) * 100)}% of the single server's 1 + 1)`]);
  await cluster.stop();
} finally {
  removeDir(dirname(project));
}
console.log(`\nIgloo production benchmark (${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, ${fmt(EVENTS)} events per run; Kafka 4.3.1, ClickHouse server ${"18.16"})`);
for (const [name, value] of results) console.log(`${name.padEnd(52)} ${value}`);
process.exit(0);
