/**
 * The table writer against engine errors, on real chDB and the embedded log. Only errors
 * about the rows may dead-letter, and then only the rows the engine refuses; a view that
 * refuses the rows, or any error that is not about them, is retried with the same batch
 * and token, never split; a replayed batch (the crash between insert and commit) stores
 * nothing twice. Rows are random (seeded) so the refused ones fall anywhere in a batch.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { DEAD_LETTER_TOPIC } from "../runtime/deadLetters/deadLetters.ts";
import { classifyEngineError } from "../runtime/store/engineErrors.ts";
import { StoreError } from "../runtime/store/store.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { TableWriter } from "../runtime/writer/tableWriter.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";
import { random as seeded } from "./helpers/random.ts";
import { BAD_EVERY, ROWS } from "./fixtures/writer-crash-child.ts";
import { serverUrl, sharedClickHouse } from "./helpers/clickhouseServer.ts";
import { sharedKafka } from "./helpers/kafka.ts";

const dirs: string[] = [];
const logs: EmbeddedLog[] = [];
afterAll(async () => {
  for (const log of logs) await log.close();
  dirs.forEach(removeDir);
});

async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await Bun.sleep(20);
  }
}

async function openLog(name: string) {
  const dir = tempDir(name);
  dirs.push(dir);
  const log = await EmbeddedLog.open({ dir: join(dir, "stream") });
  logs.push(log);
  return log;
}

test("engine errors are classified by code: rows vs resources vs the rest", async () => {
  const store = await sharedChdbStore();
  const t = `classify_${process.pid}`;
  await store.exec(`CREATE TABLE ${t} (n UInt8, d Date) ENGINE = MergeTree ORDER BY n`);
  const refusal = async (body: string) => {
    try {
      await store.insertJsonEachRow(t, new TextEncoder().encode(body));
    } catch (error) {
      return error;
    }
    throw new Error(`the engine took ${body}`);
  };
  for (const body of ['{"n":"x","d":"2020-01-01"}', '{"n":1,"d":"not a date"}', '{"n":1,"d":"2020-01-01"', '{"n":[1],"d":"2020-01-01"}']) {
    const error = await refusal(body);
    expect(error).toBeInstanceOf(StoreError);
    expect({ body, kind: classifyEngineError(error) }).toEqual({ body, kind: "data" });
  }
  expect(classifyEngineError(new StoreError("x", { engineCode: "243" }))).toBe("resource");
  expect(classifyEngineError(new StoreError("x", { engineCode: "70" }))).toBe("other");
  expect(classifyEngineError(new StoreError("x", { kind: "unavailable" }))).toBe("unavailable");
  expect(classifyEngineError(new Error("x"))).toBe("other");
});

test("refused rows, anywhere in a batch, are dead-lettered alone; the rest is stored once", async () => {
  const seed = Number(process.env.IGLOO_SEED ?? 20261130);
  const random = seeded(seed);
  const store = await sharedChdbStore();
  const stream = await openLog("writer-bad-rows");
  const table = `bad_rows_${process.pid}`;
  await store.exec(`CREATE TABLE ${table} (id String, n UInt8) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 1000`);
  await stream.ensureTopic("bad");
  await stream.ensureTopic(DEAD_LETTER_TOPIC);
  const rows: string[] = [];
  const bad = new Set<string>();
  for (let i = 0; i < 2_000; i++) {
    const isBad = random() < 0.01;
    if (isBad) bad.add(`r${i}`);
    rows.push(JSON.stringify({ id: `r${i}`, n: isBad ? "not a number" : Math.floor(random() * 256) }));
  }
  await stream.append("bad", rows.map((value) => ({ value })));
  const errors: unknown[] = [];
  const writer = new TableWriter(stream, store, { topic: "bad", table, source: "Bad", maxBatchRecords: 500, maxWaitMs: 10, onError: (e) => errors.push(e) });
  await writer.start();
  try {
    await until(async () => (await stream.committed("bad", writer.group)).get(0)?.offset === 2_000);
  } finally {
    await writer.stop();
  }
  const { rows: counted } = await store.query<{ c: string; u: string }>(`SELECT count() AS c, uniqExact(id) AS u FROM ${table}`);
  expect({ seed, count: Number(counted[0]!.c), distinct: Number(counted[0]!.u) }).toEqual({ seed, count: 2_000 - bad.size, distinct: 2_000 - bad.size });
  const letters = await readTopic(stream, DEAD_LETTER_TOPIC);
  expect({ seed, refused: letters.map((l) => JSON.parse(l.record).id).sort() }).toEqual({ seed, refused: [...bad].sort() });
  expect(letters.every((l) => l.stage === "writer" && l.source === "Bad" && /CANNOT_PARSE|Cannot parse/i.test(l.error))).toBe(true);
  expect(errors).toEqual([]);
});

test("a view that refuses the rows is retried, never split or dead-lettered; fixing the view lets the same batch through once", async () => {
  const store = await sharedChdbStore();
  const stream = await openLog("writer-view");
  const table = `view_src_${process.pid}`;
  const target = `view_dst_${process.pid}`;
  const view = `view_mv_${process.pid}`;
  await store.exec(`CREATE TABLE ${table} (id String, n UInt16) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 1000`);
  await store.exec(`CREATE TABLE ${target} (id String, n UInt8) ENGINE = MergeTree ORDER BY id`);
  // A view whose SELECT throws on some rows: the kind of failure a schema change under an incremental view causes.
  await store.exec(`CREATE MATERIALIZED VIEW ${view} TO ${target} AS SELECT id, toUInt8(throwIf(n > 255, 'value does not fit the view') + n) AS n FROM ${table}`);
  await stream.ensureTopic("viewed");
  await stream.ensureTopic(DEAD_LETTER_TOPIC);
  await stream.append("viewed", Array.from({ length: 50 }, (_, i) => ({ value: JSON.stringify({ id: `v${i}`, n: i === 7 ? 1000 : i }) })));
  const errors: string[] = [];
  const writer = new TableWriter(stream, store, { topic: "viewed", table, source: "V", maxBatchRecords: 50, maxWaitMs: 10, onError: (e) => errors.push(String(e)) });
  await writer.start();
  try {
    await until(async () => errors.length >= 2);
    expect(errors[0]).toMatch(/other than its rows|view/);
    expect((await stream.committed("viewed", writer.group)).get(0)?.offset ?? 0).toBe(0);
    expect(await readTopic(stream, DEAD_LETTER_TOPIC).then((l) => l.filter((x) => x.source === "V"))).toEqual([]);
    // The fix: the view accepts the rows.
    await store.exec(`DROP TABLE ${view}`);
    await until(async () => (await stream.committed("viewed", writer.group)).get(0)?.offset === 50, 30_000);
  } finally {
    await writer.stop();
  }
  const { rows } = await store.query<{ c: string; u: string }>(`SELECT count() AS c, uniqExact(id) AS u FROM ${table}`);
  expect(rows[0]).toEqual({ c: "50", u: "50" });
});

const BUN = process.execPath;
const POINTS = ["writer.beforeIntent", "writer.afterIntent", "writer.afterDeadLetters", "writer.afterInsert", "stream.afterCommit"];

/**
 * Runs the crash child once per failpoint: killed there, resumed, counted. `engines` adds
 * the environment that points it at Kafka and a ClickHouse server (empty: embedded).
 */
async function crashAtEveryStep(engines: (point: string) => Record<string, string>): Promise<void> {
  const child = (dir: string, mode: "run" | "count", env: Record<string, string>) =>
    Bun.spawn([BUN, join(import.meta.dir, "fixtures/writer-crash-child.ts"), dir, mode], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const good = Array.from({ length: ROWS }, (_, id) => id).filter((id) => id % BAD_EVERY !== 0);
  const bad = Array.from({ length: ROWS }, (_, id) => id).filter((id) => id % BAD_EVERY === 0);
  for (const point of POINTS) {
    const dir = tempDir("writer-crash");
    dirs.push(dir);
    const env = { ...engines(point), IGLOO_FAILPOINTS: "" };
    // The third batch: the first two are committed, so the crash lands mid-topic.
    const crashed = child(dir, "run", { ...env, IGLOO_FAILPOINTS: `${point}@3` });
    await crashed.exited;
    const crashText = await new Response(crashed.stderr).text();
    const said = crashText.includes(`failpoint ${point}`);
    expect({ point, signal: crashed.signalCode, said, ...(said ? {} : { exit: crashed.exitCode, crashText }) }).toEqual({ point, signal: "SIGKILL", said: true });
    const resumed = child(dir, "run", env);
    expect({ point, exit: await resumed.exited, err: resumed.exitCode === 0 ? "" : await new Response(resumed.stderr).text() }).toEqual({ point, exit: 0, err: "" });
    const counter = child(dir, "count", env);
    await counter.exited;
    const counts = JSON.parse(await new Response(counter.stdout).text()) as { rows: number; distinct: number; view: number; letters: number[] };
    expect({ point, rows: counts.rows, distinct: counts.distinct, view: counts.view }).toEqual({ point, rows: good.length, distinct: good.length, view: good.length });
    // Dead letters are at least once: a crash after they were written and before the commit writes them again.
    expect({ point, refused: [...new Set(counts.letters)].sort((a, b) => a - b) }).toEqual({ point, refused: bad });
  }
}

test("kill -9 at each step of the writer's intent, insert, dead letters and commit: every row once, in the table and its view", async () => {
  await crashAtEveryStep(() => ({}));
}, 120_000);

test("the same on Kafka and Debian's ClickHouse server (no deduplication tokens: a replay inserts only the missing ids)", async () => {
  const [kafka, clickhouse] = await Promise.all([sharedKafka(), sharedClickHouse()]);
  const run = `${process.pid}_${Date.now() % 100_000}`;
  await crashAtEveryStep((point) => ({
    IGLOO_CRASH_KAFKA: kafka.brokers.join(","),
    IGLOO_CRASH_CLICKHOUSE: serverUrl(clickhouse, clickhouse),
    IGLOO_CRASH_NAME: `crash_${point.replace(/\W/g, "_")}_${run}`,
  }));
}, 240_000);

async function readTopic(stream: EmbeddedLog, topic: string): Promise<{ source: string; stage: string; record: string; error: string }[]> {
  const end = (await stream.endOffsets(topic)).get(0) ?? 0;
  const out: { source: string; stage: string; record: string; error: string }[] = [];
  if (end === 0) return out;
  const group = `reader-${Math.random()}`;
  const done = Promise.withResolvers<void>();
  const subscription = await stream.subscribe({
    topic,
    group,
    maxBatchRecords: 10_000,
    maxWaitMs: 0,
    handle: async (batch) => {
      for (const r of batch.records) out.push(JSON.parse(new TextDecoder().decode(r.value)));
      if (batch.nextOffset >= end) done.resolve();
    },
  });
  await done.promise;
  await subscription.close();
  return out;
}
