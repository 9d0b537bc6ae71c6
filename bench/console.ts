/**
 * `bun bench/console.ts` (`npm run bench:console`): the dev console's figures, against
 * `igloo dev` (the compiled binary) in headless Chromium. Figures, not assertions:
 *
 *   size       console.js gzipped, alone and with components.js (which its pages load too);
 *              issue 14's budget is 150 KB
 *   cold load  the home page in a fresh browser context (empty cache): from navigation to
 *              the map drawn with its first status, median of 5 (target: under 1 s)
 *   tail       a new record in its model's live tail, from the ingest request, median of 5
 *   open page  the dev server's CPU and RSS over 10 s with the home page open (a status
 *              read a second), beside 10 s with no page
 *   start      `igloo dev` start to ready line, and RSS 3 s later, median of 3; with
 *              BENCH_PREVIOUS=<an earlier igloo binary>, the same for it in turns, same
 *              run (the console costs nothing until a page is open)
 *
 * Sized for 2 cores: the server and the browser share them.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { launchChromium } from "../test/helpers/browser.ts";
import { IGLOO, initProject, postIngest, removeDir, REPO, startDev } from "../scripts/lib/igloo.ts";
import { CONSOLE_BUNDLE, CONSOLE_FILE } from "../src/commands/devConsole.ts";
import { COMPONENTS_BUNDLE, COMPONENTS_FILE } from "../src/generate/components.ts";

const PREVIOUS = process.env.BENCH_PREVIOUS;
const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Start to ready, and idle RSS, for one binary. */
async function startup(binary: string): Promise<{ readyMs: number; rss: number }> {
  const dir = initProject("bench-console-start");
  try {
    const started = performance.now();
    const dev = await startDev(dir, { binary });
    const readyMs = performance.now() - started;
    await Bun.sleep(3_000);
    const rss = rssMb(dev.proc.pid);
    await dev.stop();
    return { readyMs, rss };
  } finally {
    removeDir(dirname(dir));
  }
}

const gzipped = (path: string) => Bun.gzipSync(readFileSync(path), { level: 9 }).length / 1024;
const own = gzipped(join(REPO, CONSOLE_BUNDLE, CONSOLE_FILE));
const elements = gzipped(join(REPO, COMPONENTS_BUNDLE, COMPONENTS_FILE));

const rounds: { binary: string; readyMs: number; rss: number }[] = [];
for (let round = 0; round < 3; round++) {
  for (const binary of PREVIOUS ? [PREVIOUS, IGLOO] : [IGLOO]) rounds.push({ binary, ...(await startup(binary)) });
}

const dir = initProject("bench-console");
const dev = await startDev(dir);
const browser = await launchChromium();
try {
  const view = (i: number, path = `/p${i % 7}`) => ({ userId: `u-${i % 5}`, path, country: "FR", device: "mobile", durationMs: 100 + i });
  await postIngest(dev.url, "PageView", Array.from({ length: 500 }, (_, i) => view(i)));

  const loads: number[] = [];
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(`${dev.url}/_igloo/`);
    await page.waitForSelector("body[data-ready=true]", { state: "attached" });
    loads.push(performance.now() - started);
    await context.close();
  }

  const page = await browser.newPage();
  await page.goto(`${dev.url}/_igloo/models/PageView`);
  await page.waitForSelector("[data-tail] table");
  const tails: number[] = [];
  for (let i = 0; i < 5; i++) {
    const path = `/bench-tail-${i}-${Date.now()}`;
    const seen = page.evaluate(`new Promise((resolve) => {
      const shown = () => [...document.querySelectorAll("[data-tail] td")].some((td) => td.textContent === ${JSON.stringify(path)});
      const observer = new MutationObserver(() => shown() && (observer.disconnect(), resolve(performance.timeOrigin + performance.now())));
      observer.observe(document.body, { subtree: true, childList: true });
    })`) as Promise<number>;
    await Bun.sleep(100);
    const sent = Date.now();
    await postIngest(dev.url, "PageView", view(i, path));
    tails.push((await seen) - sent);
  }
  await page.close();

  const pid = dev.proc.pid;
  const sample = async () => {
    const cpu = cpuSeconds(pid);
    await Bun.sleep(10_000);
    return { cpu: (cpuSeconds(pid) - cpu) / 10, rss: rssMb(pid) };
  };
  const closed = await sample();
  const home = await browser.newPage();
  await home.goto(`${dev.url}/_igloo/`);
  await home.waitForSelector("body[data-ready=true]", { state: "attached" });
  const open = await sample();
  await home.close();

  console.log("\nthe dev console (igloo dev, headless Chromium, this machine)\n");
  console.log(`console.js                    ${fmt(own, 1)} KB gzipped; ${fmt(own + elements, 1)} KB with components.js (budget 150 KB)`);
  console.log(`home page, cold load          median ${fmt(median(loads))} ms (${loads.map((t) => fmt(t)).join(", ")}) (target < 1,000 ms)`);
  console.log(`live tail, ingest to shown    median ${fmt(median(tails))} ms (${tails.map((t) => fmt(t)).join(", ")}) (target < 1,000 ms)`);
  console.log(`server, no console page       CPU ${fmt(closed.cpu * 100, 1)}%, RSS ${fmt(closed.rss)} MB`);
  console.log(`server, home page open        CPU ${fmt(open.cpu * 100, 1)}%, RSS ${fmt(open.rss)} MB`);
  for (const binary of PREVIOUS ? [PREVIOUS, IGLOO] : [IGLOO]) {
    const mine = rounds.filter((r) => r.binary === binary);
    const name = binary === IGLOO ? "this igloo" : "BENCH_PREVIOUS";
    console.log(`${`start to ready, ${name}`.padEnd(30)}median ${fmt(median(mine.map((r) => r.readyMs)))} ms; idle RSS ${fmt(median(mine.map((r) => r.rss)))} MB`);
  }
} finally {
  await browser.close();
  await dev.stop();
  removeDir(dirname(dir));
}
