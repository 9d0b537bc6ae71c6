/**
 * The generated client against a real `igloo dev`: batching and per-record rejections,
 * read-your-writes, typed view results equal to /query, live subscriptions, and a server
 * restart in the middle of a stream of ingest calls (nothing lost, nothing twice) and
 * under an open subscription (it reconnects by itself).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { IglooClient, IglooClientOptions } from "../packages/client/client.ts";
import { DEFAULT_CLIENT_OUT } from "../src/commands/generate.ts";
import { eventually, IGLOO, initProject, query, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

// The shapes the generated index.ts declares for the template, restated for this file's
// compiler (the generated file lives in a temp dir; test/client.types.test.ts checks it).
type PurchaseInput = { orderId: string; ts: string | number; userId: string; amount: number | string; items?: string[]; coupon?: string | null };
type PageViewInput = { userId: string; path: string; country: string; device: "desktop" | "mobile" | "tablet"; durationMs: number };
type Models = { Purchase: PurchaseInput; PageView: PageViewInput };
type Views = {
  top_pages: { params: object; row: { path: string; views: string } };
  user_purchases: { params: { userId: string; since: string }; row: { orderId: string; ts: string; amount: string; items: string[] } };
};
type Client = IglooClient<Models, Views>;

const run = Math.random().toString(36).slice(2, 8);
const purchase = (orderId: string, userId = `u-${run}`, extra: Partial<PurchaseInput> = {}): PurchaseInput => ({ orderId, ts: "2026-02-03T04:05:06.789Z", userId, amount: "19.90", items: [], ...extra });
const pageView = (path: string): PageViewInput => ({ userId: `u-${run}`, path, country: "FR", device: "desktop", durationMs: 10 });

describe("the generated client against igloo dev", () => {
  let dir: string;
  let dev: DevProcess;
  let createClient: (options: IglooClientOptions) => Client;
  const clients: Client[] = [];
  let requests = 0;
  let refused = 0;
  const connect = (options: Partial<IglooClientOptions> = {}): Client => {
    const client = createClient({
      url: dev.url,
      fetch: (url, init) => {
        requests++;
        return fetch(url, init).catch((error: unknown) => {
          refused++;
          throw error;
        });
      },
      ingest: { backoff: { maxMs: 500 } },
      subscriptions: { backoff: { maxMs: 500 } },
      ...options,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    dir = initProject("client");
    dev = await startDev(dir);
    // igloo dev keeps the client up to date; it is there once dev is ready.
    ({ createClient } = (await import(join(dir, DEFAULT_CLIENT_OUT, "index.ts"))) as { createClient: typeof createClient });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close({ timeoutMs: 1000 }).catch(() => {})));
    await dev?.stop();
    removeDir(dirname(dir));
  });

  test("igloo dev writes the client with the engine's view types; `igloo generate --out` writes the same", () => {
    const index = readFileSync(join(dir, DEFAULT_CLIENT_OUT, "index.ts"), "utf8");
    expect(index).toContain("export interface PurchaseInput {");
    expect(index).toMatch(/export interface SalesBySkuRow \{[^}]*"items": string;/);
    expect(index).toMatch(/export interface UserPurchasesParams \{[^}]*"userId": string;/);
    const result = Bun.spawnSync([IGLOO, "generate", "--out", "client"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(dir, "client", "index.ts"), "utf8")).toBe(index);
    for (const file of ["index.js", "package.json", "runtime/client.ts", "runtime/client.js"]) expect(existsSync(join(dir, "client", file))).toBe(true);
  });

  test("calls made together share one request; each gets its rejections with the server's messages", async () => {
    const client = connect();
    requests = 0;
    const [one, two, three] = await Promise.all([
      client.ingest.Purchase(purchase(`b-${run}-1`)),
      client.ingest.Purchase([purchase(`b-${run}-2`), purchase(`b-${run}-3`, undefined, { amount: "ten" }), purchase(`b-${run}-4`)]),
      client.ingest.Purchase([{ orderId: `b-${run}-5`, ts: "2026-01-01T00:00:00Z", amount: 1 } as PurchaseInput]),
    ]);
    expect(requests).toBe(1);
    expect(one).toMatchObject({ accepted: 1, rejected: 0, errors: [] });
    expect(two).toMatchObject({ accepted: 2, rejected: 1, errors: [{ index: 1 }] });
    expect(two.errors[0]!.message).toContain("amount");
    expect(three).toMatchObject({ accepted: 0, rejected: 1, errors: [{ index: 0 }] });
    expect(three.errors[0]!.message).toContain("userId");
    expect(typeof two.token).toBe("string");
  });

  test("send(), one event at a time, stores each once in a few batches; a rejected record reaches onRejected", async () => {
    const rejections: { record: unknown; message: string }[] = [];
    const client = connect({ ingest: { backoff: { maxMs: 500 }, onRejected: (r) => rejections.push(r) } });
    requests = 0;
    for (let i = 0; i < 2000; i++) client.ingest.Purchase.send(purchase(`s-${run}-${i}`, undefined, i === 777 ? { amount: "ten" } : {}));
    await client.flush();
    expect(requests).toBeLessThanOrEqual(5);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]!.record).toMatchObject({ orderId: `s-${run}-777`, amount: "ten" });
    expect(rejections[0]!.message).toContain("amount");
    const counted = await eventually(
      () => query<{ rows: string; ids: string }>(dev.url, `SELECT count() AS rows, uniqExact(orderId) AS ids FROM Purchase WHERE orderId LIKE 's-${run}-%'`),
      (r) => Number(r[0]!.rows) >= 1999,
    );
    expect(counted[0]).toEqual({ rows: "1999", ids: "1999" });
  });

  test("an answer lost after the server stored the batch: the resend is answered from the first attempt, nothing is stored twice", async () => {
    const dropped = new Set<string>();
    let replayed = 0;
    const client = connect({
      ingest: { maxBatchRecords: 50, backoff: { minMs: 10, maxMs: 100 } },
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        const key = (init.headers as Record<string, string> | undefined)?.["idempotency-key"];
        if (response.headers.get("idempotent-replayed") === "true") replayed++;
        if (key !== undefined && !dropped.has(key)) {
          // The server stored the batch and answered; the answer never arrives.
          dropped.add(key);
          await response.arrayBuffer();
          throw new TypeError("the connection was reset (simulated)");
        }
        return response;
      },
    });
    // Purchase merges rows with the same @id away, so count what the table writer wrote.
    const written = async () => Number(/^igloo_writer_rows_total\{table="Purchase"\} (\d+)$/m.exec(await (await fetch(`${dev.url}/metrics`)).text())?.[1] ?? 0);
    // Earlier tests' records may still be on their way to the table: start from a still count.
    let before = await written();
    for (let still = 0; still < 5; ) {
      await Bun.sleep(100);
      const now = await written();
      still = now === before ? still + 1 : 0;
      before = now;
    }
    const verdicts = await Promise.all(Array.from({ length: 10 }, (_, i) => client.ingest.Purchase(Array.from({ length: 30 }, (_, j) => purchase(`lost-${run}-${i}-${j}`)))));
    expect(verdicts.map((v) => v.accepted)).toEqual(Array(10).fill(30));
    expect(dropped.size).toBeGreaterThanOrEqual(6);
    expect(replayed).toBe(dropped.size);
    await eventually(written, (n) => n >= before + 300);
    await Bun.sleep(500); // a second copy, if one were stored, would have been written by now
    expect((await written()) - before).toBe(300);
  });

  test("read-your-writes: given the ingest token, the view answers with the records at once, equal to /query", async () => {
    const client = connect();
    const userId = `ryw-${run}`;
    const verdict = await client.ingest.Purchase([
      purchase(`r-${run}-1`, userId, { amount: "1234567890123456.78", items: ["a", "b"] }),
      purchase(`r-${run}-2`, userId, { ts: "2026-03-01T00:00:00Z", amount: 0.1 }),
    ]);
    const rows = await client.views.user_purchases({ userId, since: "2026-01-01 00:00:00" }, { after: verdict.token });
    expect(rows.map((r) => r.orderId)).toEqual([`r-${run}-2`, `r-${run}-1`]);
    expect(rows[1]!.amount).toBe("1234567890123456.78");
    const viaQuery = await query(dev.url, `SELECT orderId, ts, amount, items FROM Purchase WHERE userId = '${userId}' AND ts >= '2026-01-01 00:00:00' ORDER BY ts DESC`);
    expect(rows).toEqual(viaQuery as typeof rows);
  });

  test("a subscription gets the new rows within a second of an ingest", async () => {
    const client = connect();
    const path = `/live-${run}`;
    const seen: { at: number; rows: { path: string; views: string }[] }[] = [];
    const subscription = client.views.top_pages.subscribe({}, (rows) => seen.push({ at: performance.now(), rows }));
    await eventually(async () => seen.length, (n) => n > 0, 10_000);
    const sent = performance.now();
    await client.ingest.PageView(pageView(path));
    const update = await eventually(async () => seen.find((s) => s.rows.some((r) => r.path === path)), (s) => s !== undefined, 10_000);
    expect(update!.at - sent).toBeLessThan(1000);
    subscription.close();
  });

  test("across a server restart, a stream of ingest calls loses nothing and stores nothing twice", async () => {
    const client = connect();
    refused = 0;
    const calls: Promise<unknown>[] = [];
    let sending = true;
    const producer = (async () => {
      for (let i = 0; sending; i++) {
        calls.push(client.ingest.Purchase(Array.from({ length: 20 }, (_, j) => purchase(`rs-${run}-${i}-${j}`))).catch((error: unknown) => error));
        await Bun.sleep(10);
      }
    })();
    await Bun.sleep(300);
    expect(await dev.stop()).toBe(0);
    await Bun.sleep(300);
    dev = await startDev(dir, { port: dev.port });
    await Bun.sleep(300);
    sending = false;
    await producer;
    const verdicts = await Promise.all(calls);
    expect(refused).toBeGreaterThan(0);
    expect(verdicts.filter((v) => (v as { accepted?: number }).accepted !== 20)).toEqual([]);
    const expected = calls.length * 20;
    const counted = await eventually(
      () => query<{ rows: string; ids: string }>(dev.url, `SELECT count() AS rows, uniqExact(orderId) AS ids FROM Purchase WHERE orderId LIKE 'rs-${run}-%'`),
      (r) => Number(r[0]!.rows) >= expected,
    );
    expect(counted[0]).toEqual({ rows: String(expected), ids: String(expected) });
  });

  /** Subscribes to top_pages, restarts the server with `restart`, and expects a row ingested afterwards to be pushed. */
  async function reconnectsAcross(restart: () => Promise<void>, tag: string): Promise<void> {
    const client = connect();
    const live = `/${tag}-${run}`;
    const seen: string[][] = [];
    const subscription = client.views.top_pages.subscribe({}, (rows) => seen.push(rows.map((r) => r.path)));
    await eventually(async () => seen.length, (n) => n > 0, 10_000);
    await restart();
    dev = await startDev(dir, { port: dev.port });
    await client.ingest.PageView(pageView(live));
    await eventually(async () => seen.some((paths) => paths.includes(live)), (found) => found, 15_000);
    subscription.close();
  }

  test("a subscription reconnects by itself after the server is killed and restarted", async () => {
    await reconnectsAcross(() => dev.kill9(), "after-crash");
  });

  test("SIGTERM stops igloo dev while a client is subscribed; the subscription reconnects to the restarted server", async () => {
    await reconnectsAcross(async () => {
      const stopped = await Promise.race([dev.stop(), Bun.sleep(15_000).then(() => "still running after 15 s")]);
      if (stopped !== 0) await dev.kill9();
      // An open event stream must not keep the server from stopping.
      expect(stopped).toBe(0);
    }, "after-restart");
  });
});
