/**
 * The ClickHouse server adapter when things go wrong, against real server processes:
 * wrong credentials, unreachable or silent servers, TLS, and the server killed (SIGKILL)
 * in the middle of sustained inserts, then restarted on the same data.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ClickHouseStore } from "../runtime/store/clickhouse/clickhouseStore.ts";
import { resolveConnection } from "../runtime/store/clickhouse/connectionOptions.ts";
import { StoreError } from "../runtime/store/store.ts";
import { startClickHouse, type ClickHouseServer } from "./helpers/clickhouseServer.ts";

let server: ClickHouseServer;
beforeAll(async () => {
  server = await startClickHouse("clickhouse-faults", { tls: true });
});
afterAll(async () => {
  await server?.stop();
});

const failure = (promise: Promise<unknown>) => promise.then(() => new Error("expected a failure, got success"), (e: unknown) => e);

describe("connecting", () => {
  test("a wrong password names the user and the host, not the password", async () => {
    const wrong = "not-the-password-42";
    const error = await failure(ClickHouseStore.connect({ url: server.url, user: "default", password: wrong, database: "igloo" }));
    expect(error).toBeInstanceOf(StoreError);
    const message = (error as StoreError).message;
    expect(message).toContain(`authentication failed for user "default" at ${server.url}`);
    expect(message).toContain("Check the user name and password");
    expect(message).not.toContain(wrong);
    expect((error as StoreError).engineCode).toMatch(/^(193|516)$/);
    const viaUrl = await failure(ClickHouseStore.connect({ url: `http://default:${wrong}@127.0.0.1:${server.port}/igloo` }));
    expect((viaUrl as Error).message).toContain('authentication failed for user "default"');
    expect((viaUrl as Error).message).not.toContain(wrong);
  });

  test("the CONTRACT URL form carries user, password (URL-encoded) and database", async () => {
    const store = await ClickHouseStore.connect({ url: `http://default:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/igloo` });
    try {
      const { rows } = await store.query<{ db: string }>("SELECT currentDatabase() AS db");
      expect(rows).toEqual([{ db: "igloo" }]);
    } finally {
      await store.close();
    }
    const noDatabase = await failure(ClickHouseStore.connect({ url: `http://default:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/no_such_db` }));
    expect((noDatabase as StoreError).engineCode).toBe("81");
    expect((noDatabase as Error).message).toContain("Create it (CREATE DATABASE <name>)");
    const resolved = resolveConnection({ url: "https://ingest%40acme:p%3Ass%2Fw0rd@db.example.com:8443/analytics" });
    expect(resolved).toMatchObject({ url: "https://db.example.com:8443", user: "ingest@acme", password: "p:ss/w0rd", database: "analytics", tls: undefined });
    expect(resolveConnection({ url: "http://h:8123", tls: true }).url).toBe("https://h:8123");
    expect(resolveConnection({ url: "http://u:p@h:8123/db", user: "other", database: "x" })).toMatchObject({ user: "other", password: "p", database: "x" });
    expect(resolveConnection({ url: "http://h:8123" })).toMatchObject({ user: "default", password: "", database: "default" });
    for (const [url, why] of [
      ["ftp://u:secret@h/db", /must use http or https/],
      ["u:secret@h:8123", /is not a URL|must use http or https/],
      ["http://u:secret@h:8123/a/b", /more than one segment/],
    ] as const) {
      const error = await failure(Promise.resolve().then(() => resolveConnection({ url })));
      expect(error).toBeInstanceOf(StoreError);
      expect((error as Error).message).toMatch(why);
      expect((error as Error).message).not.toContain("secret");
    }
    expect(() => resolveConnection({ url: "https://h", tls: { caPath: "/nonexistent/ca.pem" } })).toThrow(/cannot read the ClickHouse TLS CA file \/nonexistent\/ca.pem/);
  });

  test("HTTPS with a private CA works, and an unknown CA is refused", async () => {
    const httpsUrl = server.httpsUrl!;
    const store = await ClickHouseStore.connect({ url: httpsUrl, user: server.user, password: server.password, database: "igloo", tls: { caPath: server.caPath! } });
    try {
      const { rows } = await store.query<{ one: number }>("SELECT 1 AS one");
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await store.close();
    }
    const untrusted = await failure(ClickHouseStore.connect({ url: httpsUrl, user: server.user, password: server.password, requestTimeoutMs: 3000 }));
    expect(untrusted).toBeInstanceOf(StoreError);
    expect((untrusted as Error).message).toContain(`cannot connect to ClickHouse at ${httpsUrl}: the TLS handshake with ${httpsUrl} failed`);
    const plainToTls = await failure(ClickHouseStore.connect({ url: server.url, tls: true, password: server.password, requestTimeoutMs: 3000 }));
    expect((plainToTls as Error).message).toContain("the TLS handshake with https://127.0.0.1");
  });

  test("an unreachable server fails quickly, naming the URL", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const started = Date.now();
    const error = await failure(ClickHouseStore.connect({ url: `http://u:secret@127.0.0.1:${port}/igloo` }));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toContain(`cannot reach ClickHouse at http://127.0.0.1:${port}`);
    expect((error as Error).message).not.toContain("secret");
  });

  test("a server that accepts connections but never answers times out at the bound", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const started = Date.now();
      const error = await failure(ClickHouseStore.connect({ url: `http://127.0.0.1:${silent.port}`, requestTimeoutMs: 500 }));
      expect(Date.now() - started).toBeLessThan(3000);
      expect((error as Error).message).toContain("no answer within 500 ms");
    } finally {
      silent.stop(true);
    }
  });
});

describe("the server killed during sustained inserts", () => {
  const ROWS = 1000;
  const batchBody = (batch: number): Uint8Array => {
    const lines: string[] = [];
    for (let i = 0; i < ROWS; i++) {
      const id = batch * ROWS + i;
      lines.push(
        JSON.stringify({ id: String(id), batch, name: `row ${id}`, amount: id / 7, at: "2024-05-06T07:08:09Z", note: i % 3 === 0 ? null : "n", tags: ["a", String(i % 10)] }),
      );
    }
    return new TextEncoder().encode(lines.join("\n"));
  };

  test("inserts fail with StoreErrors, never hang, and each batch is all there or absent", async () => {
    const connect = { url: server.url, user: server.user, password: server.password, database: "igloo", requestTimeoutMs: 5000 };
    const store = await ClickHouseStore.connect(connect);
    const table = `faults_kill_${process.pid}_${Date.now().toString(36)}`;
    await store.exec(
      `CREATE TABLE ${table} (id UInt64, batch UInt64, name String, amount Float64, at DateTime, note Nullable(String), tags Array(String)) ENGINE = MergeTree ORDER BY id`,
    );

    const succeeded: number[] = [];
    const failed: number[] = [];
    const errors: unknown[] = [];
    let slowest = 0;
    let nextBatch = 0;
    let phase: "before" | "down" | "after" | "done" = "before";
    let succeededAfterRestart = 0;

    const writer = async () => {
      while (phase !== "done") {
        const batch = nextBatch++;
        const started = Date.now();
        try {
          await store.insertJsonEachRow(table, batchBody(batch));
          succeeded.push(batch);
          if (phase === "after") succeededAfterRestart++;
        } catch (error) {
          failed.push(batch);
          errors.push(error);
          if (phase === "down") await Bun.sleep(20); // a dead server refuses at once; do not spin
        }
        slowest = Math.max(slowest, Date.now() - started);
      }
    };
    const until = async (condition: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await Bun.sleep(10);
      }
    };

    const writers = [writer(), writer(), writer()];
    try {
      await until(() => succeeded.length >= 30, "30 batches before the kill");
      phase = "down";
      await server.kill();
      const failedBeforeRestart = failed.length;
      await until(() => failed.length >= failedBeforeRestart + 10, "inserts to fail while the server is down");
      await server.start();
      phase = "after";
      await until(() => succeededAfterRestart >= 30, "30 batches after the restart");
    } finally {
      phase = "done";
      await Promise.all(writers);
    }

    expect(errors.length).toBeGreaterThanOrEqual(10);
    for (const error of errors) expect(error).toBeInstanceOf(StoreError);
    expect(errors.some((e) => /cannot reach ClickHouse at http:\/\/127\.0\.0\.1/.test((e as Error).message))).toBe(true);
    expect(slowest).toBeLessThan(connect.requestTimeoutMs + 2000);

    const { rows: totals } = await store.query<{ c: string; u: string }>(`SELECT count() AS c, uniqExact(id) AS u FROM ${table}`);
    const { rows: perBatch } = await store.query<{ batch: string; c: string }>(`SELECT batch, count() AS c FROM ${table} GROUP BY batch`);
    const counts = new Map(perBatch.map((r) => [Number(r.batch), Number(r.c)]));
    for (const batch of succeeded) expect(counts.get(batch)).toBe(ROWS);
    // A failed insert may still have been committed (the answer was lost), but only whole.
    for (const batch of failed) expect([undefined, ROWS]).toContain(counts.get(batch));
    for (const [batch, count] of counts) {
      expect(succeeded.includes(batch) || failed.includes(batch)).toBe(true);
      expect(count).toBe(ROWS);
    }
    expect(totals[0]?.c).toBe(totals[0]?.u);
    expect(Number(totals[0]?.c)).toBe(counts.size * ROWS);
    await store.close();
  }, 60_000);
});
