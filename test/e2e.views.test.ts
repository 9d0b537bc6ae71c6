/**
 * Views end to end on the compiled binary: an aggregating view fed by 50 concurrent
 * batches while it is queried answers exactly what a from-scratch SELECT answers, and a
 * parameterized view validates its parameters and binds them, never splicing them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { countRows, eventually, initProject, postIngest, query, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

const MODEL = `
model Visit {
  id         String
  country    String @db.LowCardinality
  durationMs Int    @db.UInt32
  userId     String
}
`;
const BY_COUNTRY = "SELECT country, count() AS visits, sum(durationMs) AS total_ms, uniq(userId) AS users, avg(durationMs) AS avg_ms FROM Visit GROUP BY country";
const COUNTRY_VISITS = "SELECT count() AS visits, sum(durationMs) AS total_ms FROM Visit WHERE country = {country:String} AND durationMs >= {min_ms:UInt32}";
const COUNTRIES = ["FR", "DE", "US", "JP", "BR", "IN", "NG"];

function visits(batch: number, size: number) {
  return Array.from({ length: size }, (_, i) => ({
    id: `v-${batch}-${i}`,
    country: COUNTRIES[(batch * 31 + i) % COUNTRIES.length]!,
    durationMs: (batch * 97 + i * 13) % 5000,
    userId: `u-${(batch * 7 + i) % 300}`,
  }));
}

type Row = Record<string, string | number>;
const sorted = (rows: Row[]) => [...rows].sort((a, b) => String(a.country).localeCompare(String(b.country)));

describe("views", () => {
  let dir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    dir = initProject("views");
    writeFileSync(join(dir, "datamodels", "Visit.prisma"), MODEL);
    // Data that exists before the view does: the view must be backfilled with it.
    dev = await startDev(dir);
    expect((await postIngest(dev.url, "Visit", visits(1000, 500))).body.accepted).toBe(500);
    await eventually(() => countRows(dev.url, "Visit"), (n) => n === 500);
    writeFileSync(join(dir, "views", "by_country.sql"), BY_COUNTRY);
    writeFileSync(join(dir, "views", "country_visits.sql"), COUNTRY_VISITS);
    await eventually(async () => (await fetch(`${dev.url}/views/by_country`)).status, (s) => s === 200, 10_000);
    await eventually(async () => (await fetch(`${dev.url}/views/country_visits?country=FR&min_ms=0`)).status, (s) => s === 200, 10_000);
  });
  afterAll(async () => {
    await dev?.stop();
    removeDir(dirname(dir));
  });

  test("fed by 50 concurrent batches while queried, the view equals the from-scratch SELECT", async () => {
    const view = async () => ((await (await fetch(`${dev.url}/views/by_country`)).json()) as { data: Row[] }).data;
    let querying = true;
    let answers = 0;
    const reader = (async () => {
      while (querying) {
        const rows = await view();
        expect(rows.length).toBeGreaterThan(0);
        answers++;
      }
    })();
    const sizes = Array.from({ length: 50 }, (_, b) => 1 + ((b * 37) % 200));
    const results = await Promise.all(sizes.map((size, b) => postIngest(dev.url, "Visit", visits(b, size))));
    querying = false;
    await reader;
    expect(answers).toBeGreaterThan(0);
    expect(results.every((r) => r.status === 200 && r.body.rejected === 0)).toBe(true);
    const total = 500 + sizes.reduce((a, b) => a + b, 0);

    await eventually(() => countRows(dev.url, "Visit"), (n) => n === total);
    const scratch = sorted(await query(dev.url, BY_COUNTRY));
    expect(scratch.reduce((sum, r) => sum + Number(r.visits), 0)).toBe(total);
    for (let i = 0; i < 5; i++) expect(sorted(await view())).toEqual(scratch);
  });

  test("a parameterized view binds its parameters", async () => {
    const get = (qs: string) => fetch(`${dev.url}/views/country_visits?${qs}`);
    const ok = await get("country=FR&min_ms=1000");
    expect(ok.status).toBe(200);
    const [row] = ((await ok.json()) as { data: Row[] }).data;
    const [expected] = await query(dev.url, "SELECT count() AS visits, sum(durationMs) AS total_ms FROM Visit WHERE country = 'FR' AND durationMs >= 1000");
    expect(row).toEqual(expected!);
  });

  test("bad parameters get a 400 naming the parameter; injection attempts are only values", async () => {
    for (const [qs, pattern] of [
      ["country=FR", /min_ms/],
      ["country=FR&min_ms=-5", /min_ms.*UInt32/],
      ["country=FR&min_ms=abc", /min_ms/],
      ["country=FR&min_ms=1&extra=1", /extra/],
    ] as const) {
      const response = await fetch(`${dev.url}/views/country_visits?${qs}`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(pattern);
    }
    for (const attempt of ["FR' OR 1=1 --", "FR'; DROP TABLE Visit; --", "' UNION SELECT 1, 2 --"]) {
      const response = await fetch(`${dev.url}/views/country_visits?country=${encodeURIComponent(attempt)}&min_ms=0`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { data: Row[] }).data).toEqual([{ visits: "0", total_ms: "0" }]);
    }
    expect(await countRows(dev.url, "Visit")).toBeGreaterThan(500);
    const missing = await fetch(`${dev.url}/views/nope`);
    expect(missing.status).toBe(404);
  });

  test("a view with an error is reported with its file and the last good version keeps serving", async () => {
    const mark = dev.output().length;
    writeFileSync(join(dir, "views", "by_country.sql"), "SELECT country, count( FROM Visit GROUP BY country");
    await eventually(async () => dev.output().slice(mark), (out) => out.includes("views/by_country.sql"), 10_000);
    expect((await fetch(`${dev.url}/views/by_country`)).status).toBe(200);
    writeFileSync(join(dir, "views", "cycle_a.sql"), "SELECT * FROM cycle_b");
    writeFileSync(join(dir, "views", "cycle_b.sql"), "SELECT * FROM cycle_a");
    await eventually(async () => dev.output().slice(mark), (out) => /cycle/.test(out) && /views\/cycle_a\.sql/.test(out), 10_000);
  });
});
