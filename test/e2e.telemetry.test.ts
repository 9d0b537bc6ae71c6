/**
 * Igloo through Igloo, on the compiled binary: `igloo dev` records its start, each reload
 * (what it changed, how long it took), ingest and rejection counts and function errors in
 * `igloo_events`, through its own ingest path; `igloo query` reads them like any table.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { IGLOO, initProject, postIngest, removeDir, startDev } from "./helpers/igloo.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => removeDir(dirname(dir))));

const FAILING = `import { defineFunction } from "igloo";
export default defineFunction({
  from: "Purchase",
  to: "PurchaseItem",
  run(purchase) {
    if (purchase.userId === "boom") throw new Error("boom user");
    return null;
  },
});
`;

function iglooQuery(dir: string, url: string, sql: string): Record<string, unknown>[] {
  const result = Bun.spawnSync([IGLOO, "query", sql, "--url", url, "--json"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`igloo query failed: ${result.stderr.toString()}`);
  return JSON.parse(result.stdout.toString()) as Record<string, unknown>[];
}

test("igloo dev's start, reloads, ingest and rejection counts and function errors reach igloo_events, and igloo query reads them", async () => {
  const dir = initProject("telemetry");
  dirs.push(dir);
  const dev = await startDev(dir);
  try {
    writeFileSync(join(dir, "functions", "failing.ts"), FAILING);
    const purchase = (orderId: string, userId: string) => ({ orderId, ts: "2026-11-30T10:00:00Z", userId, amount: 1, items: ["a"] });
    // Until the new function runs, a record for it could go through the old set alone.
    for (let i = 0; i < 100 && !dev.output().includes("failing"); i++) await Bun.sleep(50);
    const verdict = await postIngest(dev.url, "Purchase", [purchase("t-1", "u-1"), purchase("t-2", "boom"), { orderId: "t-3" }]);
    expect(verdict.body).toMatchObject({ accepted: 2, rejected: 1 });
    const sql = "SELECT kind, subject, sum(count) AS n, max(durationMs) AS ms, any(detail) AS detail FROM igloo_events GROUP BY kind, subject ORDER BY kind, subject";
    let rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      rows = iglooQuery(dir, dev.url, sql);
      if (rows.some((r) => r.kind === "function_error") && rows.some((r) => r.kind === "rejected")) break;
      await Bun.sleep(100);
    }
    const of = (kind: string, subject?: string) => rows.find((r) => r.kind === kind && (subject === undefined || r.subject === subject));
    expect(of("start", "dev")).toMatchObject({ n: "1" });
    expect(Number(of("start", "dev")!.ms)).toBeGreaterThan(0);
    expect(of("ingest", "Purchase")).toMatchObject({ n: "2" });
    expect(of("rejected", "Purchase")).toMatchObject({ n: "1" });
    expect(of("function_error", "failing")).toMatchObject({ n: "1" });
    const reload = of("reload", "functions");
    expect(reload?.detail).toContain("failing");
    expect(Number(reload?.ms)).toBeGreaterThanOrEqual(0);
    // Other commands run in the project tell its dev server, which records them too.
    const check = Bun.spawnSync([IGLOO, "check"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, IGLOO_URL: dev.url } });
    expect(check.exitCode).toBe(0);
    let commands: Record<string, unknown>[] = [];
    const hasCheck = () => commands.some((c) => c.subject === "check");
    for (let i = 0; i < 100 && !hasCheck(); i++) {
      commands = iglooQuery(dir, dev.url, "SELECT subject, detail, durationMs FROM igloo_events WHERE kind = 'command' ORDER BY subject");
      if (!hasCheck()) await Bun.sleep(100);
    }
    // igloo query is recorded by the server it asked (--url).
    expect(commands.map((c) => c.subject)).toEqual(expect.arrayContaining(["check", "query"]));
    expect(Number(commands.find((c) => c.subject === "check")!.durationMs)).toBeGreaterThan(0);
  } finally {
    await dev.stop();
  }
});
