/**
 * An ack means durable: kill -9 during sustained ingest, restart, and every event that got
 * a 200 is in its table exactly once. Also: a clean stop exits 0 and a restart keeps all
 * data; a broken model file is reported with file and line while the last good version
 * keeps serving.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { countRows, eventually, initProject, postIngest, query, removeDir, startDev } from "./helpers/igloo.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => removeDir(dirname(d))));

function purchase(id: string) {
  return { orderId: id, ts: "2026-01-01T00:00:00.000Z", userId: "u", amount: "9.99", items: ["x"] };
}

describe("durability", () => {
  test("kill -9 during sustained ingest loses and duplicates nothing that was acknowledged", async () => {
    const dir = initProject("kill9");
    dirs.push(dir);
    const dev = await startDev(dir);
    const acked = new Set<string>();
    let sent = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const ids = Array.from({ length: 50 }, (_, k) => `w${w}-${n}-${k}`);
        sent += ids.length;
        try {
          const response = await fetch(`${dev.url}/ingest/Purchase`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ids.map(purchase)) });
          if (response.status === 200) ids.forEach((id) => acked.add(id));
        } catch {
          return; // the server died mid-request: that batch was never acknowledged
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await eventually(async () => acked.size, (n) => n >= 20_000, 30_000);
    await dev.kill9();
    stop = true;
    await Promise.all(workers);
    expect(acked.size).toBeGreaterThanOrEqual(20_000);

    const again = await startDev(dir, { port: dev.port });
    try {
      await eventually(() => countRows(again.url, "Purchase"), (n) => n >= acked.size, 60_000);
      await again.stop();
      // Read from a fresh process once more: nothing arrives late.
      const last = await startDev(dir);
      try {
        const duplicates = await query(last.url, "SELECT orderId, count() AS c FROM Purchase GROUP BY orderId HAVING c > 1 LIMIT 5");
        expect(duplicates).toEqual([]);
        const present = new Set((await query<{ orderId: string }>(last.url, "SELECT orderId FROM Purchase")).map((r) => r.orderId));
        const missing = [...acked].filter((id) => !present.has(id));
        expect(missing).toEqual([]);
        expect(present.size).toBeLessThanOrEqual(sent);
      } finally {
        await last.stop();
      }
    } finally {
      if (again.proc.exitCode === null) await again.stop();
    }
  });

  test("SIGTERM exits 0 after writing what was acknowledged; a restart keeps every row", async () => {
    const dir = initProject("restart");
    dirs.push(dir);
    const dev = await startDev(dir);
    const { body } = await postIngest(dev.url, "Purchase", Array.from({ length: 500 }, (_, i) => purchase(`r-${i}`)));
    expect(body.accepted).toBe(500);
    expect(await dev.stop()).toBe(0);
    const again = await startDev(dir);
    try {
      expect(await countRows(again.url, "Purchase")).toBe(500);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  });

  test("a broken model file is reported with file and line; the last good version keeps serving; fixing it recovers", async () => {
    const dir = initProject("broken");
    dirs.push(dir);
    const dev = await startDev(dir);
    try {
      const file = join(dir, "datamodels", "Purchase.prisma");
      const good = readFileSync(file, "utf8");
      const mark = dev.output().length;
      writeFileSync(file, good.replace("coupon    String?", "coupon    Coupon @relation(fields: [userId], references: [id])"));
      await eventually(async () => dev.output(), (out) => /datamodels\/Purchase\.prisma:\d+:\d+: .*coupon/.test(out), 10_000);
      // The reload does not claim success: it says what kept its last good version.
      const afterBroken = await eventually(async () => dev.output().slice(mark), (out) => /kept the last good version of the files with errors/.test(out), 10_000);
      expect(afterBroken).not.toMatch(/^reloaded \(/m);
      const { status, body } = await postIngest(dev.url, "Purchase", purchase("still-served"));
      expect(status).toBe(200);
      expect(body.accepted).toBe(1);

      writeFileSync(file, good.replace("coupon    String?", "coupon    String?\n  channel   String?"));
      await eventually(async () => dev.output(), (out) => out.includes("add column Purchase.channel"), 30_000).catch((error: unknown) => {
        throw new Error(`${error}\n--- igloo dev output ---\n${dev.output()}`);
      });
      const added = await postIngest(dev.url, "Purchase", { ...purchase("new-field"), channel: "web" });
      expect(added.body).toMatchObject({ accepted: 1, rejected: 0, errors: [] });
      await eventually(() => query(dev.url, "SELECT channel FROM Purchase WHERE orderId = 'new-field'"), (rows) => rows.length === 1 && rows[0]!.channel === "web");
    } finally {
      await dev.stop();
    }
  });
});
