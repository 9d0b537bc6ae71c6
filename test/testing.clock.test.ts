/**
 * A test pipeline's clock in views and queries (src/testing/clockSql.ts): the rewrite of
 * now(), now64(), today(), yesterday() and current_timestamp() on tokens, and a
 * time-windowed view, a parameterized one and a view over it answering at the clock's
 * time in a real pipeline on chDB.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLOCK_TABLE, withTestClock } from "../src/testing/clockSql.ts";
import { createTestPipeline } from "../src/testing/testPipeline.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";

const CLOCK = `ifNull((SELECT max(at) FROM ${CLOCK_TABLE}), now64(3))`;

test("the rewrite: each current-time call reads the clock and keeps its arguments; strings, comments and columns named now are left alone", () => {
  expect(withTestClock("SELECT now()")).toBe(`SELECT toDateTime(${CLOCK})`);
  expect(withTestClock("SELECT NOW('Asia/Tokyo')")).toBe(`SELECT toDateTime(${CLOCK}, 'Asia/Tokyo')`);
  expect(withTestClock("SELECT now64()")).toBe(`SELECT toDateTime64(${CLOCK}, 3)`);
  expect(withTestClock("SELECT now64(6, 'UTC')")).toBe(`SELECT toDateTime64(${CLOCK}, 6, 'UTC')`);
  expect(withTestClock("SELECT today(), yesterday()")).toBe(`SELECT toDate(${CLOCK}), (toDate(${CLOCK}) - 1)`);
  expect(withTestClock("SELECT CURRENT_TIMESTAMP()")).toBe(`SELECT toDateTime(${CLOCK})`);
  const untouched = ["SELECT 'now()' AS s -- now()\n/* today() */", "SELECT t.now(), now FROM t", "SELECT `now`(1)", "SELECT TODAY()", "SELECT yesterday(1)", "SELECT 'unclosed"];
  for (const sql of untouched) expect(withTestClock(sql)).toBe(sql);
  // No newline is added: an error's line in a rewritten view is the line of its file.
  const sql = "SELECT a,\n  now() AS t\nFROM x\nWHERE d = today()";
  expect(withTestClock(sql).split("\n").length).toBe(sql.split("\n").length);
});

const dir = join(tempDir("testing-clock"), "project");
afterAll(() => removeDir(join(dir, "..")));

test("a time-windowed view, a parameterized one and a view over it answer at the pipeline's time, and move with it without a new ingest", async () => {
  mkdirSync(join(dir, "datamodels"), { recursive: true });
  mkdirSync(join(dir, "views"), { recursive: true });
  writeFileSync(join(dir, "datamodels", "Hit.prisma"), 'model Hit {\n  id String\n  path String\n  ts DateTime @default(now())\n  @@orderBy([id])\n}\n');
  writeFileSync(join(dir, "views", "last_hour.sql"), "SELECT path, count() AS hits\nFROM Hit\nWHERE ts > now() - INTERVAL 1 HOUR\nGROUP BY path\nORDER BY path\n");
  writeFileSync(join(dir, "views", "last_hour_total.sql"), "SELECT sum(hits) AS hits, today() AS day, yesterday() AS before FROM last_hour\n");
  writeFileSync(join(dir, "views", "hits_since.sql"), "SELECT count() AS hits FROM Hit WHERE ts > now64(3) - toIntervalMinute({minutes:UInt32})\n");
  const pipeline = await createTestPipeline({ root: dir, functions: false, now: "2026-03-01T10:00:00Z" });
  try {
    await pipeline.ingest("Hit", [{ id: "1", path: "/a" }, { id: "2", path: "/b" }]);
    pipeline.clock.advance(40 * 60_000);
    await pipeline.ingest("Hit", [{ id: "3", path: "/a" }]);
    expect(await pipeline.view("last_hour")).toEqual([{ path: "/a", hits: "2" }, { path: "/b", hits: "1" }]);
    expect(await pipeline.view("hits_since", { minutes: 30 })).toEqual([{ hits: "1" }]);
    expect(await pipeline.query("SELECT now() AS t, now64(3) AS t3, today() AS d")).toEqual([{ t: "2026-03-01T10:40:00Z", t3: "2026-03-01T10:40:00.000Z", d: "2026-03-01" }]);

    // 30 minutes on, the first two hits are over an hour old: no new ingest needed.
    pipeline.clock.advance(30 * 60_000);
    expect(await pipeline.view("last_hour")).toEqual([{ path: "/a", hits: "1" }]);
    expect(await pipeline.view("last_hour_total")).toEqual([{ hits: "1", day: "2026-03-01", before: "2026-02-28" }]);
    pipeline.clock.set("2026-03-02T00:00:00Z");
    expect(await pipeline.view("last_hour")).toEqual([]);
    expect(await pipeline.query("SELECT yesterday() AS y")).toEqual([{ y: "2026-03-01" }]);
  } finally {
    await pipeline.close();
  }
  // A running clock (no `now`) reads the engine's own time.
  const running = await createTestPipeline({ root: dir, functions: false });
  try {
    const [{ t }] = (await running.query("SELECT toUnixTimestamp(now()) AS t")) as [{ t: string }];
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(120);
  } finally {
    await running.close();
  }
});
