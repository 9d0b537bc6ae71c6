/**
 * `bun bench/client.ts`: the generated client against `igloo dev`, in one run.
 *
 *   raw HTTP    batches of 500 events (the client's default batch) POSTed by hand, one
 *               request in flight, as the client keeps one batch per model in flight so
 *               records arrive in order
 *   client      the same events through `client.ingest.Model(record)` one call per
 *               event, default batching (500 records / 1 MiB / 50 ms)
 *   push        delay from an ingest's acknowledgement to the subscription callback
 *               seeing it, p50 and p99 over 100 ingests
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { countRows, initProject, removeDir, startDev } from "../scripts/lib/igloo.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 300_000);
const MODEL = `model Tick {\n  id String\n  n Int\n  source String @db.LowCardinality\n}\n`;
const VIEW = "SELECT source, count() AS ticks, max(n) AS last FROM Tick GROUP BY source";
const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;

const dir = initProject("bench-client");
writeFileSync(join(dir, "datamodels", "Tick.prisma"), MODEL);
writeFileSync(join(dir, "views", "ticks.sql"), VIEW);
const dev = await startDev(dir);
try {
  while (!(await Bun.file(join(dir, ".igloo", "client", "index.ts")).exists())) await Bun.sleep(50);
  const { createClient } = (await import(join(dir, ".igloo", "client", "index.ts"))) as {
    createClient(o: { url: string }): {
      ingest: { Tick(r: object): Promise<{ token: string }> };
      views: { ticks: { subscribe(p: object, on: (rows: { source: string; last: number }[]) => void): { close(): void } } };
      flush(): Promise<void>;
      close(): Promise<void>;
    };
  };

  const tick = (i: number, source: string) => ({ id: `t-${i}`, n: i % 1_000_000, source });
  // Like a program sending by hand: it builds and serialises each batch, as the client does.
  let started = performance.now();
  for (let n = 0; n < EVENTS / 500; n++) {
    const body = JSON.stringify(Array.from({ length: 500 }, (_, k) => tick(n * 500 + k, "raw")));
    const response = await fetch(`${dev.url}/ingest/Tick`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await response.arrayBuffer();
  }
  const raw = EVENTS / ((performance.now() - started) / 1000);

  const client = createClient({ url: dev.url });
  started = performance.now();
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < EVENTS; i++) {
    calls.push(client.ingest.Tick(tick(i, "client")));
    if (calls.length >= 20_000) await Promise.all(calls.splice(0));
  }
  await Promise.all(calls);
  const sdk = EVENTS / ((performance.now() - started) / 1000);

  started = performance.now();
  const grouped: Promise<unknown>[] = [];
  for (let i = 0; i < EVENTS; i += 100) {
    grouped.push(client.ingest.Tick(Array.from({ length: 100 }, (_, k) => tick(i + k, "client-arrays")) as unknown as object));
    // Stay under the client's 100,000-record buffer bound.
    if (grouped.length >= 200) await Promise.all(grouped.splice(0));
  }
  await Promise.all(grouped);
  const sdkArrays = EVENTS / ((performance.now() - started) / 1000);

  const delays: number[] = [];
  let seen = -1;
  let waiting: { n: number; at: number; resolve: () => void } | undefined;
  const subscription = client.views.ticks.subscribe({}, (rows) => {
    const last = Number(rows.find((r) => r.source === "push")?.last ?? -1);
    seen = Math.max(seen, last);
    if (waiting && seen >= waiting.n) {
      delays.push(performance.now() - waiting.at);
      waiting.resolve();
    }
  });
  for (let i = 0; i < 100; i++) {
    const arrived = new Promise<void>((resolve) => (waiting = { n: i, at: 0, resolve }));
    const response = await fetch(`${dev.url}/ingest/Tick`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(tick(i, "push")) });
    await response.arrayBuffer();
    waiting!.at = performance.now();
    await arrived;
  }
  subscription.close();
  await client.close();
  await countRows(dev.url, "Tick");

  console.log(`\nIgloo client benchmark (${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, ${fmt(EVENTS)} events)`);
  console.log(`raw HTTP batches of 500, 1 in flight (events/s)    ${fmt(raw)}`);
  console.log(`client.ingest one call per event, default batching  ${fmt(sdk)}  (${fmt((sdk / raw) * 100)}% of raw; target >= 90%)`);
  console.log(`client.ingest arrays of 100 per call                ${fmt(sdkArrays)}  (${fmt((sdkArrays / raw) * 100)}% of raw)`);
  console.log(`ack to subscription push, p50 / p99 (ms)            ${fmt(percentile(delays, 50))} / ${fmt(percentile(delays, 99))}  (target p99 < 1,000)`);
} finally {
  await dev.stop();
  removeDir(dirname(dir));
}
