/**
 * A full disk, for real: a small tmpfs mounted under `.igloo` (our machines and CI run as
 * root), filled with a ballast file, then emptied. Once for the store (chDB's directory)
 * and once for the log. After each: every acknowledged event is in its table exactly
 * once, nothing good is dead-lettered, the pipeline recovers without a restart within
 * 30 s of space coming back, and SIGTERM during the fault exits in bounded time.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, openSync, closeSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { countRows, eventually, initProject, query, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

const mounts: string[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const mount of mounts) spawnSync("umount", ["-l", mount]);
  dirs.forEach((d) => removeDir(dirname(d)));
});

function mountTmpfs(path: string, megabytes: number): void {
  mkdirSync(path, { recursive: true });
  const result = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${megabytes}m,mode=0700`, "tmpfs", path], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`these tests mount a tmpfs and must run as root: mount failed: ${result.stderr}`);
  mounts.push(path);
}

/** Writes zeros into `file` until the file system is full. */
function fill(file: string): number {
  const fd = openSync(file, "w");
  const chunk = new Uint8Array(256 * 1024);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
  // The last bytes: a smaller write may still fit.
  const small = openSync(`${file}.tail`, "w");
  try {
    for (;;) written += writeSync(small, new Uint8Array(512));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(small);
  }
  return written;
}

function empty(file: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.tail`, { force: true });
}

function purchase(id: string) {
  return { orderId: id, ts: "2026-01-01T00:00:00.000Z", userId: `u${id.length % 7}`, amount: "9.99", items: ["x", "y"] };
}

/** Sends batches of 50 until `stop()`; remembers what was acknowledged (200) and what was refused (503). */
function sender(url: string, prefix: string) {
  const acked = new Set<string>();
  const refused = new Set<string>();
  const statuses = new Map<number, number>();
  let running = true;
  const done = (async () => {
    for (let n = 0; running; n++) {
      const ids = Array.from({ length: 50 }, (_, k) => `${prefix}-${n}-${k}`);
      const response = await fetch(`${url}/ingest/Purchase`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ids.map(purchase)) });
      await response.text();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      for (const id of ids) (response.status === 200 ? acked : refused).add(id);
      if (response.status !== 200) await Bun.sleep(20);
    }
  })();
  return {
    acked,
    refused,
    statuses,
    async stop() {
      running = false;
      await done;
    },
  };
}

async function exactlyOnce(url: string, acked: ReadonlySet<string>): Promise<void> {
  const duplicates = await query(url, "SELECT orderId, count() AS c FROM Purchase GROUP BY orderId HAVING c > 1 LIMIT 5");
  expect(duplicates).toEqual([]);
  const present = new Set((await query<{ orderId: string }>(url, "SELECT orderId FROM Purchase")).map((r) => r.orderId));
  expect([...acked].filter((id) => !present.has(id))).toEqual([]);
}

async function stopWithin(dev: DevProcess, ms: number): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  const timer = setTimeout(() => dev.proc.kill(9), ms);
  const code = await dev.stop();
  clearTimeout(timer);
  return { code, ms: performance.now() - started };
}

describe("a full disk", () => {
  test("under the store: ingest keeps acknowledging, the writer waits, nothing is doubled or dead-lettered, and it recovers by itself", async () => {
    const dir = initProject("full-store");
    dirs.push(dir);
    const store = join(dir, ".igloo", "chdb");
    mountTmpfs(store, 96);
    const dev = await startDev(dir);
    const ballast = join(store, "ballast");
    let restarted: DevProcess | undefined;
    try {
      // Phase 1: the disk fills while events stream in, then space comes back.
      const first = sender(dev.url, "a");
      await eventually(async () => first.acked.size, (n) => n >= 2_000, 30_000);
      fill(ballast);
      const ackedBeforeFull = first.acked.size;
      await eventually(async () => first.acked.size, (n) => n >= ackedBeforeFull + 5_000, 30_000);
      // Let the writer meet the full disk a few times.
      await Bun.sleep(3_000);
      await first.stop();
      expect(dev.output()).toMatch(/short of a resource|not enough space|No space left/i);
      const cleared = performance.now();
      empty(ballast);
      await eventually(() => countRows(dev.url, "Purchase"), (n) => n >= first.acked.size, 30_000);
      const recoveredMs = performance.now() - cleared;
      console.log(`store full: ${first.acked.size} acknowledged, recovered ${Math.round(recoveredMs)} ms after space came back`);
      await exactlyOnce(dev.url, first.acked);
      expect(await countRows(dev.url, "igloo_dead_letters")).toBe(0);

      // Phase 2: full again; SIGTERM while the writer cannot write.
      const second = sender(dev.url, "b");
      fill(ballast);
      await eventually(async () => second.acked.size, (n) => n >= 3_000, 30_000);
      await second.stop();
      await Bun.sleep(2_000);
      const stopped = await stopWithin(dev, 45_000);
      console.log(`SIGTERM with the store full: exit ${stopped.code} after ${Math.round(stopped.ms)} ms`);
      expect(stopped.ms).toBeLessThan(40_000);
      // It says what stays in the log, table by table.
      expect(dev.output()).toMatch(/[\d,]+ records \(.*Purchase [\d,]+.*\) are not in their tables yet; they stay in the log and are written on the next start/);
      empty(ballast);
      restarted = await startDev(dir);
      const all = new Set([...first.acked, ...second.acked]);
      await eventually(() => countRows(restarted!.url, "Purchase"), (n) => n >= all.size, 60_000);
      await exactlyOnce(restarted.url, all);
      expect(await countRows(restarted.url, "igloo_dead_letters")).toBe(0);
    } finally {
      empty(ballast);
      if (dev.proc.exitCode === null) await dev.kill9();
      if (restarted && restarted.proc.exitCode === null) await restarted.stop();
    }
  }, 240_000);

  test("under the log: ingest answers 503 and stores nothing it did not acknowledge, then takes writes again", async () => {
    const dir = initProject("full-log");
    dirs.push(dir);
    const log = join(dir, ".igloo", "stream");
    mountTmpfs(log, 48);
    const dev = await startDev(dir);
    const ballast = join(log, "ballast");
    try {
      const first = sender(dev.url, "a");
      await eventually(async () => first.acked.size, (n) => n >= 2_000, 30_000);
      fill(ballast);
      await eventually(async () => first.statuses.get(503) ?? 0, (n) => n >= 20, 30_000);
      const cleared = performance.now();
      empty(ballast);
      const ackedAtClear = first.acked.size;
      await eventually(async () => first.acked.size, (n) => n >= ackedAtClear + 2_000, 30_000);
      console.log(`log full: ${first.statuses.get(503)} batches refused with 503; ingest took writes again ${Math.round(performance.now() - cleared)} ms after space came back`);
      await first.stop();
      await eventually(() => countRows(dev.url, "Purchase"), (n) => n >= first.acked.size, 30_000);
      await exactlyOnce(dev.url, first.acked);
      // A 503 said nothing was stored: none of those records may be in the table.
      const present = new Set((await query<{ orderId: string }>(dev.url, "SELECT orderId FROM Purchase")).map((r) => r.orderId));
      expect([...first.refused].filter((id) => present.has(id))).toEqual([]);
      expect(await countRows(dev.url, "igloo_dead_letters")).toBe(0);
    } finally {
      empty(ballast);
      if (dev.proc.exitCode === null) await dev.stop();
    }
  }, 180_000);
});
