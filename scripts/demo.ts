/**
 * `npm run demo`: the whole pipeline in one minute. Creates a sample project in a temp
 * directory with the compiled binary, runs `igloo dev`, sends events over HTTP (a few of
 * them invalid, to show per-record errors), waits until they are in their tables, prints
 * query results, and stops everything it started.
 */
import { dirname } from "node:path";
import { countRows, eventually, IGLOO, initProject, postIngest, removeDir, startDev } from "./lib/igloo.ts";

const PATHS = ["/", "/pricing", "/docs", "/blog/launch", "/signup"];
const COUNTRIES = ["FR", "DE", "US", "JP", "BR"];
const DEVICES = ["desktop", "mobile", "tablet"];

function pageView(i: number) {
  return {
    ts: new Date(Date.now() - (i % 3600) * 1000).toISOString(),
    userId: `u-${i % 250}`,
    path: PATHS[(i * 7) % PATHS.length]!,
    referrer: i % 3 === 0 ? "https://news.example/" : null,
    country: COUNTRIES[i % COUNTRIES.length]!,
    device: DEVICES[i % DEVICES.length]!,
    durationMs: 500 + ((i * 137) % 20_000),
  };
}

const dir = initProject("demo");
console.log(`$ igloo init ${dir}`);
const dev = await startDev(dir);
console.log(`$ igloo dev\n${dev.output().trim()}\n`);
let failed = false;
try {
  const total = 5000;
  for (let start = 0; start < total; start += 1000) {
    const { status, body } = await postIngest(dev.url, "PageView", Array.from({ length: 1000 }, (_, k) => pageView(start + k)));
    if (status !== 200) throw new Error(`ingest failed: ${status} ${JSON.stringify(body)}`);
  }
  console.log(`POST /ingest/PageView: ${total} page views in 5 batches`);

  const mixed = await postIngest(dev.url, "Purchase", [
    { orderId: "o-1", ts: new Date().toISOString(), userId: "u-1", amount: 42.5, items: ["sku-1", "sku-2"] },
    { orderId: "o-2", ts: new Date().toISOString(), userId: "u-2", amount: "19.999", items: [] },
    { orderId: "o-3", ts: "last tuesday", userId: "u-3", amount: 5, items: [] },
  ]);
  console.log(`POST /ingest/Purchase (3 records, 2 invalid): ${JSON.stringify(mixed.body)}\n`);

  await eventually(() => countRows(dev.url, "PageView"), (n) => n >= total);
  await eventually(() => countRows(dev.url, "igloo_dead_letters"), (n) => n >= 2);

  const sql = "SELECT * FROM top_pages"; // views/top_pages.sql
  console.log(`$ igloo query "${sql}"`);
  const result = Bun.spawnSync([IGLOO, "query", sql, "--url", dev.url], { stdout: "pipe", stderr: "pipe" });
  process.stdout.write(result.stdout.toString());
  if (result.exitCode !== 0) throw new Error(`igloo query failed: ${result.stderr.toString()}`);

  const letters = "SELECT source, error FROM igloo_dead_letters ORDER BY ts";
  console.log(`\n$ igloo query "${letters}"`);
  const dl = Bun.spawnSync([IGLOO, "query", letters, "--url", dev.url], { stdout: "pipe", stderr: "pipe" });
  process.stdout.write(dl.stdout.toString());
  if (dl.exitCode !== 0) throw new Error(`igloo query failed: ${dl.stderr.toString()}`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  const code = await dev.stop();
  removeDir(dirname(dir));
  console.log(`\nigloo dev stopped (exit ${code}); removed ${dir}`);
  if (code !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
