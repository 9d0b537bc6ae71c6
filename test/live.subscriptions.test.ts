/**
 * Live subscriptions (runtime/live) on real engines: the embedded log and chDB, with a
 * small writer per topic committing as Igloo's table writers do. Subscribers of one view
 * with the same parameters share one read per change; only views whose tables moved
 * (directly or through another view) are read again; a reloaded view is; a reconnect
 * with the current Last-Event-ID is not sent the same rows; a connection holds at most
 * one unsent event however slowly it is read.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { parseViews } from "../conventions/views/parse.ts";
import { fallingBehind, QueryBudget } from "../runtime/live/budget.ts";
import { eventConnection } from "../runtime/live/eventStream.ts";
import type { Sink } from "../runtime/live/feed.ts";
import { ViewSubscriptions } from "../runtime/live/subscriptions.ts";
import { consoleLogger } from "../runtime/observability/logger.ts";
import { DEFAULT_LIMITS } from "../runtime/limits.ts";
import { UserReads, type ReadRequest } from "../runtime/query/userReads.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import type { Subscription } from "../runtime/stream/stream.ts";
import { ViewManager } from "../runtime/views/viewManager.ts";
import { writerGroup } from "../runtime/writer/tableWriter.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";

const store = await sharedChdbStore();
const dir = tempDir("live-subscriptions");
const stream = await EmbeddedLog.open({ dir: join(dir, "stream") });
const id = `${process.pid}_${Date.now().toString(36)}`;
const [tableA, tableB] = [`live_a_${id}`, `live_b_${id}`];
const writers: Subscription[] = [];
afterAll(async () => {
  for (const writer of writers) await writer.close();
  await stream.close();
  removeDir(dir);
});

/** A writer as Igloo's: inserts each batch, then the group commits. */
for (const [topic, table] of [["A", tableA], ["B", tableB]] as const) {
  await store.exec(`CREATE TABLE ${table} (n UInt32) ENGINE = MergeTree ORDER BY n`);
  await stream.ensureTopic(topic);
  writers.push(
    await stream.subscribe({
      topic,
      group: writerGroup(topic),
      maxBatchRecords: 1000,
      maxWaitMs: 5,
      handle: async (batch) => {
        const values = batch.records.map((r) => `(${Number(new TextDecoder().decode(r.value))})`).join(",");
        await store.exec(`INSERT INTO ${table} VALUES ${values}`);
      },
    }),
  );
}
const append = (topic: string, ...values: number[]) => stream.append(topic, values.map((n) => ({ value: String(n) })));

const files = (a_count: string) =>
  parseViews(
    Object.entries({
      [`a_count_${id}`]: a_count,
      [`a_twice_${id}`]: `SELECT c * 2 AS twice FROM a_count_${id}`,
      [`b_count_${id}`]: `SELECT count() AS c FROM ${tableB}`,
      [`a_min_${id}`]: `SELECT count() AS c FROM ${tableA} WHERE n >= {min:UInt32}`,
      [`a_rows_${id}`]: `SELECT n FROM ${tableA} WHERE n >= {min:UInt32} AND n < {min:UInt32} + 10 ORDER BY n`,
    }).map(([name, text]) => ({ path: `views/${name}.sql`, text })),
  ).views;
const views = new ViewManager(store, { stateTable: `igloo_views_live_${id}` });
const hooks = { pauseWriter: async () => async () => {} };
expect((await views.apply(files(`SELECT count() AS c FROM ${tableA}`), [], hooks)).errors).toEqual([]);

const reads = new UserReads(store, DEFAULT_LIMITS.query);
const counted: string[] = [];
const subscriptions = new ViewSubscriptions({
  stream,
  tables: () => new Map([[tableA, "A"], [tableB, "B"]]),
  views,
  reads: { viewRows: (request: ReadRequest) => (counted.push(request.sql), reads.viewRows(request)) },
  logger: consoleLogger({ quiet: true }),
  intervalMs: 20,
  maxSubscriptions: 1_000,
  maxPerClient: 1_000,
});

/** A sink that keeps what it was offered, as text. */
function recorder(): Sink & { frames: string[]; last(): { id: string; data: unknown } | undefined } {
  const frames: string[] = [];
  return {
    frames,
    offer: (feed) => void frames.push(new TextDecoder().decode(feed.ownFrame())),
    end: () => {},
    last() {
      const frame = frames.at(-1);
      if (frame === undefined) return undefined;
      const field = (name: string) => frame.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? "";
      return { id: field("id"), data: JSON.parse(field("data")).data };
    },
  };
}

async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

test("subscribers of one view and parameters share one read per change; only views over the table that moved are read again", async () => {
  const sinks = {
    count: Array.from({ length: 40 }, recorder),
    twice: Array.from({ length: 10 }, recorder),
    b: Array.from({ length: 10 }, recorder),
    min3: Array.from({ length: 30 }, recorder),
    min5: Array.from({ length: 5 }, recorder),
  };
  const subscribe = (name: string, params: Record<string, string>, list: Sink[]) => Promise.all(list.map((sink, i) => subscriptions.subscribe(name, params, `client-${i}`, sink)));
  const stops = [
    ...(await subscribe(`a_count_${id}`, {}, sinks.count)),
    ...(await subscribe(`a_twice_${id}`, {}, sinks.twice)),
    ...(await subscribe(`b_count_${id}`, {}, sinks.b)),
    ...(await subscribe(`a_min_${id}`, { min: "3" }, sinks.min3)),
    ...(await subscribe(`a_min_${id}`, { min: "5" }, sinks.min5)),
  ];
  expect(subscriptions.size).toBe(95);
  // One read per distinct (view, parameters), however many subscribed at once.
  expect(counted.length).toBe(5);
  for (const list of Object.values(sinks)) for (const sink of list) expect(sink.frames.length).toBe(1);
  expect(sinks.count[0]!.last()!.data).toEqual([{ c: "0" }]);

  counted.length = 0;
  await append("A", 1, 3, 4, 7);
  await until("the views over A to be pushed", () => sinks.min5.every((s) => s.frames.length === 2) && sinks.twice.every((s) => s.frames.length === 2) && sinks.count.every((s) => s.frames.length === 2) && sinks.min3.every((s) => s.frames.length === 2));
  expect(sinks.count[7]!.last()!.data).toEqual([{ c: "4" }]);
  expect(sinks.twice[3]!.last()!.data).toEqual([{ twice: "8" }]);
  expect(sinks.min3[0]!.last()!.data).toEqual([{ c: "3" }]);
  expect(sinks.min5[0]!.last()!.data).toEqual([{ c: "1" }]);
  await Bun.sleep(100);
  // b_count reads B only: not read again, nothing pushed. Each view over A read once.
  expect(counted.filter((sql) => sql.includes(tableB)).length).toBe(0);
  expect(sinks.b.every((s) => s.frames.length === 1)).toBe(true);
  // a_count, a_twice, and a_min's two parameter values in one batch query.
  expect(counted.length).toBe(3);
  expect(counted.filter((sql) => sql.includes("UNION ALL")).length).toBe(1);

  counted.length = 0;
  await append("B", 9);
  await until("b_count to be pushed", () => sinks.b.every((s) => s.frames.length === 2));
  await Bun.sleep(100);
  expect(counted.length).toBe(1);
  expect(sinks.count[0]!.frames.length).toBe(2);

  // A reloaded view is read again and pushed, with no ingest.
  expect((await views.apply(files(`SELECT count() + 100 AS c FROM ${tableA}`), [], hooks)).errors).toEqual([]);
  await until("the reloaded view to be pushed", () => sinks.count.every((s) => s.frames.length === 3));
  expect(sinks.count[0]!.last()!.data).toEqual([{ c: "104" }]);
  await until("the view over it too", () => sinks.twice.every((s) => s.frames.length === 3));
  expect(sinks.twice[0]!.last()!.data).toEqual([{ twice: "208" }]);

  // Reconnecting with the id of the rows it has: nothing sent until they change. A stale id: the rows.
  const current = sinks.count[0]!.last()!.id;
  expect(current).toMatch(/^[0-9a-z]+$/);
  const [same, stale] = [recorder(), recorder()];
  stops.push(await subscriptions.subscribe(`a_count_${id}`, {}, "again", same, current));
  stops.push(await subscriptions.subscribe(`a_count_${id}`, {}, "again", stale, "0"));
  expect(same.frames).toEqual([]);
  expect(stale.last()).toEqual({ id: current, data: [{ c: "104" }] });
  await append("A", 10);
  await until("the change to reach the reconnected", () => same.frames.length === 1);
  expect(same.last()!.data).toEqual([{ c: "105" }]);

  for (const stop of stops) stop.close();
  expect(subscriptions.size).toBe(0);
  // Stopped subscribers are sent nothing more.
  await append("A", 11);
  await Bun.sleep(150);
  expect(sinks.count[0]!.frames.length).toBe(4);
});

test("a shared connection holds one unsent event per feed, the latest of each, written together", async () => {
  const connection = eventConnection(new AbortController().signal);
  const reader = connection.body.getReader();
  const text = (s: string) => () => new TextEncoder().encode(s);
  // Nothing is written before the stream is read: all of these wait, one per key.
  connection.send("a", text("a1;"));
  connection.send("b", text("b1;"));
  connection.send("a", text("a2;"));
  connection.send("c", () => undefined);
  expect(new TextDecoder().decode((await reader.read()).value)).toBe("a2;b1;");
  connection.end();
});

test("a connection read slowly holds one unsent event, the latest, never a queue", async () => {
  const abort = new AbortController();
  const connection = eventConnection(abort.signal);
  const reader = connection.body.getReader();
  const frame = (i: number) => new TextEncoder().encode(`event: rows\ndata: {"data":[${i}]}\n\n`);
  for (let i = 1; i <= 10_000; i++) connection.send("rows", () => frame(i));
  const decode = (value: Uint8Array | undefined) => new TextDecoder().decode(value);
  expect(decode((await reader.read()).value)).toBe('event: rows\ndata: {"data":[10000]}\n\n');
  const next = reader.read();
  connection.send("rows", () => frame(10_001));
  expect(decode((await next).value)).toBe('event: rows\ndata: {"data":[10001]}\n\n');
  let closed = false;
  connection.onClose(() => (closed = true));
  abort.abort();
  expect(closed).toBe(true);
  expect((await reader.read()).done).toBe(true);
});

test("over a socket whose client never reads, 200 events of 1 MiB each cost the server one event of memory, not 200", async () => {
  let connection: ReturnType<typeof eventConnection> | undefined;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch(request) {
      connection = eventConnection(request.signal);
      return new Response(connection.body, { headers: { "content-type": "text/event-stream" } });
    },
  });
  // A client in another process that sends its request and then reads nothing.
  const stalled = Bun.spawn(["python3", "-c", `import socket,time\ns=socket.create_connection(("127.0.0.1",${server.port}))\ns.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,4096)\ns.sendall(b"GET / HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n")\ntime.sleep(60)`]);
  try {
    await until("the stalled client to connect", () => connection !== undefined);
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 200; i++) {
      const frame = new Uint8Array(1 << 20).fill(65 + (i % 26));
      connection!.send("rows", () => frame);
      await Bun.sleep(2);
    }
    Bun.gc(true);
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  } finally {
    stalled.kill();
    server.stop(true);
  }
});

test("the query budget: spending past what was saved up refuses until time refills it", () => {
  const budget = new QueryBudget(0.25);
  expect(budget.available()).toBe(true);
  budget.spend(60_000);
  expect(budget.available()).toBe(false);
  expect(budget.rate()).toBeGreaterThan(0);
  // Ingest under pressure: the writers' backlog grew at each of the last three looks.
  expect(fallingBehind([0, 10, 20, 30])).toBe(true);
  expect(fallingBehind([10, 20, 30])).toBe(false);
  expect(fallingBehind([5, 0, 10, 20, 30])).toBe(true);
  expect(fallingBehind([0, 10, 10, 30])).toBe(false);
  expect(fallingBehind([5_000, 0, 5_000, 0])).toBe(false);
  const full = budget.rate();
  for (const backlog of [0, 100, 200, 300]) budget.adapt(backlog);
  expect(budget.rate()).toBe(full / 2);
  for (const backlog of [400, 500]) budget.adapt(backlog);
  expect(budget.rate()).toBe(full / 8);
  budget.adapt(0);
  expect(budget.rate()).toBeCloseTo(full / 8 + full / 10);
});

test("a batch of one view's parameter values gives each feed exactly the text its own read gives (generated views, values and tables)", async () => {
  const { batchStatement, splitBatch } = await import("../runtime/live/batch.ts");
  const { resolveView } = await import("../runtime/views/viewQuery.ts");
  const { random } = await import("./helpers/random.ts");
  const next = random(13);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const table = `live_batch_${id}`;
  await store.exec(`CREATE TABLE ${table} (id UInt32, g UInt8, s String, f Float64, d DateTime64(3), a Array(String), m Map(String, UInt8)) ENGINE = MergeTree ORDER BY id`);
  await store.exec(`INSERT INTO ${table} SELECT number, number % 7, concat('s', toString(number % 13), if(number % 5 = 0, ',{"__igloo_feed":1}', '')), number / 3, toDateTime64('2026-01-01 00:00:00', 3) + number, [toString(number % 3)], map('__igloo_feed', number % 2) FROM numbers(500)`);
  const shapes = [
    `SELECT id, s, f FROM ${table} WHERE g = {g:UInt8} ORDER BY id DESC LIMIT {n:UInt32}`,
    `SELECT g, count() AS c, sum(f) AS total, groupArray(s) AS ss FROM (SELECT * FROM ${table} ORDER BY id) WHERE id < {below:UInt32} GROUP BY g ORDER BY g`,
    `SELECT d, a, m FROM ${table} WHERE s LIKE {prefix:String} ORDER BY d LIMIT 20`,
    `WITH {g:UInt8} AS wanted SELECT id FROM ${table} WHERE g = wanted AND id % 10 = 0 ORDER BY id`,
    `SELECT max(id) AS last, count() AS n FROM ${table} WHERE g = {g:UInt8}`,
  ];
  const values: Record<string, () => string> = { g: () => String(Math.floor(next() * 8)), n: () => String(Math.floor(next() * 30)), below: () => String(Math.floor(next() * 600)), prefix: () => pick(["s1%", "s%", "x%", "s12%"]) };
  for (let round = 0; round < 25; round++) {
    const sql = pick(shapes);
    const view = { name: "v", kind: "parameterized" as const, sql, params: parseViews([{ path: "views/v.sql", text: sql }]).views[0]!.params };
    const count = 2 + Math.floor(next() * 8);
    const statements = Array.from({ length: count }, () => resolveView(view, Object.fromEntries(view.params.map((p) => [p.name, values[p.name]!()]))));
    const batch = batchStatement(statements)!;
    expect(batch.count).toBe(count);
    const split = splitBatch((await reads.viewRows(batch.statement)).rows, count)!;
    for (const [i, statement] of statements.entries()) expect({ round, i, rows: split[i] }).toEqual({ round, i, rows: [...(await reads.viewRows(statement)).rows] });
  }
});

test("a batch the engine refuses (here: over the result limit) is read feed by feed, and that view is not batched again until it reloads", async () => {
  const tight = new UserReads(store, { ...DEFAULT_LIMITS.query, maxResultRows: 5 });
  const queries: string[] = [];
  const live = new ViewSubscriptions({
    stream,
    tables: () => new Map([[tableA, "A"]]),
    views,
    reads: { viewRows: (request: ReadRequest) => (queries.push(request.sql), tight.viewRows(request)) },
    logger: consoleLogger({ quiet: true }),
    intervalMs: 20,
    maxSubscriptions: 100,
    maxPerClient: 100,
  });
  // Each value's rows fit the limit; the three together (3 x 4 rows) do not.
  const sinks = [recorder(), recorder(), recorder()];
  const stops = await Promise.all(["100", "200", "300"].map((min, i) => live.subscribe(`a_rows_${id}`, { min }, "c", sinks[i]!)));
  await append("A", 100, 101, 102, 103, 200, 201, 202, 203, 300, 301, 302, 303);
  await until("every feed to be pushed its 4 rows", () => sinks.every((s) => (s.last()?.data as unknown[] | undefined)?.length === 4));
  expect(sinks.map((s) => s.last()!.data)).toEqual([100, 200, 300].map((m) => [0, 1, 2, 3].map((k) => ({ n: m + k }))));
  expect(queries.filter((q) => q.includes("UNION ALL")).length).toBe(1);
  queries.length = 0;
  await append("A", 104, 204);
  await until("the next change", () => sinks[0]!.last()!.data !== undefined && (sinks[0]!.last()!.data as unknown[]).length === 5);
  expect(queries.filter((q) => q.includes("UNION ALL")).length).toBe(0);
  for (const stop of stops) stop.close();
});
