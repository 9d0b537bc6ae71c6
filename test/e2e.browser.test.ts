/**
 * The generated client in a real browser: Debian's headless Chromium (driven by
 * playwright-core) loads a page from another origin that ingests, queries with
 * read-your-writes, and receives a subscription push from `igloo dev`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Browser } from "playwright-core";
import { launchChromium } from "./helpers/browser.ts";
import { eventually, freePort, initProject, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

const PAGE = `
import { createClient } from "../project/.igloo/client/index.ts";

declare global { interface Window { run(url: string): Promise<unknown> } }

window.run = async (url: string) => {
  const client = createClient({ url });
  const pushes: number[] = [];
  const first = new Promise<void>((resolve) => {
    const subscription = client.views.sales_by_sku.subscribe({}, (rows) => {
      const sku = rows.find((row) => row.sku === "browser-sku");
      pushes.push(Number(sku?.items ?? 0));
      if (Number(sku?.items ?? 0) >= 2) {
        subscription.close();
        resolve();
      }
    });
  });
  const verdict = await client.ingest.Purchase([
    { orderId: "b-1", ts: "2026-11-24T10:00:00Z", userId: "browser", amount: 12.5, items: ["browser-sku", "browser-sku"] },
    { orderId: "b-2", ts: "not a time", userId: "browser", amount: 1, items: [] },
  ]);
  const rows = await client.views.user_purchases({ userId: "browser", since: "2026-01-01 00:00:00" }, { after: verdict.token });
  await first;
  await client.close();
  return { accepted: verdict.accepted, rejected: verdict.rejected, error: verdict.errors[0]?.message, rows, pushes };
};
`;

describe("the generated client in headless Chromium", () => {
  let dir: string;
  let dev: DevProcess;
  let browser: Browser;
  let site: ReturnType<typeof Bun.serve>;

  beforeAll(async () => {
    dir = initProject("browser");
    dev = await startDev(dir);
    await eventually(async () => Bun.file(join(dir, ".igloo", "client", "index.ts")).exists(), (ok) => ok, 10_000);
    const pageDir = join(dirname(dir), "page");
    mkdirSync(pageDir, { recursive: true });
    writeFileSync(join(pageDir, "app.ts"), PAGE);
    const built = await Bun.build({ entrypoints: [join(pageDir, "app.ts")], target: "browser", format: "esm" });
    if (!built.success) throw new Error(built.logs.map(String).join("\n"));
    const script = await built.outputs[0]!.text();
    site = Bun.serve({
      hostname: "127.0.0.1",
      port: freePort(),
      fetch: (request) =>
        new URL(request.url).pathname === "/app.js"
          ? new Response(script, { headers: { "content-type": "text/javascript" } })
          : new Response('<!doctype html><script type="module" src="/app.js"></script>', { headers: { "content-type": "text/html" } }),
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    site?.stop(true);
    await dev?.stop();
    if (dir) removeDir(dirname(dir));
  });

  test("ingest, a read-your-writes query and a live subscription from a page on another origin", async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${site.port}/`);
    await page.waitForFunction(() => typeof (globalThis as unknown as { run?: unknown }).run === "function");
    const result = (await page.evaluate((url) => (globalThis as unknown as { run(u: string): Promise<unknown> }).run(url), dev.url)) as {
      accepted: number;
      rejected: number;
      error: string;
      rows: { orderId: string; amount: string }[];
      pushes: number[];
    };
    expect(result.accepted).toBe(1);
    expect(result.rejected).toBe(1);
    expect(result.error).toContain("`ts`");
    expect(result.rows).toEqual([expect.objectContaining({ orderId: "b-1", amount: "12.50" })]);
    expect(result.pushes.at(-1)).toBe(2);
    await page.close();
  });
});
