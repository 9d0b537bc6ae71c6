/**
 * Throughput of the embedded stream log (not a test).
 *
 *   bun bench/embeddedLog.ts [seconds-per-scenario]
 *
 * Appends from many concurrent callers, each awaiting its append before the next, as the
 * ingest server does; then consumes everything back; then reopens the log to time
 * recovery. Uses a temporary directory on the same disk as the OS temp dir.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { appendScenario } from "./lib/streamScenarios.ts";

const seconds = Number(process.argv[2] ?? 3);

async function consumeAll(log: EmbeddedLog, topic: string): Promise<{ records: number; elapsed: number }> {
  const end = (await log.endOffsets(topic)).get(0) ?? 0;
  let records = 0;
  const start = performance.now();
  const { promise, resolve } = Promise.withResolvers<void>();
  const subscription = await log.subscribe({
    topic,
    group: "bench",
    maxBatchRecords: 10_000,
    maxWaitMs: 10,
    handle: async (batch) => {
      records += batch.records.length;
      if (batch.nextOffset >= end) resolve();
    },
  });
  await promise;
  await subscription.close();
  return { records, elapsed: (performance.now() - start) / 1000 };
}

const dir = await mkdtemp(join(tmpdir(), "igloo-bench-log-"));
try {
  let log = await EmbeddedLog.open({ dir });
  const batched = await appendScenario(log, "batched", 50, 100, seconds);
  console.log(
    `batches of 100 x ~150 B, 50 callers: ${batched.recordsPerSecond.toLocaleString()} records/s (${batched.appendsPerSecond.toLocaleString()} appends/s)`,
  );
  const single = await appendScenario(log, "single", 64, 1, seconds);
  console.log(`single-record appends, 64 callers: ${single.appendsPerSecond.toLocaleString()} appends/s`);
  const consumed = await consumeAll(log, "batched");
  console.log(`consume ${consumed.records.toLocaleString()} records: ${Math.round(consumed.records / consumed.elapsed).toLocaleString()} records/s`);
  await log.close();

  let bytes = 0;
  for (const file of await readdir(dir, { recursive: true })) {
    const info = await stat(join(dir, file));
    if (info.isFile()) bytes += info.size;
  }
  const reopenStart = performance.now();
  log = await EmbeddedLog.open({ dir });
  console.log(`reopen (${Math.round(bytes / 1024 / 1024)} MiB of log): ${Math.round(performance.now() - reopenStart)} ms`);
  await log.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
