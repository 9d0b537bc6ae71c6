/**
 * `npm run bench`: Igloo's figures on this machine, in one run, against a baseline
 * measured in the same run. Prints a table; asserts nothing (machines are shared and
 * noisy: compare ratios, not absolute numbers, across runs).
 *
 *   baseline    the same events inserted straight into chDB through @clickhouse/client,
 *               100,000 per insert (the fastest a JS program can put them in the engine)
 *   end-to-end  HTTP batches of 100 events -> validation -> durable log -> table writer
 *               -> chDB, timed until every acknowledged event is counted in the table
 *   single      one event per request, acknowledged (durable) each
 *   freshness   delay from an ack to the event being queryable, p50 and p99
 *   startup     `igloo dev` start to its ready line; idle RSS after that
 *
 * With BENCH_PREVIOUS=<path of an earlier igloo binary>, end-to-end and single-event
 * ingest are also measured with that binary and this one in turns (three rounds each,
 * fresh projects, medians), to tell a change's cost from the machine's mood;
 * BENCH_COMPARE_ONLY=1 runs that comparison alone.
 */
import { createClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { IGLOO, countRows, initProject, query, removeDir, startDev, tempDir, type DevProcess } from "../scripts/lib/igloo.ts";

const E2E_EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const BATCH = 100;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const SINGLE_SECONDS = Number(process.env.BENCH_SINGLE_SECONDS ?? 5);
const SINGLE_CONCURRENCY = 64;
const PREVIOUS = process.env.BENCH_PREVIOUS;
const COMPARE_ROUNDS = 3;

const MODEL = `
model BenchEvent {
  id       String
  ts       DateTime
  userId   String
  event    String   @db.LowCardinality
  country  String   @db.LowCardinality
  value    Float
  count    Int      @db.UInt32
  ok       Boolean
  @@orderBy([event, ts])
}
`;
/** The same events through a function into a second model, for the cost of a function. */
const FUNCTION_MODEL = `
model BenchCopy {
  id     String
  userId String
  value  Float
}
`;
const FUNCTION = `import { defineFunction } from "igloo";

export default defineFunction({ from: "BenchEvent", to: "BenchCopy", run: (e) => ({ id: e.id, userId: e.userId, value: e.value }) });
`;
const TABLE_DDL = `CREATE TABLE BenchEvent (id String, ts DateTime64(3, 'UTC'), userId String, event LowCardinality(String), country LowCardinality(String), value Float64, count UInt32, ok Bool) ENGINE = MergeTree ORDER BY (event, ts)`;

function event(i: number) {
  return {
    id: `e-${i}`,
    ts: new Date(1_780_000_000_000 + i).toISOString(),
    userId: `user-${i % 5000}`,
    event: ["view", "click", "scroll", "buy"][i % 4]!,
    country: ["FR", "DE", "US", "JP", "BR", "IN"][i % 6]!,
    value: (i % 1000) / 7,
    count: i % 100,
    ok: i % 3 !== 0,
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function baseline(events: number): Promise<number> {
  const dir = tempDir("bench-baseline");
  const client = createClient({ connection: createChdbConnection({ path: join(dir, "chdb") }) } as unknown as Parameters<typeof createClient>[0]);
  try {
    await client.command({ query: TABLE_DDL });
    const chunk = 100_000;
    const rows = Array.from({ length: chunk }, (_, i) => event(i));
    const started = performance.now();
    for (let done = 0; done < events; done += chunk) {
      await client.insert({ table: "BenchEvent", values: rows, format: "JSONEachRow", clickhouse_settings: { date_time_input_format: "best_effort" } });
    }
    return events / ((performance.now() - started) / 1000);
  } finally {
    await client.close();
    removeDir(dir);
  }
}

async function endToEnd(dev: DevProcess, countTable = "BenchEvent"): Promise<number> {
  // Bodies are built before timing so the client's JSON work is not on the clock.
  const bodies = Array.from({ length: 1000 }, (_, b) => JSON.stringify(Array.from({ length: BATCH }, (_, k) => event(b * BATCH + k))));
  const requests = E2E_EVENTS / BATCH;
  const before = await countRows(dev.url, countTable);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests) {
      const n = next++;
      const response = await fetch(`${dev.url}/ingest/BenchEvent`, { method: "POST", headers: { "content-type": "application/json" }, body: bodies[n % bodies.length]! });
      if (response.status !== 200) throw new Error(`ingest answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const acked = performance.now();
  while ((await countRows(dev.url, countTable)) - before < E2E_EVENTS) await Bun.sleep(20);
  const counted = performance.now();
  console.error(`  end-to-end: acked ${fmt(E2E_EVENTS)} events in ${fmt(acked - started)} ms, all counted after ${fmt(counted - started)} ms`);
  return E2E_EVENTS / ((counted - started) / 1000);
}

async function singleEvents(dev: DevProcess): Promise<number> {
  const body = JSON.stringify(event(1));
  let requests = 0;
  const deadline = performance.now() + SINGLE_SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const response = await fetch(`${dev.url}/ingest/BenchEvent`, { method: "POST", headers: { "content-type": "application/json" }, body });
      if (response.status !== 200) throw new Error(`ingest answered ${response.status}`);
      await response.arrayBuffer();
      requests++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: SINGLE_CONCURRENCY }, worker));
  return requests / ((performance.now() - started) / 1000);
}

/** Steady load of one batch every 20 ms; a poller notes when each batch becomes visible. */
async function freshness(dev: DevProcess): Promise<{ p50: number; p99: number; samples: number }> {
  const base = Number((await query<{ m: string }>(dev.url, "SELECT toString(max(count)) AS m FROM BenchEvent WHERE event = 'fresh'"))[0]?.m || 0) + 1;
  const acks = new Map<number, number>();
  const delays: number[] = [];
  let sending = true;
  const sender = (async () => {
    for (let seq = base; seq < base + 250; seq++) {
      const batch = Array.from({ length: BATCH }, (_, k) => ({ ...event(seq * BATCH + k), event: "fresh", count: seq }));
      const response = await fetch(`${dev.url}/ingest/BenchEvent`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch) });
      if (response.status !== 200) throw new Error(`ingest answered ${response.status}`);
      acks.set(seq, performance.now());
      await Bun.sleep(20);
    }
    sending = false;
  })();
  let seen = base - 1;
  while (sending || seen < base + 249) {
    const [row] = await query<{ m: string }>(dev.url, "SELECT toString(max(count)) AS m FROM BenchEvent WHERE event = 'fresh'");
    const now = performance.now();
    const max = Number(row?.m ?? 0);
    for (let s = seen + 1; s <= max; s++) {
      const ackedAt = acks.get(s);
      if (ackedAt !== undefined) delays.push(now - ackedAt);
    }
    seen = Math.max(seen, max);
    await Bun.sleep(5);
  }
  await sender;
  return { p50: percentile(delays, 50), p99: percentile(delays, 99), samples: delays.length };
}

/** Time from saving a file to the dev server's log saying the change is live. */
async function reloadMs(dev: DevProcess, write: () => void, done: RegExp): Promise<number> {
  const mark = dev.output().length;
  const started = performance.now();
  write();
  while (!done.test(dev.output().slice(mark))) {
    if (performance.now() - started > 10_000) throw new Error(`no reload seen for ${done}:\n${dev.output().slice(mark)}`);
    await Bun.sleep(2);
  }
  return performance.now() - started;
}

async function reloads(dir: string, dev: DevProcess): Promise<{ fn: number; view: number; model: number }> {
  const fnFile = join(dir, "functions", "benchCopy.ts");
  const viewFile = join(dir, "views", "bench_by_event.sql");
  const modelFile = join(dir, "datamodels", "BenchCopy.prisma");
  const fn: number[] = [];
  const view: number[] = [];
  const model: number[] = [];
  for (let i = 1; i <= 5; i++) {
    fn.push(await reloadMs(dev, () => writeFileSync(fnFile, FUNCTION.replace("value: e.value", `value: e.value * ${i}`)), /reloaded function benchCopy/));
    view.push(await reloadMs(dev, () => writeFileSync(viewFile, `SELECT userId, count() AS c${i} FROM BenchCopy GROUP BY userId`), /view bench_by_event/));
    model.push(await reloadMs(dev, () => writeFileSync(modelFile, FUNCTION_MODEL.replace("value  Float", `value  Float\n  extra${i} String?`)), new RegExp(`add column BenchCopy.extra${i}`)));
  }
  return { fn: percentile(fn, 50), view: percentile(view, 50), model: percentile(model, 50) };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** End-to-end and single-event ingest with one binary, on a fresh project. */
async function ingestFigures(binary: string): Promise<{ e2e: number; single: number }> {
  const dir = initProject("bench-compare");
  writeFileSync(join(dir, "datamodels", "BenchEvent.prisma"), MODEL);
  const dev = await startDev(dir, { binary });
  try {
    return { e2e: await endToEnd(dev), single: await singleEvents(dev) };
  } finally {
    await dev.stop();
    removeDir(dirname(dir));
  }
}

/** The previous binary and this one in turns; medians of each. */
async function compare(previous: string): Promise<[string, string, string][]> {
  const runs: Record<"previous" | "current", { e2e: number; single: number }[]> = { previous: [], current: [] };
  for (let round = 1; round <= COMPARE_ROUNDS; round++) {
    for (const [which, binary] of [["previous", previous], ["current", IGLOO]] as const) {
      console.error(`comparison round ${round}: ${which} binary...`);
      runs[which].push(await ingestFigures(binary));
    }
  }
  const median = (list: number[]) => percentile(list, 50);
  const e2e = { previous: median(runs.previous.map((r) => r.e2e)), current: median(runs.current.map((r) => r.e2e)) };
  const single = { previous: median(runs.previous.map((r) => r.single)), current: median(runs.current.map((r) => r.single)) };
  return [
    ["end-to-end, previous / this binary (events/s)", `${fmt(e2e.previous)} / ${fmt(e2e.current)}`, `${fmt((e2e.current / e2e.previous) * 100)}% of previous (medians of ${COMPARE_ROUNDS} turns each)`],
    ["single-event, previous / this binary (req/s)", `${fmt(single.previous)} / ${fmt(single.current)}`, `${fmt((single.current / single.previous) * 100)}% of previous`],
  ];
}

async function main(): Promise<void> {
  if (PREVIOUS && process.env.BENCH_COMPARE_ONLY === "1") {
    for (const [name, value, note] of await compare(PREVIOUS)) console.log(`${name}  ${value}  ${note}`);
    return;
  }
  console.error("baseline: chDB through @clickhouse/client, 100k rows per insert...");
  const baseRate = await baseline(Math.min(E2E_EVENTS, 1_000_000));

  const dir = initProject("bench");
  writeFileSync(join(dir, "datamodels", "BenchEvent.prisma"), MODEL);
  try {
    let started = performance.now();
    let dev = await startDev(dir);
    const coldReady = performance.now() - started;
    await dev.stop();
    started = performance.now();
    dev = await startDev(dir);
    const warmReady = performance.now() - started;
    await Bun.sleep(2000);
    const idleRss = rssMb(dev.proc.pid);

    console.error("end-to-end: HTTP batches of 100...");
    const e2e = await endToEnd(dev);
    console.error("single-event requests...");
    const single = await singleEvents(dev);
    console.error("ack-to-queryable...");
    const fresh = await freshness(dev);
    const loadedRss = rssMb(dev.proc.pid);
    await dev.stop();

    console.error("a function in the middle: BenchEvent -> BenchCopy (a new project)...");
    const fnDir = initProject("bench-fn");
    // The raw events only feed the function: stream-only, so each event is stored once.
    writeFileSync(join(fnDir, "datamodels", "BenchEvent.prisma"), MODEL.replace("@@orderBy([event, ts])", "@@streamOnly"));
    writeFileSync(join(fnDir, "datamodels", "BenchCopy.prisma"), FUNCTION_MODEL);
    writeFileSync(join(fnDir, "functions", "benchCopy.ts"), FUNCTION);
    writeFileSync(join(fnDir, "views", "bench_by_event.sql"), "SELECT userId, count() AS c FROM BenchCopy GROUP BY userId");
    let withFunction: number;
    let reload: { fn: number; view: number; model: number };
    try {
      dev = await startDev(fnDir);
      withFunction = await endToEnd(dev, "BenchCopy");
      console.error("reload times...");
      reload = await reloads(fnDir, dev);
      await dev.stop();
    } finally {
      removeDir(dirname(fnDir));
    }

    const rows: [string, string, string][] = [
      ["baseline: chDB insert via client (events/s)", fmt(baseRate), ""],
      ["end-to-end, batches of 100 (events/s)", fmt(e2e), `${fmt((e2e / baseRate) * 100)}% of baseline; target >= 200,000`],
      ["single-event requests (req/s)", fmt(single), "target >= 20,000"],
      ["ack to queryable p50 / p99 (ms)", `${fmt(fresh.p50)} / ${fmt(fresh.p99)}`, `${fresh.samples} batches; target p99 < 1,000`],
      ["end-to-end with one function in the middle (events/s)", fmt(withFunction), `${fmt((withFunction / e2e) * 100)}% of the pipeline without it; target >= 70%`],
      ["save to live, p50 of 5: function / view / model (ms)", `${fmt(reload.fn)} / ${fmt(reload.view)} / ${fmt(reload.model)}`, "targets < 300 / < 300 / < 500"],
      ["igloo dev start to ready, new / existing project (ms)", `${fmt(coldReady)} / ${fmt(warmReady)}`, "target < 1,500"],
      ["RSS idle / after load (MB)", `${fmt(idleRss)} / ${fmt(loadedRss)}`, "target idle < 400"],
    ];
    if (PREVIOUS) rows.push(...(await compare(PREVIOUS)));
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(`\nIgloo benchmark (${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, ${fmt(E2E_EVENTS)} events end-to-end)`);
    for (const [name, value, note] of rows) console.log(`${name.padEnd(width)}  ${value.padStart(17)}  ${note}`);
  } finally {
    removeDir(dirname(dir));
  }
}

await main();
