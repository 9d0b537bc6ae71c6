/**
 * The dev console (`/_igloo/`) in headless Chromium against `igloo dev` (the compiled
 * binary): every page renders with no console error; a new record shows in its model's
 * live tail within 1 s; a rejected record shows on the dead-letters page, and a
 * function's error with the file and line where it threw; a held destructive change is
 * applied with the button; every request the pages make stays on loopback; the apply
 * endpoint refuses what another site could send. Then the figures: a cold load of the
 * home page, and the console's JavaScript, gzipped.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CONSOLE_BUNDLE, CONSOLE_FILE } from "../src/commands/devConsole.ts";
import { COMPONENTS_BUNDLE, COMPONENTS_FILE } from "../src/generate/components.ts";
import { launchChromium } from "./helpers/browser.ts";
import { countRows, eventually, initProject, postIngest, query, REPO, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

/** A function that throws on some purchases, so the console has a function error to show. */
const FAILING = `import { defineFunction } from "igloo";

export default defineFunction({
  from: "Purchase",
  to: "PurchaseItem",
  run(purchase) {
    if (purchase.orderId.startsWith("boom")) throw new Error("no boom orders");
    return null;
  },
});
`;

const PAGES = [
  "/_igloo/",
  "/_igloo/models/PageView",
  "/_igloo/models/Purchase",
  "/_igloo/functions/purchaseItems",
  "/_igloo/functions/failing",
  "/_igloo/views/top_pages",
  "/_igloo/views/user_purchases",
  "/_igloo/views/user_purchases?userId=u-1&since=2026-01-01%2000%3A00%3A00",
  "/_igloo/dead-letters",
  "/_igloo/dead-letters?source=PageView&stage=ingest",
  "/_igloo/sql",
  "/_igloo/changes",
];

const view = (i: number, extra: Record<string, unknown> = {}) => ({ userId: `u-${i % 3}`, path: `/p${i % 4}`, country: "FR", device: "mobile", durationMs: 100 + i, ...extra });

describe("the dev console in headless Chromium", () => {
  let dir: string;
  let dev: DevProcess;
  let browser: Browser;
  /** Every URL any page asked for, and every console error or uncaught exception. */
  const requests: string[] = [];
  const problems: string[] = [];

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("request", (request) => requests.push(request.url()));
    page.on("console", (message) => void (message.type() === "error" && problems.push(`${path}: ${message.text()}`)));
    page.on("pageerror", (error) => problems.push(`${path}: ${error.message}`));
    await page.goto(`${dev.url}${path}`);
    // The pages set data-ready once they drew their data (a selector: the pages' CSP forbids eval).
    await page.waitForSelector("body[data-ready=true]", { state: "attached", timeout: 20_000 });
    return page;
  }

  beforeAll(async () => {
    dir = initProject("console");
    writeFileSync(join(dir, "functions", "failing.ts"), FAILING);
    dev = await startDev(dir);
    browser = await launchChromium();
    expect((await postIngest(dev.url, "PageView", Array.from({ length: 12 }, (_, i) => view(i)))).body.accepted).toBe(12);
    const purchase = { orderId: "o-1", ts: "2026-11-30T10:00:00Z", userId: "u-1", amount: "12.50", items: ["sku-a", "sku-b"] };
    expect((await postIngest(dev.url, "Purchase", [purchase, { ...purchase, orderId: "boom-1" }])).body.accepted).toBe(2);
    await eventually(() => countRows(dev.url, "PageView"), (n) => n === 12);
    await eventually(() => countRows(dev.url, "igloo_dead_letters", "source = 'failing'"), (n) => n === 1);
  });

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
    if (dir) removeDir(dirname(dir));
  });

  test("every page renders with no console errors", async () => {
    for (const path of PAGES) {
      const page = await open(path);
      expect(await page.locator("main h1").first().textContent()).toBeTruthy();
      await page.close();
    }
    expect(problems).toEqual([]);
  });

  test("the map shows each stage, and the failing function in red", async () => {
    const page = await open("/_igloo/");
    for (const node of ["m:PageView", "t:PageView", "f:purchaseItems", "tb:PurchaseItem", "v:top_pages", "e:top_pages", "t:igloo_dead_letters"]) {
      expect(await page.locator(`[data-node="${node}"]`).count()).toBe(1);
    }
    await page.waitForSelector('[data-node="f:failing"].bad', { timeout: 5_000 });
    // Igloo's own activity, read from igloo_events through the view igloo_activity by the same element any dashboard uses.
    expect(await page.evaluate(`new Promise((resolve) => { const e = document.getElementById("activity"); const check = () => ["ready", "empty", "error"].includes(e.state) && resolve(e.state); e.addEventListener("igloo-rows", check); e.addEventListener("igloo-error", check); check(); })`)).toBe("ready");
    expect(((await page.evaluate(`document.getElementById("activity").rows.map((r) => r.kind)`)) as string[])).toEqual(expect.arrayContaining(["ingest", "reload", "start"]));
    expect(await page.locator('[data-node="m:igloo_events"]').count()).toBe(0);
    await page.close();
    expect(problems).toEqual([]);
  });

  test("a new record appears in its model's live tail within 1 s", async () => {
    const page = await open("/_igloo/models/PageView");
    await page.waitForSelector("[data-tail] table");
    // Watched in the page (a string: the tests' TypeScript has no DOM library, and a
    // devtools evaluation is not the page's eval, which its CSP forbids): when the row is
    // added, not when a selector poll (every 100-500 ms) would notice it.
    const appeared = (path: string) =>
      page.evaluate(`new Promise((resolve) => {
        const shown = () => [...document.querySelectorAll("[data-tail] td")].some((td) => td.textContent === ${JSON.stringify(path)});
        const observer = new MutationObserver(() => shown() && (observer.disconnect(), resolve(performance.timeOrigin + performance.now())));
        observer.observe(document.body, { subtree: true, childList: true });
      })`) as Promise<number>;
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const path = `/tail-${i}-${Date.now()}`;
      const seen = appeared(path);
      await Bun.sleep(50);
      const sent = Date.now();
      expect((await postIngest(dev.url, "PageView", view(i, { path }))).body.accepted).toBe(1);
      times.push((await seen) - sent);
    }
    console.log(`console live tail: a new record shown ${times.map((t) => `${Math.round(t)} ms`).join(", ")} after its ingest request was sent`);
    for (const time of times) expect(time).toBeLessThan(1_000);
    await page.close();
    expect(problems).toEqual([]);
  });

  test("a rejected record appears on the dead-letters page; a function's error names its file and line", async () => {
    const page = await open("/_igloo/dead-letters?source=PageView&stage=ingest");
    const path = `/rejected-${Date.now()}`;
    expect((await postIngest(dev.url, "PageView", view(1, { path, device: "watch" }))).body.rejected).toBe(1);
    const row = page.locator("[data-dead-letters] tr", { hasText: path });
    await row.waitFor({ timeout: 5_000 });
    expect(await row.textContent()).toContain('expected one of "desktop", "mobile", "tablet", got "watch"');
    await page.close();

    const fn = await open("/_igloo/functions/failing");
    const error = fn.locator("[data-dead-letters] td code");
    await error.first().waitFor({ timeout: 5_000 });
    expect(await error.first().textContent()).toMatch(/^functions\/failing\.ts:7:\d+$/);
    await fn.close();
    expect(problems).toEqual([]);
  });

  test("a held destructive change is applied with the button", async () => {
    const page = await open("/_igloo/changes");
    const rows = await countRows(dev.url, "PageView");
    const file = join(dir, "datamodels", "PageView.prisma");
    writeFileSync(file, readFileSync(file, "utf8").replace(/^\s*referrer\s+String\?\s*$/m, ""));
    const held = page.locator("[data-held] tr", { hasText: "drop column PageView.referrer" });
    await held.waitFor({ timeout: 20_000 });
    expect(await held.textContent()).toContain(rows.toLocaleString("en-US"));
    await page.click("#apply");
    await page.locator("[data-held]", { hasText: "Nothing is held." }).waitFor({ timeout: 20_000 });
    await page.locator("[data-reloads] tr", { hasText: "held changes applied" }).waitFor({ timeout: 5_000 });
    const columns = await query<{ name: string }>(dev.url, "DESCRIBE TABLE PageView");
    expect(columns.map((c) => c.name)).not.toContain("referrer");
    expect(await countRows(dev.url, "PageView")).toBe(rows);
    // The project's library, rewritten by the Apply, holds the project's models, not Igloo's own.
    const models = readFileSync(join(dir, ".igloo", "lib", "models.ts"), "utf8");
    expect(models).toContain("PageView");
    expect(models).not.toContain("igloo_events");
    await page.close();
    expect(problems).toEqual([]);
  });

  test("the apply endpoint refuses what another site could send", async () => {
    const apply = (headers: Record<string, string>, body = "{}") => fetch(`${dev.url}/_igloo/api/changes/apply`, { method: "POST", headers, body });
    // A page of another origin, whatever it sends.
    expect((await apply({ origin: "https://attacker.example", "content-type": "application/json" })).status).toBe(403);
    // A cross-site form or beacon without an Origin header.
    expect((await apply({ "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "content-type": "text/plain" })).status).toBe(403);
    // What a form may send, even from a page the gate lets through.
    expect((await apply({ "content-type": "application/x-www-form-urlencoded" }, "a=1")).status).toBe(415);
    expect((await apply({ "content-type": "text/plain" })).status).toBe(415);
    // A name that is not this machine's (DNS rebinding).
    expect((await apply({ host: "attacker.example", "content-type": "application/json" })).status).toBe(403);
    // The pages may not be framed by another site, nor load from anywhere but this server.
    const shell = await fetch(`${dev.url}/_igloo/`);
    expect(shell.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(shell.headers.get("content-security-policy")).toContain("default-src 'self'");
  });

  test("no request of any page leaves loopback", () => {
    expect(requests.length).toBeGreaterThan(40);
    const away = requests.filter((url) => !url.startsWith("data:") && !["127.0.0.1", "localhost"].includes(new URL(url).hostname));
    expect(away).toEqual([]);
  });

  test("figures: a cold load of the home page, and the console's JavaScript", async () => {
    const loads: number[] = [];
    for (let i = 0; i < 3; i++) {
      // A new context has an empty cache: the shell, both modules and the data are fetched.
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(`${dev.url}/_igloo/`);
      await page.waitForSelector("body[data-ready=true]", { state: "attached", timeout: 20_000 });
      loads.push(performance.now() - started);
      await context.close();
    }
    const gzipped = (path: string) => Bun.gzipSync(readFileSync(path), { level: 9 }).length;
    const own = gzipped(join(REPO, CONSOLE_BUNDLE, CONSOLE_FILE));
    const elements = gzipped(join(REPO, COMPONENTS_BUNDLE, COMPONENTS_FILE));
    const median = loads.sort((a, b) => a - b)[1]!;
    console.log(`console: home cold load ${loads.map((t) => `${Math.round(t)} ms`).join(", ")} (median ${Math.round(median)} ms); console.js ${(own / 1024).toFixed(1)} KB gzipped, ${((own + elements) / 1024).toFixed(1)} KB with components.js`);
    expect(median).toBeLessThan(1_000);
    expect(own + elements).toBeLessThan(150 * 1024);
  });
});
