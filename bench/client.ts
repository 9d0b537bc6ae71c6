/**
 * `bun bench/client.ts`: the generated client against `igloo dev`, in one run. Each way
 * sends 480,000 events of one model:
 *
 *   raw           batches of 500 (the client's default batch) built and POSTed by hand,
 *                 one request in flight (the client also keeps one per model in flight,
 *                 so records arrive in order)
 *   rawPipelined  the same, the next batch built while one is in flight
 *   calls         `client.ingest.Tick(event)`, one call per event, each with its promise
 *   sends         `client.ingest.Tick.send(event)`, one call per event, no promise
 *   burst         `client.ingest.Tick(event)` 20,000 times in one go, then all awaited:
 *                 the worst case, where the client's work never overlaps a request
 *   arrays        `client.ingest.Tick(events)` with 100 events per call
 *
 * Except in `burst`, events arrive in chunks of 500 with the event loop turning between
 * them, as they would from a socket or a file. The ways take turns over 6 rounds of
 * 80,000 events in a rotating order, each starting once everything sent before it is
 * stored; a ratio is the median over rounds of the ratio within each round. (Shorter
 * turns, 30,000 events, left the ratios at the mercy of the engine's background merges.)
 *
 *   push          delay from an ingest's acknowledgement to the subscription callback
 *                 seeing it, p50 and p99 over 100 ingests
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { countRows, eventually, initProject, removeDir, startDev } from "../scripts/lib/igloo.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 480_000);
const ROUNDS = 6;
type Way = "raw" | "rawPipelined" | "calls" | "sends" | "burst" | "arrays";
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
      ingest: { Tick: ((r: object) => Promise<{ token: string }>) & { send(r: object): void } };
      views: { ticks: { subscribe(p: object, on: (rows: { source: string; last: number }[]) => void): { close(): void } } };
      flush(): Promise<void>;
      close(): Promise<void>;
    };
  };

  const tick = (i: number, source: string) => ({ id: `t-${i}`, n: i % 1_000_000, source });
  const client = createClient({ url: dev.url });
  const post = async (body: string) => {
    const response = await fetch(`${dev.url}/ingest/Tick`, { method: "POST", headers: { "content-type": "application/json" }, body });
    await response.arrayBuffer();
  };
  const batch = (from: number) => JSON.stringify(Array.from({ length: 500 }, (_, k) => tick(from + k, "raw")));
  /** Events arrive in chunks of 500 with the event loop turning in between, as from a socket or a file. */
  const arrival = () => new Promise<void>((resolve) => setImmediate(resolve));
  const ways: Record<Way, (from: number, count: number) => Promise<void>> = {
    // By hand, the plain way: build and serialise a batch, send it, wait, go on.
    raw: async (from, count) => {
      for (let n = from; n < from + count; n += 500) await post(batch(n));
    },
    // By hand, the best way: the next batch is built while the previous one is in flight.
    rawPipelined: async (from, count) => {
      let inFlight: Promise<void> | undefined;
      for (let n = from; n < from + count; n += 500) {
        const body = batch(n);
        await inFlight;
        inFlight = post(body);
      }
      await inFlight;
    },
    calls: async (from, count) => {
      const calls: Promise<unknown>[] = [];
      for (let i = from; i < from + count; i++) {
        calls.push(client.ingest.Tick(tick(i, "calls")));
        if (i % 500 === 499) await arrival();
        if (calls.length >= 20_000) await Promise.all(calls.splice(0));
      }
      await Promise.all(calls);
    },
    sends: async (from, count) => {
      for (let i = from; i < from + count; i++) {
        client.ingest.Tick.send(tick(i, "sends"));
        if (i % 500 === 499) await arrival();
        if (i % 20_000 === 19_999) await client.flush();
      }
      await client.flush();
    },
    // The worst case: 20,000 calls in one go, then nothing until all are answered, so
    // the client's work never overlaps a request in flight.
    burst: async (from, count) => {
      const calls: Promise<unknown>[] = [];
      for (let i = from; i < from + count; i++) {
        calls.push(client.ingest.Tick(tick(i, "burst")));
        if (calls.length >= 20_000) await Promise.all(calls.splice(0));
      }
      await Promise.all(calls);
    },
    arrays: async (from, count) => {
      const calls: Promise<unknown>[] = [];
      for (let i = from; i < from + count; i += 100) {
        calls.push(client.ingest.Tick(Array.from({ length: 100 }, (_, k) => tick(i + k, "arrays")) as unknown as object));
        if (i % 500 === 400) await arrival();
        if (calls.length >= 200) await Promise.all(calls.splice(0));
      }
      await Promise.all(calls);
    },
  };
  // The ways take turns, in a rotating order, and each starts once the table writer has
  // stored everything sent before it: a sender that follows another would otherwise share
  // the server with the writer still inserting its predecessor's records.
  const order = Object.keys(ways) as Way[];
  const seconds = Object.fromEntries(order.map((way) => [way, [] as number[]])) as Record<Way, number[]>;
  const slice = EVENTS / ROUNDS;
  let offset = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < order.length; k++) {
      const way = order[(round + k) % order.length]!;
      await eventually(() => countRows(dev.url, "Tick"), (stored) => stored >= offset);
      const started = performance.now();
      await ways[way](offset, slice);
      seconds[way].push((performance.now() - started) / 1000);
      offset += slice;
    }
  }
  const rate = (way: Way) => EVENTS / seconds[way].reduce((sum, s) => sum + s, 0);
  /** The median over rounds of the ratio within each round, so a slow moment of the machine weighs on one round only. */
  const ratio = (way: Way, base: Way) => percentile(seconds[way].map((s, round) => seconds[base][round]! / s), 50);

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

  console.log(`\nIgloo client benchmark (${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, ${fmt(EVENTS)} events per way, events/s)`);
  const line = (label: string, way: Way, note = "") => {
    const of = (base: Way) => `${fmt(ratio(way, base) * 100)}%`;
    const ratios = way.startsWith("raw") ? "" : `  ${of("raw")} of raw, ${of("rawPipelined")} of pipelined raw${note}`;
    console.log(`${label.padEnd(62)} ${fmt(rate(way)).padStart(8)}${ratios}`);
  };
  line("raw HTTP batches of 500, built and sent one after another", "raw");
  line("raw HTTP batches of 500, next built while one is in flight", "rawPipelined");
  line("client.ingest.Tick.send(event), one call per event", "sends", "  (target >= 90%)");
  line("client.ingest.Tick(events), arrays of 100", "arrays", "  (target >= 90%)");
  line("client.ingest.Tick(event), one call and promise per event", "calls");
  line("client.ingest.Tick(event) in bursts of 20,000, then awaited", "burst");
  console.log(`ack to subscription push, p50 / p99 (ms)            ${fmt(percentile(delays, 50))} / ${fmt(percentile(delays, 99))}  (target p99 < 1,000)`);
} finally {
  await dev.stop();
  removeDir(dirname(dir));
}
