/**
 * The dashboard elements in headless Chromium, served by `igloo dev` (the compiled binary)
 * and embedded by a page of another loopback origin: each element draws (checked on
 * screenshot pixels, decoded by the browser), follows ingest when `live`, shows its
 * loading, empty and error states with the server's message, exposes `.rows` and fires
 * `igloo-rows`; a deterministic dataset renders to the same pixels twice. Then the
 * project's dashboards: `igloo init`'s overview served and drawn, reloaded on save, and
 * nothing but dashboards served under /dashboards/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./helpers/browser.ts";
import { freePort, IGLOO, initProject, postIngest, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

/** Page-side helpers, plain JavaScript (the tests' TypeScript has no DOM library). */
const HELPERS = `
window.t = {
  el: (id) => document.getElementById(id),
  state: (id) => document.getElementById(id).state,
  status: (id) => document.getElementById(id).shadowRoot.querySelector("[part~=state]").textContent,
  /** Resolves with the element's state once it has drawn, found nothing, or failed. */
  settled: (id) => new Promise((resolve) => {
    const e = document.getElementById(id);
    const check = () => ["ready", "empty", "error"].includes(e.state) && resolve(e.state);
    e.addEventListener("igloo-rows", check);
    e.addEventListener("igloo-error", check);
    check();
  }),
  /** Resolves once the element's rows have a row with this path. */
  rowsWithPath: (id, path) => new Promise((resolve) => {
    const e = document.getElementById(id);
    const check = () => e.rows.some((row) => row.path === path) && resolve(e.rows.length);
    e.addEventListener("igloo-rows", check);
    check();
  }),
  async decode(png) {
    const bitmap = await createImageBitmap(await (await fetch("data:image/png;base64," + png)).blob());
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  },
  /** Pixels unlike the top-left one (the background), and pixels near the color rgb. */
  async ink(png, rgb) {
    const d = await t.decode(png);
    let ink = 0, colored = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 24) ink++;
      if (rgb && Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 40) colored++;
    }
    return { total: d.length / 4, ink, colored };
  },
  async diff(a, b) {
    const [x, y] = [await t.decode(a), await t.decode(b)];
    if (x.length !== y.length) return -1;
    let n = 0;
    for (let i = 0; i < x.length; i += 4) if (x[i] !== y[i] || x[i + 1] !== y[i + 1] || x[i + 2] !== y[i + 2]) n++;
    return n;
  },
};
`;

/** The first series color of the light theme (styles.ts), #4e79a7. */
const SERIES_1 = [78, 121, 167];

interface Ink {
  readonly total: number;
  readonly ink: number;
  readonly colored: number;
}

describe("the dashboard elements in headless Chromium", () => {
  let dir: string;
  let dev: DevProcess;
  let browser: Browser;
  let site: ReturnType<typeof Bun.serve>;
  const pages = new Map<string, string>();

  /** A page of the other origin holding `body`, loading the elements from igloo dev. */
  async function open(body: string, viewport = { width: 900, height: 700 }, before?: (page: Page) => void): Promise<Page> {
    const name = `p${pages.size}`;
    pages.set(name, `<!doctype html><html><head><meta charset="utf-8"><script>${HELPERS}</script><script type="module" src="${dev.url}/_igloo/components.js"></script></head><body style="margin:0;font:14px sans-serif">${body}</body></html>`);
    const page = await browser.newPage({ viewport });
    page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
    before?.(page);
    await page.goto(`http://127.0.0.1:${site.port}/${name}`);
    return page;
  }

  const settled = (page: Page, id: string) => page.evaluate(`t.settled(${JSON.stringify(id)})`) as Promise<string>;
  const status = (page: Page, id: string) => page.evaluate(`t.status(${JSON.stringify(id)})`) as Promise<string>;

  /** The element's canvas area (or the whole element) as a screenshot, decoded by the browser. */
  async function ink(page: Page, selector: string, rgb?: readonly number[]): Promise<Ink> {
    const png = await page.locator(selector).screenshot({ animations: "disabled" });
    return (await page.evaluate(`t.ink(${JSON.stringify(png.toString("base64"))}, ${JSON.stringify(rgb ?? null)})`)) as Ink;
  }

  beforeAll(async () => {
    dir = initProject("components");
    dev = await startDev(dir);
    // A deterministic dataset: fixed ids (PageView merges resent ids away), times and amounts.
    const paths = ["/", "/pricing", "/docs", "/blog", "/about", "/careers"];
    const views = Array.from({ length: 120 }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      ts: `2026-11-30T10:${String(i % 60).padStart(2, "0")}:00Z`,
      userId: `u-${i % 9}`,
      path: paths[Math.floor(Math.sqrt(i * 3)) % paths.length],
      country: "FR",
      device: "desktop",
      durationMs: 500 + ((i * 7919) % 5000),
    }));
    const purchases = Array.from({ length: 30 }, (_, i) => ({ orderId: `o-${i}`, ts: `2026-11-${String(1 + i).padStart(2, "0")}T12:00:00Z`, userId: "u-1", amount: (10 + ((i * 37) % 90)).toFixed(2), items: ["sku-a", i % 3 ? "sku-b" : "sku-c"] }));
    expect((await postIngest(dev.url, "PageView", views)).body.accepted).toBe(views.length);
    expect((await postIngest(dev.url, "Purchase", purchases)).body.accepted).toBe(purchases.length);
    // Read-your-writes: the views answer once the rows are in.
    for (let i = 0; i < 100; i++) {
      const top = (await (await fetch(`${dev.url}/views/top_pages`)).json()) as { data: { views: string }[] };
      const sales = (await (await fetch(`${dev.url}/views/sales_by_sku`)).json()) as { data: unknown[] };
      if (top.data.reduce((sum, row) => sum + Number(row.views), 0) === views.length && sales.data.length === 3) break;
      await Bun.sleep(100);
    }
    site = Bun.serve({
      hostname: "127.0.0.1",
      port: freePort(),
      fetch: (request) => new Response(pages.get(new URL(request.url).pathname.slice(1)) ?? "not found", { headers: { "content-type": "text/html" } }),
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    site?.stop(true);
    await dev?.stop();
    if (dir) removeDir(dirname(dir));
  });

  const GALLERY = `
    <igloo-chart id="bar" view="top_pages" type="bar" x="path" y="views" style="width:600px;height:260px"></igloo-chart>
    <igloo-chart id="line" view="user_purchases" type="line" x="ts" y="amount" params='{"userId":"u-1","since":"2026-01-01 00:00:00"}' style="width:600px;height:260px"></igloo-chart>
    <igloo-chart id="stacked" view="top_pages" type="bar" stacked x="path" y="views,users" style="width:600px;height:260px"></igloo-chart>
    <igloo-chart id="scatter" view="top_pages" type="scatter" x="views" y="avg_ms" style="width:600px;height:260px"></igloo-chart>
    <igloo-table id="table" view="top_pages" page-size="4" style="width:600px"></igloo-table>
    <igloo-kpi id="kpi" view="user_purchases" value="amount" x="ts" compare="previous" sparkline label="Last purchase" params='{"userId":"u-1","since":"2026-01-01 00:00:00"}' style="width:300px"></igloo-kpi>`;

  test("each element draws: pixels on screen, not only nodes", async () => {
    const page = await open(GALLERY, { width: 900, height: 1800 });
    for (const id of ["bar", "line", "stacked", "scatter", "table", "kpi"]) expect({ id, state: await settled(page, id) }).toEqual({ id, state: "ready" });
    const bar = await ink(page, "#bar canvas", SERIES_1);
    // Six bars over most of the plot's height: a tenth of the canvas at least, in the series color.
    expect(bar.colored / bar.total).toBeGreaterThan(0.1);
    const line = await ink(page, "#line canvas", SERIES_1);
    expect(line.colored).toBeGreaterThan(300);
    const stacked = await ink(page, "#stacked canvas");
    expect(stacked.ink / stacked.total).toBeGreaterThan(bar.colored / bar.total);
    // Six points (some may overlap), 7 pixels wide.
    expect((await ink(page, "#scatter canvas", SERIES_1)).colored).toBeGreaterThan(40);
    expect((await ink(page, "#table")).ink).toBeGreaterThan(1000);
    expect((await ink(page, "#kpi")).ink).toBeGreaterThan(300);
    // The table pages and sorts: 6 paths, 4 a page; sorted by views, descending on the second click.
    const cells = () => page.evaluate(`[...t.el("table").shadowRoot.querySelectorAll("tbody tr")].map((tr) => tr.cells[1].textContent)`) as Promise<string[]>;
    expect((await cells()).length).toBe(4);
    await page.locator("#table th button", { hasText: "views" }).click();
    await page.locator("#table th button", { hasText: "views" }).click();
    const sorted = await cells();
    expect(sorted.map(Number)).toEqual([...sorted.map(Number)].sort((a, b) => b - a));
    await page.locator("#table [part~=pager] button[aria-label='Next page']").click();
    expect((await cells()).length).toBe(2);
    // Screen readers get the chart's data as a table, and the KPI as a sentence.
    expect(await page.evaluate(`t.el("bar").shadowRoot.querySelector(".sr caption").textContent`)).toBe("bar chart of views by path, from view top_pages: 6 points.");
    expect(await page.evaluate(`t.el("kpi").shadowRoot.querySelector(".sr").textContent`)).toMatch(/^Last purchase: [\d.,]+, (up|down) [\d.]+% from [\d.,]+ \(view user_purchases\)\.$/);
    await page.close();
  });

  test(".rows holds what was drawn and igloo-rows fires with it", async () => {
    const page = await open(`<script>window.events = []; addEventListener("igloo-rows", (e) => events.push(e.detail.length));</script>${GALLERY}`);
    for (const id of ["bar", "table", "kpi"]) await settled(page, id);
    const served = ((await (await fetch(`${dev.url}/views/top_pages`)).json()) as { data: unknown[] }).data;
    expect(await page.evaluate(`t.el("bar").rows`)).toEqual(served);
    expect(await page.evaluate(`t.el("table").rows`)).toEqual(served);
    expect(((await page.evaluate("events")) as number[]).filter((n) => n === served.length).length).toBeGreaterThanOrEqual(4);
    await page.close();
  });

  test("loading, empty and error states say what happened, naming the view and the server's message", async () => {
    const page = await open(`
      <igloo-chart id="unknown" view="nope" live></igloo-chart>
      <igloo-table id="empty" view="user_purchases" params='{"userId":"nobody","since":"2026-01-01 00:00:00"}'></igloo-table>
      <igloo-kpi id="param" view="user_purchases" value="amount" params='{"userId":"u-1"}'></igloo-kpi>
      <igloo-chart id="column" view="top_pages" x="path" y="nope"></igloo-chart>
      <igloo-chart id="json" view="top_pages" params="{oops"></igloo-chart>`);
    for (const id of ["unknown", "empty", "param", "column", "json"]) await settled(page, id);
    expect(await page.evaluate(`t.state("unknown")`)).toBe("error");
    expect(await status(page, "unknown")).toStartWith("Cannot show view `nope`: 404 no view named `nope`; known views: sales_by_sku, top_pages, user_purchases");
    expect(await page.evaluate(`t.state("empty")`)).toBe("empty");
    expect(await status(page, "empty")).toBe("View `user_purchases` has no rows for these parameters.");
    expect(await status(page, "param")).toMatch(/^Cannot show view `user_purchases`: 400 .*`since`/);
    expect(await status(page, "column")).toBe("<igloo-chart> of view `top_pages`: no column `nope` in the view (its columns: path, views, users, avg_ms)");
    expect(await status(page, "json")).toContain("the `params` attribute is not JSON");
    // The error is on screen, in the error color, and announced.
    expect((await ink(page, "#unknown")).ink).toBeGreaterThan(200);
    expect(await page.evaluate(`t.el("unknown").shadowRoot.querySelector("[part~=error]").getAttribute("role")`)).toBe("alert");
    // Loading: said at once, before any answer can have come.
    const loading = await page.evaluate(`(async () => {
      const e = document.createElement("igloo-table");
      e.setAttribute("view", "top_pages");
      document.body.append(e);
      await Promise.resolve();
      return [e.state, e.shadowRoot.querySelector("[part~=state]").textContent];
    })()`);
    expect(loading).toEqual(["loading", "Loading view `top_pages`…"]);
    await page.close();
  });

  test("live elements redraw after an ingest, within a second of its answer", async () => {
    const page = await open(`
      <igloo-chart id="live-chart" view="top_pages" type="bar" x="path" y="views" live></igloo-chart>
      <igloo-kpi id="live-kpi" view="top_pages" value="views" aggregate="sum" live></igloo-kpi>
      <igloo-table id="live-table" view="top_pages" live></igloo-table>`);
    for (const id of ["live-chart", "live-kpi", "live-table"]) expect(await settled(page, id)).toBe("ready");
    const delays: number[] = [];
    for (let round = 0; round < 3; round++) {
      const path = `/live-${round}`;
      const waiting = Promise.all(["live-chart", "live-kpi", "live-table"].map((id) => page.evaluate(`t.rowsWithPath(${JSON.stringify(id)}, ${JSON.stringify(path)})`)));
      const answer = await postIngest(dev.url, "PageView", { userId: "u-live", path, country: "FR", device: "mobile", durationMs: 1 });
      expect(answer.body.accepted).toBe(1);
      const acked = performance.now();
      await waiting;
      delays.push(Math.round(performance.now() - acked));
    }
    console.log(`live redraw after the ingest answer: ${delays.join(", ")} ms`);
    expect(Math.max(...delays)).toBeLessThan(1000);
    expect(await page.evaluate(`t.el("live-kpi").shadowRoot.querySelector("[part~=value]").textContent`)).toBe("123");
    await page.close();
  });

  test("twelve live elements over twelve distinct views and parameters share one connection, and all follow ingest", async () => {
    // A browser holds 6 connections to a server: one stream per element would leave most waiting.
    const users = Array.from({ length: 12 }, (_, i) => `u-many-${i}`);
    const requests: string[] = [];
    const page = await open(users.map((u) => `<igloo-table id="${u}" view="user_purchases" params='{"userId":"${u}","since":"2026-01-01 00:00:00"}' live></igloo-table>`).join("\n"), undefined, (p) =>
      p.on("request", (request) => void requests.push(new URL(request.url()).pathname)),
    );
    for (const u of users) expect(await settled(page, u)).toBe("empty");
    const orders = (id: string) => page.evaluate(`t.el(${JSON.stringify(id)}).rows.map((r) => r.orderId)`) as Promise<string[]>;
    await postIngest(dev.url, "Purchase", users.map((u, i) => ({ orderId: `many-${i}`, ts: "2026-06-01T00:00:00Z", userId: u, amount: 1, items: ["x"] })));
    for (const [i, u] of users.entries()) {
      for (let wait = 0; (await orders(u)).length === 0 && wait < 100; wait++) await Bun.sleep(50);
      expect({ u, orders: await orders(u) }).toEqual({ u, orders: [`many-${i}`] });
    }
    expect(requests.filter((p) => p.endsWith("/events"))).toEqual([]);
    expect(requests.filter((p) => p === "/_igloo/live").length).toBeGreaterThanOrEqual(1);
    await page.close();
  });

  test("a deterministic dataset renders to the same pixels twice", async () => {
    const shots: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const page = await open(GALLERY, { width: 900, height: 1800 });
      for (const id of ["bar", "line", "stacked", "table", "kpi"]) await settled(page, id);
      shots.push(await Promise.all(["#bar", "#line", "#stacked", "#table", "#kpi"].map(async (s) => (await page.locator(s).screenshot({ animations: "disabled" })).toString("base64"))));
      await page.close();
    }
    const page = await open("");
    for (let i = 0; i < shots[0]!.length; i++) expect(await page.evaluate(`t.diff(${JSON.stringify(shots[0]![i])}, ${JSON.stringify(shots[1]![i])})`)).toBe(0);
    await page.close();
  });

  test("the project's dashboard: served, drawn, reloaded on save; nothing else served under /dashboards/", async () => {
    const served = await fetch(`${dev.url}/dashboards/overview`);
    const html = await served.text();
    expect(served.status).toBe(200);
    expect(html).toContain('<script type="module" src="/_igloo/components.js"></script>');
    expect(html).toContain('EventSource("/_igloo/reload")');
    for (const path of ["nope", "overview.html", "..%2Fdatamodels%2FPageView.prisma", "%2e%2e%2fpackage.json", "..%5Cdatamodels", "overview%00"]) {
      const refused = await fetch(`${dev.url}/dashboards/${path}`);
      expect({ path, status: refused.status, prisma: (await refused.text()).includes("model PageView") }).toEqual({ path, status: 404, prisma: false });
    }
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    await page.goto(`${dev.url}/dashboards/overview`);
    const states = () =>
      page.evaluate(`Promise.all([...document.querySelectorAll("igloo-chart, igloo-table, igloo-kpi")].map((e) => new Promise((resolve) => {
        const check = () => ["ready", "empty", "error"].includes(e.state) && resolve(e.getAttribute("view") + ":" + e.state);
        e.addEventListener("igloo-rows", check); e.addEventListener("igloo-error", check); check();
      })))`) as Promise<string[]>;
    const drawn = await states();
    expect(drawn.filter((s) => s.endsWith(":error"))).toEqual([]);
    expect(drawn.filter((s) => s.endsWith(":ready")).length).toBeGreaterThanOrEqual(8);
    const file = join(dir, "dashboards", "overview.html");
    writeFileSync(file, readFileSync(file, "utf8").replace("<h1>Overview</h1>", '<h1 id="saved">Saved</h1>'));
    await page.waitForSelector("#saved", { timeout: 10_000 });
    await page.close();
  });

  test("igloo build ships the dashboards, for production ingest processes to serve", () => {
    const out = join(dirname(dir), "build");
    const built = Bun.spawnSync([IGLOO, "build", "--out", out], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(built.stderr.toString()).not.toContain("error");
    expect(built.exitCode).toBe(0);
    expect(readFileSync(join(out, "dashboards", "overview.html"), "utf8")).toBe(readFileSync(join(dir, "dashboards", "overview.html"), "utf8"));
  });
});
