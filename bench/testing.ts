/**
 * `bun bench/testing.ts` (`npm run bench:testing`): igloo/testing's speed, in one run,
 * next to `igloo dev` doing the same work in the same run:
 *
 *   ready       createTestPipeline() to ready: the first in a process, then the median of
 *               10 more, against `igloo dev` start to ready on the same project
 *   settle      10,000 purchases (one item each) ingested in batches of 1,000, then
 *               settle(): ms from the last acknowledgement until the function's table
 *               holds all 10,000 items, against the same through `igloo dev` (polling
 *               the count every 5 ms)
 *   suite       the template's whole `igloo test` (14 tests, 3 files), median of 3
 *
 * Targets (issue 12): later pipelines ready in under 200 ms; the template's suite under 5 s.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { countRows, IGLOO, initProject, removeDir, startDev } from "../scripts/lib/igloo.ts";

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const RECORDS = 10_000;
const purchase = (i: number) => ({ orderId: `o-${i}`, ts: "2026-11-24T10:00:00Z", userId: `u-${i % 100}`, amount: 1, items: [`sku-${i % 50}`] });

const dir = initProject("bench-testing");
try {
  // What a project's test would do, run by the Bun inside the binary, as `igloo test` runs tests.
  writeFileSync(
    join(dir, "bench.ts"),
    `import { createTestPipeline } from "igloo/testing";
const purchase = ${purchase.toString()};
let t = performance.now();
const first = await createTestPipeline();
const firstMs = performance.now() - t;
await first.close();
const later: number[] = [];
for (let i = 0; i < 10; i++) {
  t = performance.now();
  const p = await createTestPipeline();
  later.push(performance.now() - t);
  await p.close();
}
const p = await createTestPipeline();
for (let i = 0; i < ${RECORDS}; i += 1000) await p.ingest("Purchase", Array.from({ length: 1000 }, (_, k) => purchase(i + k)));
t = performance.now();
await p.settle();
const settleMs = performance.now() - t;
const [{ n }] = (await p.query("SELECT count() AS n FROM PurchaseItem")) as { n: string }[];
await p.close();
console.log(JSON.stringify({ firstMs, later, settleMs, items: Number(n) }));
`,
  );
  const inTests = Bun.spawnSync([IGLOO, "bench.ts"], { cwd: dir, env: { ...process.env, BUN_BE_BUN: "1", IGLOO_NATIVE_DIR: join(IGLOO, "..") }, stdout: "pipe", stderr: "pipe" });
  if (inTests.exitCode !== 0) throw new Error(`bench.ts failed: ${inTests.stderr.toString()}`);
  const measured = JSON.parse(inTests.stdout.toString().trim().split("\n").pop()!) as { firstMs: number; later: number[]; settleMs: number; items: number };
  if (measured.items !== RECORDS) throw new Error(`the test pipeline held ${measured.items} items, not ${RECORDS}`);

  let t = performance.now();
  const dev = await startDev(dir);
  const devReady = performance.now() - t;
  let devSettle: number;
  try {
    for (let i = 0; i < RECORDS; i += 1000) {
      const body = JSON.stringify(Array.from({ length: 1000 }, (_, k) => purchase(i + k)));
      const response = await fetch(`${dev.url}/ingest/Purchase`, { method: "POST", headers: { "content-type": "application/json" }, body });
      if (response.status !== 200) throw new Error(`ingest answered ${response.status}`);
    }
    t = performance.now();
    while ((await countRows(dev.url, "PurchaseItem")) < RECORDS) await Bun.sleep(5);
    devSettle = performance.now() - t;
  } finally {
    await dev.stop();
  }

  const suite: number[] = [];
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    const run = Bun.spawnSync([IGLOO, "test"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    suite.push(performance.now() - t);
    if (run.exitCode !== 0) throw new Error(`the template's igloo test failed:\n${run.stdout}${run.stderr}`);
  }

  const later = median(measured.later);
  const rows: [string, string, string][] = [
    ["createTestPipeline() ready, first / later (median of 10) (ms)", `${fmt(measured.firstMs)} / ${fmt(later)}`, `igloo dev start to ready: ${fmt(devReady)} ms (later = ${fmt((later / devReady) * 100)}% of it); target later < 200`],
    [`settle() after ${fmt(RECORDS)} records through one function (ms)`, fmt(measured.settleMs), `igloo dev, same records, ack to all counted: ${fmt(devSettle)} ms (${fmt((measured.settleMs / devSettle) * 100)}% of it)`],
    ["the template's igloo test, 14 tests (ms, median of 3)", fmt(median(suite)), "target < 5,000"],
  ];
  console.log(`\nigloo/testing benchmark (${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores)`);
  for (const [name, value, note] of rows) console.log(`${name.padEnd(66)}${value.padStart(14)}  ${note}`);
} finally {
  removeDir(join(dir, ".."));
}
