/**
 * The HTTP app in-process (app.handle, no socket) over a real embedded log and the shared
 * chDB store: the statuses of CONTRACT.md, including 503 when the log refuses writes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseModels } from "../conventions/datamodels/parse.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "../runtime/limits.ts";
import { consoleLogger } from "../runtime/logger.ts";
import { Pipeline } from "../runtime/pipeline.ts";
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
  const app = createApp({
    pipeline,
    stream,
    reads: new UserReads(store, all.query),
    logger,
    limits: all,
    gate: new RequestGate({ allowedHosts: [], corsOrigins: [], loopbackOrigins: true }),
  });
  const post = (path: string, body: string | ReadableStream, type = "application/json", headers: Record<string, string> = {}) =>
    app.handle(new Request(`http://localhost${path}`, { method: "POST", headers: { "content-type": type, ...headers }, body }));
  /** Records appended to the model's topic so far. */
  const appended = async () => [...(await stream.endOffsets(pipeline.target(table)!.topic)).values()].reduce((sum, n) => sum + n, 0);
  return {
    post,
    handle: (request: Request) => app.handle(request),
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
