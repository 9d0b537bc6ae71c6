/**
 * igloo/testing's createTestPipeline (src/testing), from source, on a copy of the template
 * project: the template's chain (Purchase -> purchaseItems -> PurchaseItem -> sales_by_sku),
 * its parameterized view, dead letters, and two pipelines side by side in one process.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { loadProject } from "../conventions/project.ts";
import { writeProjectLib } from "../src/generate/projectLib.ts";
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
