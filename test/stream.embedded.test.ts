import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedLog, joinValues } from "../runtime/stream/embedded/embeddedLog.ts";
import type { EmbeddedLogOptions } from "../runtime/stream/embedded/embeddedLog.ts";
import { StreamUnavailableError } from "../runtime/stream/stream.ts";
import type { RecordBatch, StreamRecord } from "../runtime/stream/stream.ts";
import { streamConformance, uniqueName } from "./conformance/stream.ts";
import { CRASH_BATCH_RECORDS, CRASH_TOPIC } from "./fixtures/stream-crash-writer.ts";
import { EFBIG_TOPIC, efbigRecords } from "./fixtures/stream-efbig-writer.ts";

const BUN = process.execPath;
const directories: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "igloo-stream-"));
  directories.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(directories.map((dir) => rm(dir, { recursive: true, force: true })));
});

streamConformance("EmbeddedLog", async () => {
  const dir = await tempDir();
  const stream = await EmbeddedLog.open({ dir });
  return { stream, cleanup: () => stream.close() };
});

const opened: EmbeddedLog[] = [];

async function open(dir: string, options: Omit<EmbeddedLogOptions, "dir"> = {}): Promise<EmbeddedLog> {
  const log = await EmbeddedLog.open({ dir, ...options });
  opened.push(log);
  return log;
}

// A failed test leaves its log open; close it so its file handles do not outlive the test.
afterEach(async () => {
  await Promise.all(opened.splice(0).map((log) => log.close()));
});

function records(from: number, count: number, padding = 0): { key: string; value: string }[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `k${from + i}`,
    value: JSON.stringify({ i: from + i, padding: "p".repeat(padding) }),
  }));
}

function ids(list: readonly StreamRecord[]): number[] {
  return list.map((record) => (JSON.parse(new TextDecoder().decode(record.value)) as { i: number }).i);
}

/** Every record of the topic, read by a fresh group from the oldest record kept. */
async function readAll(log: EmbeddedLog, topic: string, timeoutMs = 10_000): Promise<StreamRecord[]> {
  const end = (await log.endOffsets(topic)).get(0) ?? 0;
  const all: StreamRecord[] = [];
  if (end === 0) return all;
  const { promise, resolve } = Promise.withResolvers<void>();
  const subscription = await log.subscribe({
    topic,
    group: uniqueName("reader"),
    maxBatchRecords: 100_000,
    maxWaitMs: 5,
    handle: async (batch) => {
      all.push(...batch.records);
      if (batch.nextOffset >= end) resolve();
    },
  });
  const timer = setTimeout(() => resolve(), timeoutMs);
  await promise;
  clearTimeout(timer);
  await subscription.close();
  expect(all[all.length - 1]?.offset).toBe(end - 1);
  return all;
}

async function segmentFiles(dir: string, topic: string): Promise<string[]> {
  return (await readdir(join(dir, "topics", topic))).filter((name) => name.endsWith(".log")).sort();
}

async function lastSegment(dir: string, topic: string): Promise<string> {
  const files = await segmentFiles(dir, topic);
  const last = files[files.length - 1];
  if (!last) throw new Error(`no segment in ${topic}`);
  return join(dir, "topics", topic, last);
}

describe("EmbeddedLog", () => {
  test("reopening keeps records across segments, committed offsets and intents", async () => {
    const dir = await tempDir();
    let log = await open(dir, { segmentBytes: 2048 });
    await log.ensureTopic("events");
    for (let i = 0; i < 20; i++) await log.append("events", records(i * 10, 10, 40));
    const { promise: handled, resolve } = Promise.withResolvers<void>();
    const subscription = await log.subscribe({
      topic: "events",
      group: "writer",
      maxBatchRecords: 50,
      maxWaitMs: 5,
      handle: async (batch) => {
        if (batch.firstOffset === 0) return;
        await batch.saveIntent("dedup-50");
        resolve();
        throw new Error("stop here");
      },
      retryDelayMs: 60_000,
    });
    await handled;
    await subscription.close();
    await log.close();
    expect((await segmentFiles(dir, "events")).length).toBeGreaterThan(5);

    log = await open(dir, { segmentBytes: 2048 });
    expect(await log.endOffsets("events")).toEqual(new Map([[0, 200]]));
    expect(await log.committed("events", "writer")).toEqual(new Map([[0, { offset: 50, intent: "dedup-50" }]]));
    const all = await readAll(log, "events");
    expect(all.map((record) => record.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(ids(all)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(all[123]?.key).toBe("k123");

    // The group resumes with the interrupted batch, then goes on normally.
    const batches: RecordBatch[] = [];
    const { promise: caughtUp, resolve: done } = Promise.withResolvers<void>();
    const resumed = await log.subscribe({
      topic: "events",
      group: "writer",
      maxBatchRecords: 70,
      maxWaitMs: 5,
      handle: async (batch) => {
        batches.push(batch);
        if (batch.nextOffset === 200) done();
      },
    });
    await caughtUp;
    await resumed.close();
    expect(batches[0]).toMatchObject({ firstOffset: 50, nextOffset: 100, replayedIntent: "dedup-50" });
    expect(batches.slice(1).map((batch) => [batch.firstOffset, batch.nextOffset])).toEqual([
      [100, 170],
      [170, 200],
    ]);
    await log.close();
  });

  test("a group resumes mid-segment after reopen, found through the sparse index", async () => {
    const dir = await tempDir();
    const options = { segmentBytes: 1024 * 1024 };
    let log = await open(dir, options);
    await log.ensureTopic("t");
    await Promise.all(Array.from({ length: 8 }, async (_, caller) => {
      for (let i = 0; i < 50; i++) await log.append("t", records((caller * 50 + i) * 20, 20, 200));
    }));
    expect(await log.endOffsets("t")).toEqual(new Map([[0, 8000]]));
    await consumeUpTo(log, "g", 4321, 4321);
    await log.close();
    expect((await segmentFiles(dir, "t")).length).toBeGreaterThan(1);

    log = await open(dir, options);
    const { promise, resolve } = Promise.withResolvers<RecordBatch>();
    const subscription = await log.subscribe({ topic: "t", group: "g", maxBatchRecords: 3000, maxWaitMs: 5, handle: async (batch) => resolve(batch) });
    const batch = await promise;
    await subscription.close();
    expect(batch.firstOffset).toBe(4321);
    expect(batch.records.map((record) => record.offset)).toEqual(Array.from({ length: 3000 }, (_, i) => 4321 + i));
    const all = await readAll(log, "t");
    expect(all.map((record) => record.offset)).toEqual(Array.from({ length: 8000 }, (_, i) => i));
    expect(batch.records.map((record) => record.key)).toEqual(all.slice(4321, 7321).map((record) => record.key));
    await log.close();
  });

  test("a record bigger than one read chunk is read whole", async () => {
    const dir = await tempDir();
    const log = await open(dir);
    await log.ensureTopic("t");
    const big = JSON.stringify({ i: 1, padding: "b".repeat(9 * 1024 * 1024) });
    await log.append("t", [...records(0, 1), { key: "big", value: big }, ...records(2, 1)]);
    const all = await readAll(log, "t");
    expect(all.map((record) => record.key)).toEqual(["k0", "big", "k2"]);
    expect(ids(all)).toEqual([0, 1, 2]);
    expect(new TextDecoder().decode(all[1]?.value)).toBe(big);
    await log.close();
  });

  test("garbage after the last frame is truncated on open", async () => {
    const dir = await tempDir();
    let log = await open(dir);
    await log.ensureTopic("t");
    await log.append("t", records(0, 5));
    await log.append("t", records(5, 5));
    await log.close();
    const path = await lastSegment(dir, "t");
    const goodSize = (await stat(path)).size;
    await appendFile(path, Buffer.from("FLGI this is not a frame at all, just bytes"));

    log = await open(dir);
    expect((await stat(path)).size).toBe(goodSize);
    expect(await log.endOffsets("t")).toEqual(new Map([[0, 10]]));
    await log.append("t", records(10, 2));
    expect(ids(await readAll(log, "t"))).toEqual(Array.from({ length: 12 }, (_, i) => i));
    await log.close();
  });

  test("a frame cut mid-way is truncated on open and everything before it is readable", async () => {
    const dir = await tempDir();
    let log = await open(dir);
    await log.ensureTopic("t");
    await log.append("t", records(0, 5));
    await log.close();
    const path = await lastSegment(dir, "t");
    const firstFlushSize = (await stat(path)).size;
    log = await open(dir);
    await log.append("t", records(5, 5));
    await log.close();
    await truncate(path, (await stat(path)).size - 7);

    log = await open(dir);
    expect((await stat(path)).size).toBe(firstFlushSize);
    expect(await log.endOffsets("t")).toEqual(new Map([[0, 5]]));
    expect(ids(await readAll(log, "t"))).toEqual([0, 1, 2, 3, 4]);
    await log.append("t", records(5, 1));
    expect(await log.endOffsets("t")).toEqual(new Map([[0, 6]]));
    await log.close();
  });

  test("a flipped byte fails the CRC and drops that flush", async () => {
    const dir = await tempDir();
    let log = await open(dir);
    await log.ensureTopic("t");
    await log.append("t", records(0, 3));
    await log.append("t", records(3, 3));
    await log.close();
    const path = await lastSegment(dir, "t");
    const bytes = await readFile(path);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] ?? 0) ^ 0xff;
    await writeFile(path, bytes);

    log = await open(dir);
    expect(await log.endOffsets("t")).toEqual(new Map([[0, 3]]));
    expect(ids(await readAll(log, "t"))).toEqual([0, 1, 2]);
    await log.close();
  });

  test("an append spanning several frames survives whole or not at all", async () => {
    const dir = await tempDir();
    let log = await open(dir);
    await log.ensureTopic("t");
    await log.append("t", records(0, 1));
    await log.close();
    const path = await lastSegment(dir, "t");
    const before = (await stat(path)).size;
    log = await open(dir);
    await log.append("t", records(1, 100, 1000)); // ~100 KB: several ~32 KiB frames
    await log.close();
    const after = (await stat(path)).size;
    // Cut inside a later frame: earlier frames of the same flush are intact but must go too.
    await truncate(path, before + Math.floor((after - before) * 0.8));

    log = await open(dir);
    expect(await log.endOffsets("t")).toEqual(new Map([[0, 1]]));
    expect((await stat(path)).size).toBe(before);
    await log.close();
  });

  test("the lock refuses a second open and takes over a stale one", async () => {
    const dir = await tempDir();
    const log = await open(dir);
    const second = open(dir);
    await expect(second).rejects.toThrow(`is in use by process ${process.pid}`);
    await expect(second).rejects.toThrow(dir);
    await log.close();

    const exited = Bun.spawn([BUN, "-e", "0"]);
    await exited.exited;
    await writeFile(join(dir, "LOCK"), `${exited.pid}\n`);
    const reopened = await open(dir);
    expect((await readFile(join(dir, "LOCK"), "utf8")).trim()).toBe(String(process.pid));
    await reopened.close();
    expect(await readdir(dir)).not.toContain("LOCK");
  });

  test("appends are refused at once while too many bytes wait to be written", async () => {
    const dir = await tempDir();
    const log = await open(dir, { maxPendingBytes: 4096 });
    await log.ensureTopic("t");
    const first = log.append("t", records(0, 1, 3000));
    const second = log.append("t", records(1, 1, 3000));
    await expect(second).rejects.toBeInstanceOf(StreamUnavailableError);
    await expect(second).rejects.toThrow("overloaded");
    await first;
    await log.append("t", records(1, 1, 3000));
    expect(await log.endOffsets("t")).toEqual(new Map([[0, 2]]));
    await log.close();
  });

  test("rejects newlines in values, bad names, unknown topics and a second subscriber", async () => {
    const dir = await tempDir();
    const log = await open(dir);
    await log.ensureTopic("t");
    await expect(log.append("t", [{ value: '{"a":\n1}' }])).rejects.toThrow("newline");
    await expect(log.append("t", [{ value: new Uint8Array([0x7b, 0x0a, 0x7d]) }])).rejects.toThrow("newline");
    for (const bad of ["", ".", "..", "../x", "a/b", "white space"]) {
      await expect(log.ensureTopic(bad)).rejects.toThrow("Invalid topic name");
    }
    await expect(log.append("missing", records(0, 1))).rejects.toThrow('Topic "missing" does not exist');
    await expect(log.ensureTopic("t", { partitions: 3 })).rejects.toThrow("one partition");
    const handle = async () => {};
    const subscription = await log.subscribe({ topic: "t", group: "g", maxBatchRecords: 1, maxWaitMs: 1, handle });
    await expect(log.subscribe({ topic: "t", group: "g", maxBatchRecords: 1, maxWaitMs: 1, handle })).rejects.toThrow(
      "already has an active subscription",
    );
    await subscription.close();
    const again = await log.subscribe({ topic: "t", group: "g", maxBatchRecords: 1, maxWaitMs: 1, handle });
    await again.close();
    expect(await log.endOffsets("t")).toEqual(new Map([[0, 0]]));
    await log.close();
  });

  test("retention deletes only whole segments every known group has consumed", async () => {
    const dir = await tempDir();
    const options = { segmentBytes: 8 * 1024, retentionBytes: 16 * 1024 };
    let log = await open(dir, options);
    await log.ensureTopic("t");
    for (let i = 0; i < 40; i++) await log.append("t", records(i * 10, 10, 100)); // ~50 KB
    const segmentsBefore = await segmentFiles(dir, "t");
    expect(segmentsBefore.length).toBeGreaterThan(4);

    // No group has committed: nothing is consumed, nothing goes.
    await log.close();
    log = await open(dir, options);
    expect(await segmentFiles(dir, "t")).toEqual(segmentsBefore);

    // "slow" commits 1 record, "fast" everything: only what both passed may go.
    await consumeUpTo(log, "slow", 1, 1);
    await consumeUpTo(log, "fast", 400, 400);
    await log.close();
    expect(await segmentFiles(dir, "t")).toEqual(segmentsBefore);

    log = await open(dir, options);
    await consumeUpTo(log, "slow", 249, 250);
    await log.close(); // waits for retention
    const segmentsAfter = await segmentFiles(dir, "t");
    const bases = segmentsAfter.map((name) => Number(name.slice(0, 20)));
    expect(segmentsAfter.length).toBeLessThan(segmentsBefore.length);
    expect(bases[0]).toBeLessThanOrEqual(250);
    expect(segmentsBefore.slice(-segmentsAfter.length)).toEqual(segmentsAfter);

    log = await open(dir, options);
    const kept = await readAll(log, "t");
    expect(kept[0]?.offset).toBe(bases[0] ?? -1);
    expect(ids(kept)).toEqual(Array.from({ length: 400 - (bases[0] ?? 0) }, (_, i) => (bases[0] ?? 0) + i));
    expect((await log.committed("t", uniqueName("new"))).get(0)?.offset).toBe(bases[0] ?? -1);
    await log.close();
  });

  test("values are views of the bytes read and joinValues makes one newline-separated body", async () => {
    const dir = await tempDir();
    const log = await open(dir);
    await log.ensureTopic("t");
    await log.append("t", [{ value: '{"a":1}' }, { value: '{"b":2}' }, { value: "{}" }]);
    const all = await readAll(log, "t");
    expect(new Set(all.map((record) => record.value.buffer)).size).toBe(1);
    expect(new TextDecoder().decode(joinValues(all))).toBe('{"a":1}\n{"b":2}\n{}');
    expect(joinValues([])).toEqual(new Uint8Array(0));
    await log.close();
  });

  test("a failed write rejects its appends with StreamUnavailableError and later appends work", async () => {
    const dir = await tempDir();
    // SIGXFSZ ignored + a file size limit: writes past 51200 bytes fail with EFBIG.
    const child = Bun.spawn(
      ["sh", "-c", 'trap "" XFSZ; ulimit -f 100; exec "$0" "$@"', BUN, join(import.meta.dir, "fixtures/stream-efbig-writer.ts"), dir],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" } },
    );
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) throw new Error(`efbig writer exited with ${code}: ${stderr}`);
    const result = JSON.parse(stdout) as { outcomes: string[]; end: number };
    expect(result.outcomes[0]).toBe("ok");
    expect(result.outcomes[1]).toStartWith("unavailable: Could not write to topic");
    expect(result.outcomes[2]).toBe("ok");
    expect(result.end).toBe(21);

    const log = await open(dir);
    const all = await readAll(log, EFBIG_TOPIC);
    const expected = [...efbigRecords("fits", 20, 1000), ...efbigRecords("after", 1, 1000)].map((record) => record.value);
    expect(all.map((record) => new TextDecoder().decode(record.value))).toEqual(expected);
    await log.close();
  });

  test("every acknowledged append survives kill -9, exactly once and in order", async () => {
    const dir = await tempDir();
    const acked: { round: number; caller: number; first: number }[] = [];
    for (let round = 0; round < 3; round++) {
      const lines = await runAndKill(dir, round * 1_000_000_000, 1000 + Math.floor(Math.random() * 2000));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        const [caller, first] = line.split(" ").map(Number);
        if (caller === undefined || first === undefined) throw new Error(`bad line ${line}`);
        acked.push({ round, caller, first });
      }
    }

    const log = await open(dir);
    const all = await readAll(log, CRASH_TOPIC, 20_000);
    await log.close();
    const offsetOf = new Map<number, number>();
    for (const [index, record] of all.entries()) {
      expect(record.offset).toBe(index);
      const { id } = JSON.parse(new TextDecoder().decode(record.value)) as { id: number };
      if (offsetOf.has(id)) throw new Error(`record id ${id} is stored twice`);
      offsetOf.set(id, record.offset);
    }
    const lastOffsetOf = new Map<string, number>();
    for (const { round, caller, first } of acked) {
      const offset = offsetOf.get(first);
      if (offset === undefined) throw new Error(`acknowledged record ${first} (round ${round}) is missing`);
      for (let i = 1; i < CRASH_BATCH_RECORDS; i++) expect(offsetOf.get(first + i)).toBe(offset + i);
      // A caller's appends were acknowledged in order, so they are stored in order.
      const key = `${round}/${caller}`;
      expect(offset).toBeGreaterThan(lastOffsetOf.get(key) ?? -1);
      lastOffsetOf.set(key, offset);
    }
  });
});

async function consumeUpTo(log: EmbeddedLog, group: string, maxBatchRecords: number, upTo: number): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const subscription = await log.subscribe({
    topic: "t",
    group,
    maxBatchRecords,
    maxWaitMs: 5,
    handle: async (batch) => {
      if (batch.nextOffset >= upTo) resolve();
    },
  });
  await promise;
  await subscription.close();
  expect((await log.committed("t", group)).get(0)?.offset).toBe(upTo);
}

/** Runs the crash writer until it acknowledged `acks` appends, SIGKILLs it, returns its ack lines. */
async function runAndKill(dir: string, firstId: number, acks: number): Promise<string[]> {
  const child = Bun.spawn([BUN, join(import.meta.dir, "fixtures/stream-crash-writer.ts"), dir, String(firstId)], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 10_000;
  let killed = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const complete = text.slice(0, text.lastIndexOf("\n") + 1);
      if (!killed && (complete.split("\n").length - 2 >= acks || Date.now() > deadline)) {
        child.kill("SIGKILL");
        killed = true;
      }
    }
  } finally {
    child.kill("SIGKILL"); // no-op once it is dead; stops it should this test fail
  }
  const status = await child.exited;
  if (!killed) throw new Error(`crash writer exited by itself (${status}): ${await new Response(child.stderr).text()}`);
  expect(child.signalCode).toBe("SIGKILL");
  const lines = text.slice(0, text.lastIndexOf("\n")).split("\n");
  expect(lines[0]).toBe("ready");
  return lines.slice(1);
}
