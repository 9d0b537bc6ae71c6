/**
 * `igloo dev` attacked from the outside, as the security review did it: the escapes it
 * found, the limits it could not find, and the exposure a flag could cause. Each case is
 * sent straight to the running binary, and checked for its answer and for having had no
 * effect. (A web page's routes in are e2e.browser.attack.test.ts; the read policy's full
 * table of escapes is query.policy.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { countRows, eventually, freePort, initProject, postIngest, query, removeDir, startDev, type DevProcess } from "./helpers/igloo.ts";

const json = { "content-type": "application/json" };

async function rssMb(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function ask(url: string, sql: string, signal?: AbortSignal): Promise<{ status: number; body: { data?: unknown[]; error?: string } }> {
  const response = await fetch(`${url}/query`, { method: "POST", headers: json, body: JSON.stringify({ sql }), ...(signal ? { signal } : {}) });
  return { status: response.status, body: (await response.json()) as { data?: unknown[]; error?: string } };
}

/** An HTTP/1.1 request written by hand: `body` bytes sent one every `everyMs`. */
function trickle(port: number, path: string, body: string, everyMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    let sent = 0;
    let timer: Timer | undefined;
    socket.on("connect", () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      timer = setInterval(() => {
        if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
      }, everyMs);
    });
    socket.on("data", (chunk) => (answer += chunk.toString()));
    const done = () => {
      clearInterval(timer);
      resolve(answer);
    };
    socket.on("close", done);
    socket.on("error", done);
    setTimeout(() => socket.destroy(), 20_000);
  });
}

describe("igloo dev under attack", () => {
  let dir: string;
  let dev: DevProcess;

  beforeAll(async () => {
    dir = initProject("security");
    dev = await startDev(dir, {
      env: { IGLOO_QUERY_TIMEOUT_MS: "2000", IGLOO_QUERY_CONCURRENCY: "2", IGLOO_BODY_TIMEOUT_MS: "1000", IGLOO_MAX_SUBSCRIPTIONS_PER_CLIENT: "3" },
    });
    const verdict = await postIngest(dev.url, "Purchase", [
      { orderId: "o-1", ts: "2026-01-01T00:00:00Z", userId: "u-1", amount: "10.00", items: ["sku-1"] },
      { orderId: "o-2", ts: "2026-01-01T00:00:00Z", userId: "u-2", amount: "20.00", items: ["sku-2"] },
    ]);
    expect(verdict.body.accepted).toBe(2);
    await eventually(() => countRows(dev.url, "PurchaseItem"), (n) => n === 2);
  });
  afterAll(async () => {
    if (dev?.proc.exitCode === null) await dev.stop();
    if (dir) removeDir(dirname(dir));
  });

  test("the remote code execution of the review: the write to functions/ is refused and nothing reloads", async () => {
    const mark = dev.output().length;
    const payload = `INSERT INTO FUNCTION file('${join(dir, "functions", "x.ts")}', 'RawBLOB', 'a String') SELECT 'export default { from: "Purchase", to: "PurchaseItem", run: () => null }'`;
    const direct = await ask(dev.url, payload);
    expect(direct.status).toBe(400);
    expect(direct.body.error).toMatch(/INSERT statements cannot run here/);
    // The same from a web page's "simple" request: a text/plain body is refused before any SQL.
    const simple = await fetch(`${dev.url}/query`, { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify({ sql: payload }) });
    expect(simple.status).toBe(415);
    const outfile = await ask(dev.url, `SELECT 'export default 1' INTO OUTFILE '${join(dir, "functions", "y.ts")}'`);
    expect(outfile.body.error).toMatch(/INTO OUTFILE/);
    await Bun.sleep(300);
    expect(readdirSync(join(dir, "functions"))).toEqual(["purchaseItems.ts"]);
    expect(dev.output().slice(mark)).not.toMatch(/function (x|y)|reloaded/);
  });

  test("a temporary table cannot shadow a view for other clients; the project path does not leak", async () => {
    const forged = await ask(dev.url, "CREATE TEMPORARY TABLE sales_by_sku ENGINE = Memory AS SELECT 'FORGED' AS sku, 1 AS items");
    expect(forged.status).toBe(400);
    const view = (await (await fetch(`${dev.url}/views/sales_by_sku`)).json()) as { data: { sku: string }[] };
    expect(view.data.map((r) => r.sku).sort()).toEqual(["sku-1", "sku-2"]);
    for (const sql of ["SELECT * FROM system.server_settings WHERE name = 'path'", "SELECT getServerSetting('path')", "SELECT data_paths FROM system.tables"]) {
      const leak = await ask(dev.url, sql);
      expect(leak.status).toBe(400);
      expect(JSON.stringify(leak.body)).not.toContain(dir);
    }
  });

  test("an endless query ends at the time limit with a clear error; other queries keep answering meanwhile", async () => {
    const started = Date.now();
    const endless = ask(dev.url, "SELECT count() FROM numbers(1000000000000000)");
    await Bun.sleep(200);
    const quick = Date.now();
    expect((await ask(dev.url, "SELECT count() AS c FROM PurchaseItem")).body.data).toEqual([{ c: "2" }]);
    expect((await fetch(`${dev.url}/views/sales_by_sku`)).status).toBe(200);
    expect(Date.now() - quick).toBeLessThan(1500);
    const { status, body } = await endless;
    expect(status).toBe(400);
    expect(body.error).toMatch(/ran past the 2 s a query may take \(IGLOO_QUERY_TIMEOUT_MS\)/);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  test("a client that hangs up cancels its query in the engine", async () => {
    // Two slots: two abandoned endless queries would hold both until the time limit if the
    // engine kept running them; a third query answers at once only if they were cancelled.
    for (let i = 0; i < 2; i++) {
      const abort = new AbortController();
      const pending = ask(dev.url, `SELECT count() FROM numbers(1000000000000000) WHERE number != ${i}`, abort.signal).catch(() => undefined);
      await Bun.sleep(300);
      abort.abort();
      await pending;
    }
    const started = Date.now();
    expect((await ask(dev.url, "SELECT 1 AS one")).body.data).toEqual([{ one: 1 }]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test("an oversized result is cut at the limit with a message to add LIMIT, and the server's memory stays bounded", async () => {
    const before = await rssMb(dev.proc.pid);
    const response = await fetch(`${dev.url}/query`, { method: "POST", headers: json, body: JSON.stringify({ sql: "SELECT number, toString(number) AS s FROM numbers(100000000)" }) });
    const text = await response.text();
    const body = JSON.parse(text) as { data: unknown[]; error: string };
    expect(body.error).toMatch(/add a LIMIT/);
    expect(body.data.length).toBeLessThanOrEqual(1_000_000);
    const after = await rssMb(dev.proc.pid);
    expect(after - before).toBeLessThan(400);
  });

  test("hostile bodies get their 4xx quickly, store nothing, and leave memory bounded", async () => {
    const before = await rssMb(dev.proc.pid);
    const deadBefore = await countRows(dev.url, "igloo_dead_letters");
    for (const megabytes of [2, 15]) {
      const started = Date.now();
      const response = await fetch(`${dev.url}/ingest/PageView`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: "1\n".repeat((megabytes * 1024 * 1024) / 2) });
      expect(response.status).toBe(413);
      expect(((await response.json()) as { error: string }).error).toMatch(/IGLOO_MAX_RECORDS/);
      expect(Date.now() - started).toBeLessThan(3000);
    }
    const invalid = await postIngest(dev.url, "PageView", Array.from({ length: 5000 }, () => ({ nope: 1 })));
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toMatch(/IGLOO_MAX_INVALID_RECORDS/);
    await Bun.sleep(500);
    expect(await countRows(dev.url, "PageView")).toBe(0);
    expect(await countRows(dev.url, "igloo_dead_letters")).toBe(deadBefore);
    expect((await rssMb(dev.proc.pid)) - before).toBeLessThan(400);
  });

  test("uploads that trickle in are cut at the body deadline, many at once; the server keeps serving", async () => {
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 50 }, () => trickle(dev.port, "/ingest/PageView", JSON.stringify({ userId: "u", path: "/" }), 300)));
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 408[\s\S]*IGLOO_BODY_TIMEOUT_MS/);
    expect(Date.now() - started).toBeLessThan(6000);
    expect((await fetch(`${dev.url}/health`)).status).toBe(200);
  });

  test("live subscriptions per client are capped, and a closed one frees its place", async () => {
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const open = await Promise.all(controllers.map((c) => fetch(`${dev.url}/views/sales_by_sku/events`, { signal: c.signal })));
    expect(open.map((r) => r.status)).toEqual([200, 200, 200]);
    const refused = await fetch(`${dev.url}/views/sales_by_sku/events`);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: string }).error).toMatch(/IGLOO_MAX_SUBSCRIPTIONS_PER_CLIENT/);
    controllers[0]!.abort();
    const replacement = new AbortController();
    controllers.push(replacement);
    await eventually(
      async () => {
        const again = await fetch(`${dev.url}/views/sales_by_sku/events`, { signal: replacement.signal });
        if (again.status !== 200) await again.text();
        return again.status;
      },
      (status) => status === 200,
      5000,
    );
    for (const c of controllers) c.abort();
  });

  test("the project's state is private to its owner", () => {
    expect(statSync(join(dir, ".igloo")).mode & 0o777).toBe(0o700);
  });

  test("SIGTERM during an endless query exits in bounded time, and cleanly", async () => {
    void ask(dev.url, "SELECT count() FROM numbers(1000000000000000)").catch(() => undefined);
    await Bun.sleep(300);
    const started = Date.now();
    expect(await dev.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("igloo dev exposure", () => {
  test("a port in use is an error, never shared with a second project", async () => {
    const first = initProject("port-a");
    const second = initProject("port-b");
    const dev = await startDev(first);
    try {
      const clash = Bun.spawnSync([join(import.meta.dir, "..", "dist", "igloo"), "dev", "--port", String(dev.port)], { cwd: second, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
      expect(clash.exitCode).not.toBe(0);
      expect(clash.stderr.toString()).toMatch(new RegExp(`port ${dev.port} on 127.0.0.1 is already in use.*--port`));
      expect((await query(dev.url, "SELECT 1 AS one"))).toEqual([{ one: 1 }]);
    } finally {
      await dev.stop();
      removeDir(dirname(first));
      removeDir(dirname(second));
    }
  });

  test("listening beyond loopback requires the key it prints, on every route but the health checks", async () => {
    const dir = initProject("exposed");
    const port = freePort();
    const dev = await startDev(dir, { port, args: ["--host", "0.0.0.0"] });
    try {
      const key = /Authorization: Bearer (igloo_admin_\S+?)`/.exec(dev.output())?.[1];
      expect(key).toBeDefined();
      const url = `http://127.0.0.1:${port}`;
      expect((await fetch(`${url}/health`)).status).toBe(200);
      for (const [path, init] of [
        ["/query", { method: "POST", headers: json, body: '{"sql":"SELECT 1"}' }],
        ["/ingest/PageView", { method: "POST", headers: json, body: "{}" }],
        ["/views/top_pages", {}],
        ["/metrics", {}],
        ["/openapi.json", {}],
      ] as const) {
        expect((await fetch(`${url}${path}`, init)).status).toBe(401);
        expect((await fetch(`${url}${path}`, { ...init, headers: { ...("headers" in init ? init.headers : {}), authorization: "Bearer igloo_admin_wrong" } })).status).toBe(401);
      }
      const answer = await fetch(`${url}/query`, { method: "POST", headers: { ...json, authorization: `Bearer ${key}` }, body: '{"sql":"SELECT 1 AS one"}' });
      expect(((await answer.json()) as { data: unknown[] }).data).toEqual([{ one: 1 }]);
      expect(existsSync(join(dir, ".igloo"))).toBe(true);
    } finally {
      await dev.stop();
      removeDir(dirname(dir));
    }
  });
});
