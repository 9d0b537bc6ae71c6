/**
 * The HTTP app in-process (app.handle, no socket) over a real embedded log and the shared
 * chDB store: the statuses of CONTRACT.md, including 503 when the log refuses writes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseModels } from "../conventions/prisma/parse.ts";
import { DEAD_LETTER_TOPIC } from "../runtime/deadLetters/deadLetters.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "../runtime/limits.ts";
import { iglooMetrics, Metrics } from "../runtime/observability/metrics.ts";
import { consoleLogger } from "../runtime/observability/logger.ts";
import { Pipeline } from "../runtime/pipeline/pipeline.ts";
import { UserReads } from "../runtime/query/userReads.ts";
import { createApp } from "../runtime/server/app.ts";
import { RequestGate } from "../runtime/server/gate.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";

const table = `AppEvent_${process.pid}`;
const { models, errors } = parseModels([{ path: "datamodels/a.prisma", text: `model ${table} {\n  id String @id\n  n Int\n}` }]);
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

async function appWith(maxPendingBytes?: number, limits: Partial<ServerLimits> = {}) {
  const dir = tempDir("app");
  dirs.push(dir);
  const stream = await EmbeddedLog.open({ dir: join(dir, "stream"), ...(maxPendingBytes ? { maxPendingBytes } : {}) });
  const store = await sharedChdbStore();
  const logger = consoleLogger({ quiet: true });
  const pipeline = new Pipeline({ stream, store, logger });
  await pipeline.apply(models.models);
  const all: ServerLimits = { ...DEFAULT_LIMITS, maxBodyBytes: 1024, ...limits };
  const registry = new Metrics();
  const observe = iglooMetrics(registry);
  const app = createApp({
    pipeline,
    stream,
    reads: new UserReads(store, all.query),
    logger,
    limits: all,
    observe,
    gate: new RequestGate({ allowedHosts: [], corsOrigins: [], loopbackOrigins: true }),
  });
  const post = (path: string, body: string | ReadableStream, type = "application/json", headers: Record<string, string> = {}) =>
    app.handle(new Request(`http://localhost${path}`, { method: "POST", headers: { "content-type": type, ...headers }, body }));
  /** Records appended to the model's topic so far. */
  const appended = async () => [...(await stream.endOffsets(pipeline.target(table)!.topic)).values()].reduce((sum, n) => sum + n, 0);
  return {
    post,
    handle: (request: Request) => app.handle(request),
    metrics: () => registry.render(),
    /** Dead letters appended so far. */
    deadLetters: async () => [...(await stream.endOffsets(DEAD_LETTER_TOPIC)).values()].reduce((sum, n) => sum + n, 0),
    appended,
    close: async () => {
      await pipeline.close();
      await stream.close();
    },
  };
}

describe("HTTP app (in-process)", () => {
  test("the model parsed", () => expect(errors).toEqual([]));

  test("200 with per-record verdicts", async () => {
    const app = await appWith();
    try {
      const response = await app.post(`/ingest/${table}`, JSON.stringify([{ id: "a", n: 1 }, { id: "b", n: "x" }]));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ accepted: 1, rejected: 1, errors: [{ index: 1, message: expect.stringContaining("`n`") }], token: expect.any(String) });
    } finally {
      await app.close();
    }
  });

  test("503 with Retry-After when the log cannot take the write, and nothing is stored", async () => {
    const app = await appWith(1);
    try {
      const response = await app.post(`/ingest/${table}`, JSON.stringify({ id: "c", n: 2 }));
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      expect(((await response.json()) as { error: string }).error).toMatch(/nothing was stored/);
      const { rows } = await (await sharedChdbStore()).query<{ c: string }>(`SELECT count() AS c FROM ${table} WHERE id = 'c'`);
      expect(rows[0]!.c).toBe("0");
    } finally {
      await app.close();
    }
  });

  test("400, 404, 413 and 415 carry a message", async () => {
    const app = await appWith();
    try {
      const cases: [string, string, string, number][] = [
        [`/ingest/${table}`, "{", "application/json", 400],
        ["/ingest/Nope", "{}", "application/json", 404],
        [`/ingest/${table}`, "x".repeat(2000), "application/json", 413],
        [`/ingest/${table}`, "<a/>", "application/xml", 415],
        ["/query", "{}", "application/json", 400],
      ];
      for (const [path, body, type, status] of cases) {
        const response = await app.post(path, body, type);
        expect(response.status).toBe(status);
        expect(((await response.json()) as { error: string }).error.length).toBeGreaterThan(10);
      }
    } finally {
      await app.close();
    }
  });

  test("a request with more records than allowed is a 413 before they are all parsed; nothing stored", async () => {
    const app = await appWith(undefined, { maxBodyBytes: 1 << 20, maxRecords: 10 });
    try {
      const eleven = Array.from({ length: 11 }, (_, i) => ({ id: `r${i}`, n: i }));
      for (const [body, type] of [
        [JSON.stringify(eleven), "application/json"],
        [eleven.map((r) => JSON.stringify(r)).join("\n"), "application/x-ndjson"],
        ["1\n".repeat(100_000), "application/x-ndjson"],
      ] as const) {
        const response = await app.post(`/ingest/${table}`, body, type);
        expect(response.status).toBe(413);
        expect(((await response.json()) as { error: string }).error).toMatch(/more than 10 records \(IGLOO_MAX_RECORDS\); nothing was stored/);
      }
      expect(await app.appended()).toBe(0);
      expect((await app.post(`/ingest/${table}`, JSON.stringify(eleven.slice(0, 10)))).status).toBe(200);
      expect(await app.appended()).toBe(10);
    } finally {
      await app.close();
    }
  });

  test("more invalid records than allowed refuse the request whole: no dead letter each, nothing stored", async () => {
    const app = await appWith(undefined, { maxBodyBytes: 1 << 20, maxInvalidRecords: 5 });
    try {
      const deadBefore = await app.deadLetters();
      const body = [...Array.from({ length: 6 }, () => ({ id: "bad", n: "x" })), { id: "good", n: 1 }];
      const response = await app.post(`/ingest/${table}`, JSON.stringify(body));
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { error: string; errors: { index: number; message: string }[] };
      expect(answer.error).toMatch(/6 of the 7 records are invalid, more than the 5 a request may hold \(IGLOO_MAX_INVALID_RECORDS\); nothing was stored/);
      expect(answer.errors.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(await app.appended()).toBe(0);
      expect(await app.deadLetters()).toBe(deadBefore);
      // At the limit, the request is taken record by record as always.
      const five = await app.post(`/ingest/${table}`, JSON.stringify(body.slice(1)));
      expect(five.status).toBe(200);
      expect(await five.json()).toMatchObject({ accepted: 1, rejected: 5 });
    } finally {
      await app.close();
    }
  });

  test("a body that trickles in past the deadline is a 408; nothing stored", async () => {
    const app = await appWith(undefined, { bodyTimeoutMs: 300 });
    try {
      const encoder = new TextEncoder();
      let timer: Timer | undefined;
      const slow = new ReadableStream<Uint8Array>({
        start(controller) {
          let sent = 0;
          timer = setInterval(() => {
            if (sent++ < 100) controller.enqueue(encoder.encode(" "));
          }, 50);
        },
        cancel() {
          clearInterval(timer);
        },
      });
      const started = Date.now();
      const response = await app.post(`/ingest/${table}`, slow);
      clearInterval(timer);
      expect(response.status).toBe(408);
      expect(((await response.json()) as { error: string }).error).toMatch(/did not arrive within 0.3 s \(IGLOO_BODY_TIMEOUT_MS\)/);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await app.appended()).toBe(0);
    } finally {
      await app.close();
    }
  });

  test("read-your-writes: tokens of unknown topics and waits past the cap are 400s, not 500s", async () => {
    const app = await appWith(undefined, { maxWaitMs: 1000 });
    try {
      const view = (headers: Record<string, string>) => app.handle(new Request("http://localhost/query", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: '{"sql":"SELECT 1"}' }));
      const foreign = Buffer.from(JSON.stringify({ t: "no_such_topic", o: { "0": 1 } })).toString("base64url");
      const cases: [Record<string, string>, RegExp][] = [
        [{ "x-igloo-after": foreign }, /not a model of this project/],
        [{ "x-igloo-after": "garbage" }, /not a token/],
        [{ "x-igloo-after": Buffer.from(JSON.stringify({ t: table, o: { "0": -5 } })).toString("base64url") }, /not a token/],
        [{ "x-igloo-after": Array.from({ length: 65 }, () => foreign).join(",") }, /at most 64/],
        [{ "x-igloo-after": foreign, "x-igloo-wait-ms": "5000" }, /at most 1000 \(IGLOO_MAX_WAIT_MS\)/],
      ];
      for (const [headers, message] of cases) {
        const response = await view(headers);
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: string }).error).toMatch(message);
      }
    } finally {
      await app.close();
    }
  });

  test("unknown model names do not grow the metrics; foreign hosts and origins are refused before any route", async () => {
    const app = await appWith();
    try {
      for (let i = 0; i < 20; i++) expect((await app.post(`/ingest/Nope${i}`, "{}")).status).toBe(404);
      const metrics = await app.metrics();
      expect(metrics).not.toContain("Nope");
      expect(metrics).toContain('model="(unknown)",status="404"} 20');
      const foreignHost = await app.handle(new Request(`http://attacker.rebind.example/ingest/${table}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }));
      expect(foreignHost.status).toBe(403);
      const foreignOrigin = await app.post(`/ingest/${table}`, JSON.stringify({ id: "o", n: 1 }), "application/json", { origin: "http://evil.test" });
      expect(foreignOrigin.status).toBe(403);
      expect(await app.appended()).toBe(0);
    } finally {
      await app.close();
    }
  });

  test("idempotency-key: a resend gets the first answer back and stores nothing again", async () => {
    const app = await appWith();
    try {
      const body = JSON.stringify([{ id: "k1", n: 1 }, { id: "k2", n: "x" }]);
      const key = { "idempotency-key": "client-1" };
      const first = await app.post(`/ingest/${table}`, body, "application/json", key);
      const firstAnswer = await first.json();
      expect(first.status).toBe(200);
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      const stored = await app.appended();
      expect(stored).toBe(1);

      const again = await app.post(`/ingest/${table}`, body, "application/json", key);
      expect(again.status).toBe(200);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(await again.json()).toEqual(firstAnswer);
      // Concurrent resends wait for one attempt; a new key stores again.
      const [a, b] = await Promise.all([
        app.post(`/ingest/${table}`, body, "application/json", { "idempotency-key": "client-2" }),
        app.post(`/ingest/${table}`, body, "application/json", { "idempotency-key": "client-2" }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect([a.headers.get("idempotent-replayed"), b.headers.get("idempotent-replayed")].sort()).toEqual([null, "true"]);
      expect(await app.appended()).toBe(stored + 1);
    } finally {
      await app.close();
    }
  });

  test("idempotency-key: another body under a used key is a 422, a malformed key a 400; a failed attempt is not remembered", async () => {
    const failing = await appWith(1);
    try {
      const body = JSON.stringify({ id: "f1", n: 1 });
      const first = await failing.post(`/ingest/${table}`, body, "application/json", { "idempotency-key": "f" });
      expect(first.status).toBe(503);
      const retried = await failing.post(`/ingest/${table}`, body, "application/json", { "idempotency-key": "f" });
      expect(retried.status).toBe(503);
      expect(retried.headers.get("idempotent-replayed")).toBeNull();
    } finally {
      await failing.close();
    }
    const app = await appWith();
    try {
      expect((await app.post(`/ingest/${table}`, JSON.stringify({ id: "m1", n: 1 }), "application/json", { "idempotency-key": "m" })).status).toBe(200);
      const reused = await app.post(`/ingest/${table}`, JSON.stringify({ id: "m2", n: 2 }), "application/json", { "idempotency-key": "m" });
      expect(reused.status).toBe(422);
      expect(((await reused.json()) as { error: string }).error).toContain("another body");
      const bad = await app.post(`/ingest/${table}`, JSON.stringify({ id: "m3", n: 3 }), "application/json", { "idempotency-key": "\u00e9t\u00e9" });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toContain("visible ASCII");
      expect(await app.appended()).toBe(1);
    } finally {
      await app.close();
    }
  });
});
