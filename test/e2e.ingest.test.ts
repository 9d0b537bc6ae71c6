/**
 * The foundation, end to end, as a user runs it: the compiled binary, `igloo init`, then
 * `igloo dev`, HTTP ingest, rows counted in the real chDB tables.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname } from "node:path";
import { countRows, eventually, initProject, postIngest, query, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

function purchase(i: number, prefix = "o") {
  return {
    orderId: `${prefix}-${i}`,
    ts: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    userId: `u${i % 97}`,
    amount: ((i % 1000) + 0.25).toFixed(2),
    currency: i % 2 ? "EUR" : "USD",
    items: [`sku-${i % 13}`],
    coupon: i % 5 === 0 ? "WINTER" : null,
  };
}

describe("igloo init + igloo dev (compiled binary)", () => {
  let dir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    dir = initProject("e2e");
    dev = await startDev(dir);
  });
  afterAll(async () => {
    await dev?.stop();
    removeDir(dirname(dir));
  });

  test("GET /health answers once ready", async () => {
    const response = await fetch(`${dev.url}/health`);
    expect(response.status).toBe(200);
  });

  test("100,000 events over HTTP in batches: each is in its table exactly once", async () => {
    const total = 100_000;
    const batch = 1000;
    const concurrency = 8;
    let next = 0;
    let accepted = 0;
    const worker = async () => {
      while (next < total) {
        const start = next;
        next += batch;
        const records = Array.from({ length: Math.min(batch, total - start) }, (_, k) => purchase(start + k, "bulk"));
        const { status, body } = await postIngest(dev.url, "Purchase", records);
        expect(status).toBe(200);
        expect(body.rejected).toBe(0);
        accepted += body.accepted;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    expect(accepted).toBe(total);
    await eventually(() => countRows(dev.url, "Purchase", "startsWith(orderId, 'bulk-')"), (n) => n >= total);
    const [stats] = await query<{ c: string; u: string; s: string }>(
      dev.url,
      "SELECT count() AS c, uniqExact(orderId) AS u, toString(sum(amount)) AS s FROM Purchase WHERE startsWith(orderId, 'bulk-')",
    );
    expect(stats!.c).toBe(String(total));
    expect(stats!.u).toBe(String(total));
    const expectedSum = Array.from({ length: total }, (_, i) => (i % 1000) * 100 + 25).reduce((a, b) => a + b, 0) / 100;
    expect(Number(stats!.s)).toBe(expectedSum);
  });

  test("a batch mixing valid and invalid records: exact counts, messages and dead letters", async () => {
    const mix = (i: number) => ({ ...purchase(i, "mix"), userId: "mix-user" });
    const records: unknown[] = [
      mix(1),
      { ...mix(2), amount: "12.345" }, // scale 3 into Decimal(18, 2)
      mix(3),
      { ...mix(4), ts: "yesterday" },
      { ...mix(5), orderId: undefined }, // missing required @id
      { ...mix(6), colour: "red" }, // unknown field
      mix(7),
      "not an object",
      { ...mix(9), items: ["ok", 7] },
    ];
    const { status, body } = await postIngest(dev.url, "Purchase", records);
    expect(status).toBe(200);
    expect(body.accepted).toBe(3);
    expect(body.rejected).toBe(6);
    expect(body.errors.map((e: { index: number }) => e.index)).toEqual([1, 3, 4, 5, 7, 8]);
    const messages: string[] = body.errors.map((e: { message: string }) => e.message);
    expect(messages[0]).toContain("amount");
    expect(messages[1]).toContain("ts");
    expect(messages[2]).toContain("orderId");
    expect(messages[3]).toContain("colour");
    expect(messages[4]).toContain("object");
    expect(messages[5]).toContain("items[1]");

    await eventually(() => countRows(dev.url, "Purchase", "startsWith(orderId, 'mix-')"), (n) => n >= 3);
    const letters = await eventually(
      () => query<{ record: string; error: string; stage: string }>(dev.url, "SELECT record, error, stage FROM igloo_dead_letters WHERE source = 'Purchase' AND (position(record, 'mix-user') > 0 OR record = '\"not an object\"')"),
      (rows) => rows.length >= 6,
    );
    expect(letters.length).toBe(6);
    expect(new Set(letters.map((l) => l.error))).toEqual(new Set(messages));
    expect(letters.every((l) => l.stage === "ingest")).toBe(true);
    expect(letters.some((l) => JSON.parse(l.record).colour === "red")).toBe(true);
    expect(await countRows(dev.url, "Purchase", "startsWith(orderId, 'mix-')")).toBe(3);
  });

  test("NDJSON bodies: a bad line is rejected on its own", async () => {
    const lines = [JSON.stringify(purchase(1, "nd")), "{not json", JSON.stringify(purchase(2, "nd")), ""].join("\n");
    const { status, body } = await postIngest(dev.url, "Purchase", lines, "application/x-ndjson");
    expect(status).toBe(200);
    expect(body.accepted).toBe(2);
    expect(body.rejected).toBe(1);
    expect(body.errors[0].index).toBe(1);
    expect(body.errors[0].message).toContain("not valid JSON");
    await eventually(() => countRows(dev.url, "Purchase", "startsWith(orderId, 'nd-')"), (n) => n === 2);
  });

  test("POST /query is read-only", async () => {
    for (const sql of ["DROP TABLE Purchase", "INSERT INTO Purchase (orderId) VALUES ('x')", "SELECT 1; DROP TABLE Purchase", "CREATE TABLE x (a UInt8) ENGINE = Memory"]) {
      const response = await fetch(`${dev.url}/query`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql }) });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error.length).toBeGreaterThan(0);
    }
    expect(await countRows(dev.url, "Purchase", "startsWith(orderId, 'nd-')")).toBe(2);
  });
});
