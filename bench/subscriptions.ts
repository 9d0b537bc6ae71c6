/**
 * Live subscriptions at scale (`npm run bench:subscriptions`): `igloo dev` ingesting
 * 20,000 events/s while subscribers follow a parameterized view over 100 parameter
 * values, first 100 subscribers (one per value), then 10,000 (a hundred per value).
 * Printed per phase: push delay after the ack (p50, p99, max: for every batch a
 * subscriber should see, the time from the batch's acknowledgement to the first push
 * that shows it), the server's CPU and memory, and the ratios of the 10,000 phase to the
 * 100 one. Targets (issue 13): p99 under 1 s with 10,000 subscribers; CPU at most 3
 * times that with 100.
 *
 * Then ingest at full speed into the template's PageView, alone, with 20 subscribers to
 * `top_pages` (a FINAL aggregation over the growing table: each re-read costs more than
 * the last), and alone again: the events/s subscriptions leave ingest.
 *
 * Subscribers are raw TCP connections in this process (an HTTP request, then the event
 * stream read as text), so that 10,000 of them cost this process little. With
 * BENCH_PREVIOUS=<igloo binary> the same phases run against that build too.
 *
 *   BENCH_SECONDS   measured seconds per phase (default 20)
 *   BENCH_RATE      events per second (default 20,000)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initProject, removeDir, startDev, type DevProcess } from "../scripts/lib/igloo.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const RATE = Number(process.env.BENCH_RATE ?? 20_000);
const BUCKETS = 100;
const BATCHES_PER_SECOND = 20;
const PER_BATCH = RATE / BATCHES_PER_SECOND;

interface Phase {
  readonly subscribers: number;
  /** The server's own push delay (igloo_live_push_delay_seconds, from seeing a change to sending it): p50 and p99 bucket bounds, ms. */
  readonly serverP50: number;
  readonly serverP99: number;
  /** This process's CPU (the subscribers and the ingest client), for context. */
  readonly clientCpu: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Batches subscribers had not been shown by the end of the phase (after a 5 s grace). */
  readonly missing: number;
  readonly cpu: number;
  readonly rssMb: number;
  readonly events: number;
}

/** Milliseconds, bucketed by millisecond. */
class Delays {
  readonly counts = new Uint32Array(120_001);
  total = 0;
  add(ms: number): void {
    this.counts[Math.min(120_000, Math.max(0, Math.round(ms)))]!++;
    this.total++;
  }
  quantile(q: number): number {
    let seen = 0;
    for (let ms = 0; ms < this.counts.length; ms++) if ((seen += this.counts[ms]!) >= q * this.total) return ms;
    return NaN;
  }
}

/** The cumulative buckets of igloo_live_push_delay_seconds, by upper bound in ms. */
async function serverDelays(url: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const [, le, n] of text.matchAll(/^igloo_live_push_delay_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) buckets.set(le === "+Inf" ? Infinity : Number(le) * 1000, Number(n));
  return buckets;
}

/** The bucket bound under which `q` of the pushes between two scrapes fell. */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const bound of bounds) if ((after.get(bound) ?? 0) - (before.get(bound) ?? 0) >= q * total) return bound;
  return NaN;
}

function serverCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function serverRssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
}

/** One subscriber: a raw connection reading `bucket_last` pushes for its bucket. */
interface Subscriber {
  readonly bucket: number;
  seen: number;
  ready: boolean;
  tail: string;
}

async function runAgainst(binary: string | undefined, label: string): Promise<Phase[]> {
  const dir = initProject("bench-subscriptions");
  for (const file of ["views/sales_by_sku.sql", "views/top_pages.sql", "views/user_purchases.sql", "views/views_per_minute.sql", "functions/purchaseItems.ts"]) {
    try {
      removeDir(join(dir, file));
    } catch {
      // not in this template
    }
  }
  writeFileSync(join(dir, "datamodels", "Tick.prisma"), "model Tick {\n  bucket Int @db.UInt32\n  seq Int @db.UInt32\n  @@orderBy([bucket, seq])\n}\n");
  writeFileSync(join(dir, "views", "bucket_last.sql"), "SELECT max(seq) AS last, count() AS n FROM Tick WHERE bucket = {bucket:UInt32}\n");
  const dev: DevProcess = await startDev(dir, {
    ...(binary === undefined ? {} : { binary }),
    env: { IGLOO_MAX_SUBSCRIPTIONS: "20000", IGLOO_MAX_SUBSCRIPTIONS_PER_CLIENT: "20000", ...(process.env.BENCH_LIVE_CPU ? { IGLOO_LIVE_CPU_PERCENT: process.env.BENCH_LIVE_CPU } : {}) },
    timeoutMs: 60_000,
  });
  const pid = dev.proc.pid;
  const acked: number[] = [];
  let batch = 0;
  let ingesting = true;
  let inFlight = 0;
  let events = 0;
  const delays = { current: new Delays() };
  const subscribers: Subscriber[] = [];
  const sockets: { end(): void }[] = [];

  const ingest = async () => {
    const started = performance.now();
    while (ingesting) {
      const due = started + (batch * 1000) / BATCHES_PER_SECOND;
      if (performance.now() < due || inFlight >= 4) {
        await Bun.sleep(Math.max(1, Math.min(10, due - performance.now())));
        continue;
      }
      const seq = ++batch;
      const body = JSON.stringify(Array.from({ length: PER_BATCH }, (_, i) => ({ bucket: i % BUCKETS, seq })));
      inFlight++;
      void fetch(`${dev.url}/ingest/Tick`, { method: "POST", headers: { "content-type": "application/json" }, body })
        .then((response) => {
          if (response.status !== 200) throw new Error(`ingest answered ${response.status}`);
          acked[seq] = performance.now();
          events += PER_BATCH;
        })
        .finally(() => inFlight--);
    }
  };

  const subscribe = async (bucket: number) => {
    const subscriber: Subscriber = { bucket, seen: -1, ready: false, tail: "" };
    subscribers.push(subscriber);
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: dev.port,
      socket: {
        open(s) {
          s.write(`GET /views/bucket_last/events?bucket=${bucket} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
        },
        data(_, data) {
          const text = subscriber.tail + data.toString();
          subscriber.tail = text.slice(-64);
          const now = performance.now();
          for (const match of text.matchAll(/"last":"?(\d+)/g)) {
            const last = Number(match[1]);
            if (!subscriber.ready) {
              subscriber.ready = true;
              subscriber.seen = last;
              continue;
            }
            for (let k = subscriber.seen + 1; k <= last; k++) delays.current.add(acked[k] === undefined ? 0 : now - acked[k]!);
            subscriber.seen = Math.max(subscriber.seen, last);
          }
        },
      },
    });
    sockets.push(socket);
  };

  const phases: Phase[] = [];
  try {
    void ingest();
    for (const target of [100, 10_000]) {
      for (let i = subscribers.length; i < target; i += 500) await Promise.all(Array.from({ length: Math.min(500, target - i) }, (_, k) => subscribe((i + k) % BUCKETS)));
      const deadline = Date.now() + 60_000;
      while (subscribers.some((s) => !s.ready)) {
        if (Date.now() > deadline) throw new Error(`${subscribers.filter((s) => !s.ready).length} subscribers got no first rows in 60 s`);
        await Bun.sleep(50);
      }
      await Bun.sleep(3_000);
      delays.current = new Delays();
      const [cpu0, events0, t0, server0, client0] = [serverCpuSeconds(pid), events, performance.now(), await serverDelays(dev.url), process.cpuUsage()];
      await Bun.sleep(SECONDS * 1000);
      const [cpu1, events1, batch1, t1, server1, client1] = [serverCpuSeconds(pid), events, batch, performance.now(), await serverDelays(dev.url), process.cpuUsage(client0)];
      const measured = delays.current;
      await Bun.sleep(5_000);
      const missing = subscribers.reduce((sum, s) => sum + Math.max(0, batch1 - s.seen), 0);
      phases.push({
        subscribers: target,
        serverP50: bucketQuantile(server0, server1, 0.5),
        serverP99: bucketQuantile(server0, server1, 0.99),
        clientCpu: (client1.user + client1.system) / 1e6 / ((t1 - t0) / 1000),
        p50: measured.quantile(0.5),
        p99: measured.quantile(0.99),
        max: measured.quantile(1),
        missing,
        cpu: (cpu1 - cpu0) / ((t1 - t0) / 1000),
        rssMb: serverRssMb(pid),
        events: (events1 - events0) / ((t1 - t0) / 1000),
      });
      console.error(`${label}: ${target} subscribers measured`);
    }
  } finally {
    ingesting = false;
    for (const socket of sockets) socket.end();
    await dev.stop();
    removeDir(join(dir, ".."));
  }
  return phases;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function report(label: string, phases: Phase[]): void {
  const [few, many] = phases as [Phase, Phase];
  console.log(`\n${label}`);
  console.log(`${"subscribers".padEnd(14)}${"events/s".padStart(10)}${"push p50 ms".padStart(13)}${"p99 ms".padStart(9)}${"max ms".padStart(9)}${"missed".padStart(8)}${"server CPU".padStart(12)}${"RSS MB".padStart(9)}${"server's p50/p99 ms".padStart(21)}${"bench CPU".padStart(11)}`);
  for (const p of phases) {
    console.log(`${fmt(p.subscribers).padEnd(14)}${fmt(p.events).padStart(10)}${fmt(p.p50).padStart(13)}${fmt(p.p99).padStart(9)}${fmt(p.max).padStart(9)}${fmt(p.missing).padStart(8)}${`${fmt(p.cpu * 100)}%`.padStart(12)}${fmt(p.rssMb).padStart(9)}${`<${fmt(p.serverP50)} / <${fmt(p.serverP99)}`.padStart(21)}${`${fmt(p.clientCpu * 100)}%`.padStart(11)}`);
  }
  console.log(`10,000 vs 100: CPU ${fmt(many.cpu / few.cpu, 2)}x (target <= 3), memory per subscriber ${fmt(((many.rssMb - few.rssMb) * 1024) / (many.subscribers - few.subscribers), 1)} KiB, p99 ${fmt(many.p99)} ms (target < 1,000)`);
}

/** Ingest at full speed (4 requests of 1,000 page views in flight) for `seconds`, with `subscribers` on top_pages. */
async function starvation(seconds: number): Promise<{ label: string; events: number; cpu: number; pushes: number }[]> {
  const dir = initProject("bench-starvation");
  const dev = await startDev(dir, { timeoutMs: 60_000 });
  const results: { label: string; events: number; cpu: number; pushes: number }[] = [];
  let n = 0;
  try {
    for (const [label, count] of [["alone", 0], ["20 subscribers on top_pages", 20], ["alone again", 0]] as const) {
      let pushes = 0;
      const sockets = await Promise.all(
        Array.from({ length: count }, () =>
          Bun.connect({
            hostname: "127.0.0.1",
            port: dev.port,
            socket: {
              open: (s) => void s.write("GET /views/top_pages/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
              data: (_, d) => void (pushes += (d.toString().match(/event: rows/g) ?? []).length),
            },
          }),
        ),
      );
      const [cpu0, t0] = [serverCpuSeconds(dev.proc.pid), performance.now()];
      let events = 0;
      const worker = async () => {
        while (performance.now() - t0 < seconds * 1000) {
          const body = JSON.stringify(Array.from({ length: 1000 }, () => ({ userId: `u-${n % 997}`, path: `/p${n++ % 50}`, country: "FR", device: "desktop", durationMs: n % 5000 })));
          const response = await fetch(`${dev.url}/ingest/PageView`, { method: "POST", headers: { "content-type": "application/json" }, body });
          if (response.status !== 200) throw new Error(`ingest answered ${response.status}`);
          events += 1000;
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      const wall = (performance.now() - t0) / 1000;
      results.push({ label, events: events / wall, cpu: (serverCpuSeconds(dev.proc.pid) - cpu0) / wall, pushes: pushes / wall });
      for (const socket of sockets) socket.end();
      console.error(`starvation: ${label} measured`);
    }
  } finally {
    await dev.stop();
    removeDir(join(dir, ".."));
  }
  return results;
}

console.log(`live subscriptions benchmark (${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores): ${fmt(RATE)} events/s, ${BUCKETS} parameter values, ${SECONDS} s per phase`);
report("this build", await runAgainst(undefined, "this build"));
const starved = await starvation(Number(process.env.BENCH_STARVE_SECONDS ?? 30));
console.log(`\ningest at full speed into the template's PageView (${process.env.BENCH_STARVE_SECONDS ?? 30} s each)`);
for (const r of starved) console.log(`${r.label.padEnd(30)}${`${fmt(r.events)} events/s`.padStart(18)}${`server CPU ${fmt(r.cpu * 100)}%`.padStart(18)}${r.pushes > 0 ? `   ${fmt(r.pushes, 1)} pushes/s received` : ""}`);
console.log(`with 20 subscribers: ${fmt((starved[1]!.events / ((starved[0]!.events + starved[2]!.events) / 2)) * 100)}% of ingest alone (the mean of before and after)`);
if (process.env.BENCH_PREVIOUS) report(`previous build (${process.env.BENCH_PREVIOUS})`, await runAgainst(process.env.BENCH_PREVIOUS, "previous"));
process.exit(0);
