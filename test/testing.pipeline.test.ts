/**
 * igloo/testing's createTestPipeline (src/testing), from source, on a copy of the template
 * project: the template's chain (Purchase -> purchaseItems -> PurchaseItem -> sales_by_sku),
 * its parameterized view, dead letters, and two pipelines side by side in one process.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadProject } from "../conventions/project.ts";
import { writeProjectLib } from "../src/generate/projectLib.ts";
import type { IglooError } from "../conventions/errors.ts";
import { DEFAULT_LIMITS } from "../runtime/limits.ts";
import { ChdbStore } from "../runtime/store/chdb/chdbStore.ts";
import { processChdbPath } from "../runtime/store/chdb/processPath.ts";
import { randomBatches, viewDiff } from "../src/testing/checkViews.ts";
import { seeded } from "../src/testing/random.ts";
import { createTestPipeline } from "../src/testing/testPipeline.ts";
import { REPO, removeDir, tempDir } from "../scripts/lib/igloo.ts";

const root = join(tempDir("testing-pipeline"), "project");
cpSync(join(REPO, "template"), root, { recursive: true });
writeProjectLib(root, loadProject(root).models.models);
afterAll(() => removeDir(join(root, "..")));

const purchase = (orderId: string, userId: string, items: string[]) => ({ orderId, ts: "2026-11-24T10:00:00Z", userId, amount: "19.90", items });

test("ingest, settle, then the function's table, an incremental view and a parameterized view, as the HTTP API answers", async () => {
  const pipeline = await createTestPipeline({ root });
  try {
    const verdict = await pipeline.ingest("Purchase", [purchase("o-1", "u-1", ["a", "b"]), purchase("o-2", "u-2", ["a"]), { orderId: "o-3" }]);
    expect(verdict).toMatchObject({ accepted: 2, rejected: 1 });
    expect(verdict.errors[0]!.message).toContain("ts");
    expect(typeof verdict.token).toBe("string");
    await pipeline.settle();
    expect(await pipeline.query("SELECT count() AS n FROM PurchaseItem")).toEqual([{ n: "3" }]);
    expect(await pipeline.view("sales_by_sku")).toEqual(
      expect.arrayContaining([
        { sku: "a", items: "2", orders: "2", buyers: "2" },
        { sku: "b", items: "1", orders: "1", buyers: "1" },
      ]),
    );
    expect(await pipeline.view("user_purchases", { userId: "u-1", since: "2026-01-01 00:00:00" })).toEqual([
      { orderId: "o-1", ts: "2026-11-24T10:00:00.000Z", amount: "19.90", items: ["a", "b"] },
    ]);
    const dead = await pipeline.deadLetters();
    expect(dead.map((d) => ({ source: d.source, stage: d.stage, record: d.record }))).toEqual([{ source: "Purchase", stage: "ingest", record: '{"orderId":"o-3"}' }]);
    await expect(pipeline.ingest("Nope", [])).rejects.toThrow(/404: unknown model `Nope`/);
    await expect(pipeline.view("user_purchases")).rejects.toThrow(/400: view `user_purchases` needs the parameter `userId`/);
    // null is left out, as the generated client does, not sent as the text "null".
    await expect(pipeline.view("user_purchases", { userId: null, since: "2026-01-01 00:00:00" })).rejects.toThrow(/needs the parameter `userId`/);
  } finally {
    await pipeline.close();
  }
});

test("two pipelines in one process, ingesting into the same model at once, never see each other's rows", async () => {
  const [a, b] = await Promise.all([createTestPipeline({ root }), createTestPipeline({ root })]);
  try {
    await Promise.all([
      a.ingest("Purchase", Array.from({ length: 50 }, (_, i) => purchase(`a-${i}`, "u-a", ["x"]))),
      b.ingest("Purchase", Array.from({ length: 7 }, (_, i) => purchase(`b-${i}`, "u-b", ["y", "z"]))),
    ]);
    expect(await a.query("SELECT count() AS n, uniqExact(userId) AS users FROM Purchase")).toEqual([{ n: "50", users: "1" }]);
    expect(await b.query("SELECT count() AS n, uniqExact(userId) AS users FROM Purchase")).toEqual([{ n: "7", users: "1" }]);
    expect(await a.view("sales_by_sku")).toEqual([{ sku: "x", items: "50", orders: "50", buyers: "1" }]);
    expect((await b.view("sales_by_sku")).map((r) => r.sku).sort()).toEqual(["y", "z"]);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("checkViews: incremental views equal their SELECT, as ingested and fed again in random batches; a corrupted view fails with the rows that differ", async () => {
  const pipeline = await createTestPipeline({ root });
  try {
    for (let i = 0; i < 120; i += 30) await pipeline.ingest("Purchase", Array.from({ length: 30 }, (_, k) => purchase(`c-${i + k}`, `u-${(i + k) % 7}`, [`s-${(i + k) % 4}`, "all"])));
    await pipeline.checkViews({ seed: 1, maxBatch: 9 });
    // Corrupt the view's state behind Igloo's back: one more order for s-1.
    const db = ((await pipeline.query("SELECT currentDatabase() AS db")) as { db: string }[])[0]!.db;
    const store = await ChdbStore.open({ path: processChdbPath(), database: db, limits: DEFAULT_LIMITS.query });
    try {
      await store.exec("INSERT INTO igloo_view_sales_by_sku SELECT 's-1', countState(), uniqState('x'), uniqState('u-x') FROM numbers(1)");
    } finally {
      await store.close();
    }
    const error = await pipeline.checkViews({ seed: 2 }).then(() => undefined, (e: unknown) => e as IglooError);
    expect(error?.code).toBe("E_VIEW_MISMATCH");
    expect(error?.message).toContain("view `sales_by_sku` (incremental: 5 rows) differs from its SELECT run from scratch (5 rows): 1 only in the view, 1 only in the SELECT");
    // Side by side, the differing values marked.
    expect(error?.message).toContain(
      ["    incremental view           | SELECT from scratch", "    sku  items  orders  buyers | sku  items  orders  buyers", "    s-1  31*    31*     8*     | s-1  30*    30*     7*"].join("\n"),
    );
    expect(error?.message).toContain("(as this test ingested it)");
    expect(error?.hint).toContain("checkViews({ seed: 2 })");
  } finally {
    await pipeline.close();
  }
});

test("viewDiff compares rows as multisets, floats to 12 digits; randomBatches keeps order and bounds", () => {
  expect(viewDiff("v", [{ a: 1, f: 0.1 + 0.2 }, { a: 1, f: 0.3 }], [{ a: 1, f: 0.3 }, { a: 1, f: 0.30000000000000004 }])).toBeUndefined();
  expect(viewDiff("v", [{ a: 1 }, { a: 1 }], [{ a: 1 }])).toBe(
    ["view `v` (incremental: 2 rows) differs from its SELECT run from scratch (1 rows): 1 only in the view, 0 only in the SELECT", "    incremental view | SELECT from scratch", "    a                | a", "    1                | (no such row)"].join("\n"),
  );
  const next = seeded(5);
  const records = Array.from({ length: 1000 }, (_, i) => i);
  const batches = randomBatches(records, next, 13);
  expect(batches.flat()).toEqual(records);
  expect(batches.every((b) => b.length >= 1 && b.length <= 13)).toBe(true);
  expect(new Set(batches.map((b) => b.length)).size).toBeGreaterThan(5);
});

test("a batch spanning 150 months of a table partitioned by month is stored (found by sample(): the engine refuses more than 100 partitions per insert unless told)", async () => {
  const dir = join(tempDir("testing-partitions"), "project");
  try {
    mkdirSync(join(dir, "datamodels"), { recursive: true });
    writeFileSync(join(dir, "datamodels", "Backfill.prisma"), 'model Backfill {\n  id String\n  ts DateTime @db.DateTime64(3)\n  @@partitionBy("toYYYYMM(ts)")\n  @@orderBy([id])\n}\n');
    const pipeline = await createTestPipeline({ root: dir, functions: false });
    try {
      const records = Array.from({ length: 150 }, (_, i) => ({ id: `b-${i}`, ts: new Date(Date.UTC(2000, i, 15)).toISOString() }));
      expect((await pipeline.ingest("Backfill", records)).accepted).toBe(150);
      await pipeline.settle(10_000);
      expect(await pipeline.query("SELECT count() AS n, uniqExact(toYYYYMM(ts)) AS months FROM Backfill")).toEqual([{ n: "150", months: "150" }]);
    } finally {
      await pipeline.close();
    }
  } finally {
    removeDir(join(dir, ".."));
  }
});

test("the clock: @default(now()) fills in the pipeline's time, which a test sets and moves", async () => {
  const pipeline = await createTestPipeline({ root, now: "2026-01-01T00:00:00Z" });
  try {
    const view = (id: string) => ({ id, userId: "u", path: "/", country: "FR", device: "desktop", durationMs: 1 });
    await pipeline.ingest("PageView", view("00000000-0000-0000-0000-000000000001"));
    pipeline.clock.advance(90 * 60_000);
    await pipeline.ingest("PageView", view("00000000-0000-0000-0000-000000000002"));
    pipeline.clock.set(new Date("2030-06-30T12:00:00.250Z"));
    await pipeline.ingest("PageView", view("00000000-0000-0000-0000-000000000003"));
    expect(await pipeline.query("SELECT id, ts FROM PageView ORDER BY id")).toEqual([
      { id: "00000000-0000-0000-0000-000000000001", ts: "2026-01-01T00:00:00.000Z" },
      { id: "00000000-0000-0000-0000-000000000002", ts: "2026-01-01T01:30:00.000Z" },
      { id: "00000000-0000-0000-0000-000000000003", ts: "2030-06-30T12:00:00.250Z" },
    ]);
    expect(pipeline.clock.now().toISOString()).toBe("2030-06-30T12:00:00.250Z");
    expect(() => pipeline.clock.set("yesterday")).toThrow(/not a time/);
    // Fed again in other batches, each record keeps the time it was ingested at.
    await pipeline.checkViews({ seed: 4 });
  } finally {
    await pipeline.close();
  }
});

for (const workers of [1, 2]) {
  test(`a function's context (${workers === 1 ? "in this thread" : "in 2 workers"}): now() is the pipeline's clock, log lines reach the pipeline's log named after the function`, async () => {
    const dir = join(tempDir("testing-context"), "project");
    try {
      mkdirSync(join(dir, "datamodels"), { recursive: true });
      mkdirSync(join(dir, "functions"), { recursive: true });
      writeFileSync(join(dir, "datamodels", "Ping.prisma"), "model Ping {\n  id String\n}\n");
      writeFileSync(join(dir, "datamodels", "Pong.prisma"), "model Pong {\n  id String\n  seen DateTime @db.DateTime64(3)\n}\n");
      writeFileSync(
        join(dir, "functions", "pong.ts"),
        `import { defineFunction } from "igloo";\nexport default defineFunction({\n  from: "Ping",\n  to: "Pong",\n  workers: ${workers},\n  run(ping, context) {\n    context.log.warn("saw " + ping.id);\n    return { id: ping.id, seen: context.now().toISOString() };\n  },\n});\n`,
      );
      writeProjectLib(dir, loadProject(dir).models.models);
      const pipeline = await createTestPipeline({ root: dir, now: "2026-02-03T04:05:06.789Z" });
      try {
        await pipeline.ingest("Ping", [{ id: "a" }, { id: "b" }]);
        expect(await pipeline.query("SELECT id, seen FROM Pong ORDER BY id")).toEqual([
          { id: "a", seen: "2026-02-03T04:05:06.789Z" },
          { id: "b", seen: "2026-02-03T04:05:06.789Z" },
        ]);
        expect(pipeline.logs().filter((line) => line.includes("saw")).sort()).toEqual(["warn: function pong: saw a", "warn: function pong: saw b"]);
      } finally {
        await pipeline.close();
      }
    } finally {
      removeDir(join(dir, ".."));
    }
  });
}

test("fakeContext: a function tested without a pipeline, at a time the test sets, its log read back", async () => {
  const { fakeContext } = await import("../src/testing/context.ts");
  const context = fakeContext({ now: "2026-11-30T12:00:00Z" });
  const run = (record: { id: string }, ctx: typeof context) => {
    ctx.log.warn(`late: ${record.id}`);
    return { id: record.id, seen: ctx.now().toISOString() };
  };
  expect(run({ id: "x" }, context)).toEqual({ id: "x", seen: "2026-11-30T12:00:00.000Z" });
  expect(context.logs).toEqual([{ level: "warn", message: "late: x" }]);
});

test("fixtures load as POST /ingest would take them (a bad NDJSON line is that record's error), and snapshot() orders a view's rows", async () => {
  writeFileSync(join(root, "fixtures", "purchases.ndjson"), [JSON.stringify(purchase("f-1", "u-1", ["b", "a"])), "{not json", JSON.stringify(purchase("f-2", "u-2", ["a"]))].join("\n") + "\n");
  const pipeline = await createTestPipeline({ root });
  try {
    const verdict = await pipeline.load("Purchase", "fixtures/purchases.ndjson");
    expect(verdict).toMatchObject({ accepted: 2, rejected: 1 });
    expect(verdict.errors[0]!.index).toBe(1);
    expect((await pipeline.load("PageView", "fixtures/page-views.json")).accepted).toBe(3);
    expect(await pipeline.snapshot("sales_by_sku")).toEqual([
      { sku: "a", items: "2", orders: "2", buyers: "2" },
      { sku: "b", items: "1", orders: "1", buyers: "1" },
    ]);
    await pipeline.checkViews({ seed: 5 });
    await expect(pipeline.load("Purchase", "fixtures/missing.json")).rejects.toThrow(/ENOENT|no such file/);
  } finally {
    await pipeline.close();
  }
});
