/**
 * `bun bench/components.ts` (`npm run bench:components`): the dashboard elements under
 * load in headless Chromium, against `igloo dev`. Figures, not assertions:
 *
 *   live       20 live charts (line, area, bar, scatter; 5 over each of 4 distinct view
 *              parameters, so 4 subscriptions: a page holds 6 connections to a server)
 *              of the last 120 points of their series
 *              while 4 points a tick are ingested 5 times a second for BENCH_SECONDS
 *              (default 60): the longest main-thread task (PerformanceObserver
 *              `longtask`, which reports tasks over 50 ms), the updates each chart
 *              drew per second, and the JS heap after a forced GC, at the start and the end
 *   first      the first render of a 10,000-point series: from setting the attributes to
 *              the frame after the chart drew (data already in the page), median of 5,
 *              and from adding the element to its first draw (request included)
 *
 * Sized for 2 cores: the server, the ingest loop and the browser share them.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { launchChromium } from "../test/helpers/browser.ts";
import { freePort, initProject, postIngest, removeDir, startDev } from "../scripts/lib/igloo.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const TICK_MS = 200;
const SERIES = ["live-0", "live-1", "live-2", "live-3"];
const TYPES = ["line", "area", "bar", "scatter", "line"];
const BIG = 10_000;

const MODEL = `model Point {\n  ts     DateTime @db.DateTime64(3)\n  series String   @db.LowCardinality\n  value  Float\n\n  @@orderBy([series, ts])\n}\n`;
const VIEW = "SELECT ts, value FROM Point WHERE series = {series:String} ORDER BY ts";
// The live charts show a window of constant size, so heap growth says what the elements keep, not the data.
const RECENT = "SELECT ts, value FROM Point WHERE series = {series:String} ORDER BY ts DESC LIMIT 120";

const dir = initProject("bench-components");
writeFileSync(join(dir, "datamodels", "Point.prisma"), MODEL);
writeFileSync(join(dir, "views", "points.sql"), VIEW);
writeFileSync(join(dir, "views", "recent_points.sql"), RECENT);
const dev = await startDev(dir);
const chart = (series: string, type: string) =>
  `<igloo-chart view="recent_points" type="${type}" x="ts" y="value" params='${JSON.stringify({ series })}' live></igloo-chart>`;
const pages: Record<string, string> = {
  live: SERIES.flatMap((series) => TYPES.map((type) => chart(series, type))).join("\n"),
  first: "",
};
const site = Bun.serve({
  hostname: "127.0.0.1",
  port: freePort(),
  fetch: (request) => {
    const body = pages[new URL(request.url).pathname.slice(1)] ?? "";
    return new Response(
      `<!doctype html><html><head><meta charset="utf-8"><script type="module" src="${dev.url}/_igloo/components.js"></script>
       <style>body{margin:0;display:grid;grid-template-columns:repeat(4,360px);gap:8px} igloo-chart{height:220px}</style></head><body>${body}</body></html>`,
      { headers: { "content-type": "text/html" } },
    );
  },
});
const browser = await launchChromium();
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

try {
  // The 10,000-point series, ingested once, and a point in each live series so they draw.
  const start = Date.parse("2026-11-01T00:00:00Z");
  const big = Array.from({ length: BIG }, (_, i) => ({ ts: start + i * 60_000, series: "big", value: Math.sin(i / 200) * 100 + (i % 17) }));
  for (let i = 0; i < big.length; i += 2_000) await postIngest(dev.url, "Point", big.slice(i, i + 2_000));
  // A full window in each live series before the charts open, so the data they hold stays the same size.
  const past = Date.now() - 120 * TICK_MS;
  await postIngest(dev.url, "Point", SERIES.flatMap((series) => Array.from({ length: 120 }, (_, i) => ({ ts: past + i * TICK_MS, series, value: i % 50 }))));
  for (let i = 0; i < 200; i++) {
    const rows = ((await (await fetch(`${dev.url}/views/points?series=big`)).json()) as { data: unknown[] }).data;
    if (rows.length === BIG) break;
    await Bun.sleep(100);
  }

  // First render of 10,000 points.
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(`http://127.0.0.1:${site.port}/first`);
  await page.waitForFunction("customElements.get('igloo-chart') !== undefined");
  const first = (await page.evaluate(`(async () => {
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)));
    const drawn = (e) => new Promise((resolve) => e.addEventListener("igloo-rows", resolve, { once: true }));
    const e = document.createElement("igloo-chart");
    e.style.cssText = "width:1200px;height:400px";
    for (const [k, v] of Object.entries({ view: "points", x: "ts", y: "value", params: '{"series":"big"}' })) e.setAttribute(k, v);
    let t = performance.now();
    document.body.append(e);
    await drawn(e);
    await frame();
    const withRequest = performance.now() - t;
    const renders = [];
    for (const type of ["area", "line", "bar", "scatter", "line"]) {
      t = performance.now();
      e.setAttribute("type", type);
      await drawn(e);
      await frame();
      renders.push(performance.now() - t);
    }
    return { points: e.rows.length, withRequest, renders: renders.sort((a, b) => a - b) };
  })()`)) as { points: number; withRequest: number; renders: number[] };
  await page.close();

  // 20 live charts.
  const live = await browser.newPage({ viewport: { width: 1500, height: 1200 } });
  const cdp = await live.context().newCDPSession(live);
  await live.goto(`http://127.0.0.1:${site.port}/live`);
  await live.evaluate(`(async () => {
    window.longTasks = [];
    new PerformanceObserver((list) => { for (const entry of list.getEntries()) longTasks.push([entry.startTime, entry.duration]); }).observe({ type: "longtask" });
    window.updates = 0;
    document.addEventListener("igloo-rows", () => updates++);
    const charts = [...document.querySelectorAll("igloo-chart")];
    await Promise.all(charts.map((e) => new Promise((resolve) => { const check = () => e.state === "ready" && resolve(); e.addEventListener("igloo-rows", check); check(); })));
  })()`);
  // A forced GC is a long task of its own: the tasks in its window are not the elements'.
  const collections: [number, number][] = [];
  const heap = async () => {
    const from = (await live.evaluate("performance.now()")) as number;
    // Twice, a frame apart: what a push had in hand at the first is garbage by the second.
    await cdp.send("HeapProfiler.collectGarbage");
    await live.evaluate("new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)))");
    await cdp.send("HeapProfiler.collectGarbage");
    const used = (await cdp.send("Runtime.getHeapUsage")).usedSize;
    collections.push([from, (await live.evaluate("performance.now()")) as number]);
    return used;
  };
  let ticking = true;
  let ingested = 0;
  const ingest = (async () => {
    for (let next = performance.now(); ticking; next += TICK_MS) {
      await postIngest(dev.url, "Point", SERIES.map((series) => ({ ts: Date.now(), series, value: Math.round(Math.random() * 1000) / 10 })));
      ingested++;
      await Bun.sleep(Math.max(0, next + TICK_MS - performance.now()));
    }
  })();
  // Heap after a warm-up, once each chart holds a few dozen points.
  await Bun.sleep(5_000);
  const heapStart = await heap();
  await live.evaluate("window.longTasks = []; window.updates = 0");
  const began = performance.now();
  const ingestedBefore = ingested;
  // The heap at each sixth of the run: a leak grows steadily, a warm-up levels off.
  const heaps = [heapStart];
  for (let i = 1; i <= 6; i++) {
    await Bun.sleep((SECONDS * 1000) / 6);
    if (i < 6) heaps.push(await heap());
  }
  const { updates, ...measured } = (await live.evaluate("({ longTasks, updates })")) as { longTasks: [number, number][]; updates: number };
  const longTasks = measured.longTasks.filter(([start, duration]) => !collections.some(([from, to]) => start < to && start + duration > from)).map(([, duration]) => duration);
  const seconds = (performance.now() - began) / 1000;
  ticking = false;
  await ingest;
  const heapEnd = await heap();
  heaps.push(heapEnd);
  await live.close();

  const median = (values: number[]) => values[Math.floor(values.length / 2)]!;
  console.log(`dashboard elements, ${SECONDS} s of live updates`);
  console.log(`  live: 20 charts over 4 subscriptions, ${fmt((ingested - ingestedBefore) / seconds, 1)} ingests/s of 4 points`);
  console.log(`    updates drawn per chart: ${fmt(updates / 20 / seconds, 1)}/s`);
  console.log(`    longest main-thread task: ${longTasks.length === 0 ? "none over 50 ms" : `${fmt(Math.max(...longTasks))} ms (${longTasks.length} over 50 ms)`}`);
  console.log(`    JS heap after GC: ${fmt(heapStart / 1e6, 1)} MB -> ${fmt(heapEnd / 1e6, 1)} MB (${heapEnd >= heapStart ? "+" : ""}${fmt(((heapEnd - heapStart) / heapStart) * 100, 1)}%), each chart holding the last 120 points`);
  console.log(`    JS heap along the run: ${heaps.map((h) => fmt(h / 1e6, 2)).join(", ")} MB`);
  console.log(`  first render of ${fmt(first.points)} points: ${fmt(median(first.renders))} ms (median of ${first.renders.length}; ${fmt(first.renders[0]!)}-${fmt(first.renders[first.renders.length - 1]!)}), ${fmt(first.withRequest)} ms with its request`);
} finally {
  await browser.close();
  site.stop(true);
  await dev.stop();
  removeDir(dirname(dir));
}
