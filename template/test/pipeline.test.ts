// The whole pipeline in this test's process: ingest, the function, the tables and the
// views, on the embedded engines, empty for this file and apart from every other file.
// Answers are exactly what the HTTP API gives: 64-bit counts come back as strings.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTestPipeline, sample, type TestPipeline } from "igloo/testing";

let pipeline: TestPipeline;
beforeAll(async () => {
  pipeline = await createTestPipeline();
});
afterAll(() => pipeline.close());

const purchase = (orderId: string, userId: string, items: string[]) => ({ orderId, ts: "2026-11-24T10:00:00Z", userId, amount: 19.9, items });

test("chain: the function splits each purchase into items, and sales_by_sku counts them", async () => {
  const verdict = await pipeline.ingest("Purchase", [purchase("o-1", "u-1", ["sku-1", "sku-2"]), purchase("o-2", "u-2", ["sku-1"])]);
  expect(verdict).toMatchObject({ accepted: 2, rejected: 0 });
  // view() waits until every accepted record went through the function and the writers.
  expect(await pipeline.view("sales_by_sku")).toEqual(
    expect.arrayContaining([
      { sku: "sku-1", items: "2", orders: "2", buyers: "2" },
      { sku: "sku-2", items: "1", orders: "1", buyers: "1" },
    ]),
  );
});

test("a view with parameters answers as GET /views/user_purchases?userId=u-1&since=... does", async () => {
  const rows = await pipeline.view("user_purchases", { userId: "u-1", since: "2026-01-01 00:00:00" });
  expect(rows).toEqual([{ orderId: "o-1", ts: "2026-11-24T10:00:00.000Z", amount: "19.90", items: ["sku-1", "sku-2"] }]);
});

test("fixtures go in like any client's events; a resent page view is counted once", async () => {
  // fixtures/page-views.json twice: only the view with an id is the same view resent.
  await pipeline.load("PageView", "fixtures/page-views.json");
  await pipeline.load("PageView", "fixtures/page-views.json");
  expect(await pipeline.view("top_pages")).toEqual(expect.arrayContaining([expect.objectContaining({ path: "/docs", views: "1" })]));
});

test("any page view the model allows is accepted: 200 generated ones, edges included", async () => {
  // sample() makes records from the model (the same for the same seed); sample.invalid()
  // makes ones ingest refuses, each with the reason ingest gives.
  expect((await pipeline.ingest("PageView", sample("PageView", { count: 200, seed: 1 }))).rejected).toBe(0);
  const [spoiled] = sample.invalid("PageView", { count: 1, seed: 1 });
  expect((await pipeline.ingest("PageView", spoiled!.record)).errors[0]!.message).toBe(spoiled!.reason);
});

test("an invalid record is refused with its reason and kept in the dead letters", async () => {
  // @ts-expect-error: no path, on purpose
  const verdict = await pipeline.ingest("PageView", [{ userId: "u-9", country: "FR", device: "desktop", durationMs: 1 }]);
  expect(verdict.rejected).toBe(1);
  expect(verdict.errors[0]!.message).toContain("path");
  const letters = await pipeline.deadLetters();
  expect(letters.at(-1)).toMatchObject({ source: "PageView", stage: "ingest", record: JSON.stringify({ userId: "u-9", country: "FR", device: "desktop", durationMs: 1 }) });
});

test("a time-windowed view answers at the pipeline's clock: views_per_minute keeps the last hour", async () => {
  // A pipeline of its own, its clock stopped: @default(now()) and now() in views read it.
  const timed = await createTestPipeline({ now: "2026-11-24T10:00:00Z" });
  try {
    const view = (path: string) => ({ userId: "u-1", path, country: "FR", device: "mobile" as const, durationMs: 10 });
    await timed.ingest("PageView", [view("/a"), view("/b")]); // ts: 10:00, the clock's time
    timed.clock.advance(30 * 60_000);
    await timed.ingest("PageView", view("/c")); // 10:30
    expect(await timed.view("views_per_minute")).toEqual([
      { minute: "2026-11-24T10:00:00Z", views: "2" },
      { minute: "2026-11-24T10:30:00Z", views: "1" },
    ]);
    timed.clock.advance(45 * 60_000); // 11:15: the views of 10:00 are over an hour old
    expect(await timed.view("views_per_minute")).toEqual([{ minute: "2026-11-24T10:30:00Z", views: "1" }]);
  } finally {
    await timed.close();
  }
});

test("every incremental view equals its SELECT run from scratch, however the records are batched", async () => {
  // On this pipeline, then on a fresh one fed the same records in random batches; a
  // failure shows the rows that differ and the seed that reproduces the batches.
  await pipeline.checkViews();
});
