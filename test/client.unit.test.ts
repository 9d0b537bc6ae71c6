/**
 * The client runtime's own logic (batching, verdict splitting, retries, the buffer bound,
 * the event-stream reader) against a tiny fake server: pure client logic, so a fake is
 * enough; test/e2e.client.test.ts runs the same client against a real `igloo dev`.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Server } from "bun";
import { createIglooClient, IglooError, type IglooClientOptions } from "../packages/client/client.ts";
import { EventStreamParser } from "../packages/client/eventStream.ts";
import { backoffDelay, retryAfterMs } from "../packages/client/http.ts";
import { writeClient } from "../src/commands/generate.ts";
import { clientModule } from "../src/generate/client.ts";
import { freePort, REPO, removeDir, tempDir } from "./helpers/igloo.ts";
import { parseType } from "../conventions/datamodels/typeFaces.ts";

type Rec = { id: string; bad?: boolean; pad?: string };
type Models = { Event: Rec; Other: Rec };
type Views = { top: { params: { limit?: number; tags?: readonly string[]; big?: bigint; on?: boolean; name?: string | null }; row: { n: string } } };

interface Seen {
  readonly path: string;
  readonly headers: Headers;
  readonly body: string;
  readonly at: number;
}

/** A stand-in for the server: records every request, answers with `answer`. */
function fake(answer: (request: Request, body: string, seen: Seen[]) => Response | Promise<Response>, port = 0) {
  const seen: Seen[] = [];
  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port,
    idleTimeout: 0,
    async fetch(request) {
      const body = await request.text();
      const entry = { path: new URL(request.url).pathname + new URL(request.url).search, headers: request.headers, body, at: performance.now() };
      seen.push(entry);
      return answer(request, body, seen);
    },
  });
  stops.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}`, seen, server };
}

let tokens = 0;
/** The server's ingest verdict: records with `bad: true` are rejected. */
function verdict(body: string): Response {
  const records = JSON.parse(body) as Rec[];
  const errors = records.flatMap((r, index) => (r.bad ? [{ index, message: `record ${r.id} is bad` }] : []));
  return Response.json({ accepted: records.length - errors.length, rejected: errors.length, errors, token: `t${++tokens}` });
}

const ids = (seen: readonly Seen[]) => seen.filter((s) => s.path.startsWith("/ingest/")).flatMap((s) => (JSON.parse(s.body) as Rec[]).map((r) => r.id));

const stops: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

function client(url: string, options: Partial<IglooClientOptions> = {}) {
  const c = createIglooClient<Models, Views>({ url, ...options }, { models: ["Event", "Other"], views: ["top"] });
  stops.push(() => c.close({ timeoutMs: 0 }).catch(() => {}));
  return c;
}

describe("batching", () => {
  test("calls made together share one request; each gets its own verdict with its own indexes", async () => {
    const server = fake((_r, body) => verdict(body));
    const c = client(server.url, { key: "secret" });
    const [a, b, d] = await Promise.all([
      c.ingest.Event({ id: "a0" }),
      c.ingest.Event([{ id: "b0" }, { id: "b1", bad: true }, { id: "b2" }]),
      c.ingest.Event([{ id: "d0", bad: true }, { id: "d1" }]),
    ]);
    expect(server.seen).toHaveLength(1);
    expect(server.seen[0]!.path).toBe("/ingest/Event");
    expect(server.seen[0]!.headers.get("authorization")).toBe("Bearer secret");
    expect(a).toEqual({ accepted: 1, rejected: 0, errors: [], token: "t" + tokens });
    expect(b).toEqual({ accepted: 2, rejected: 1, errors: [{ index: 1, message: "record b1 is bad" }], token: "t" + tokens });
    expect(d).toEqual({ accepted: 1, rejected: 1, errors: [{ index: 0, message: "record d0 is bad" }], token: "t" + tokens });
  });

  test("a call larger than a batch spans requests; its verdict merges them in order", async () => {
    const server = fake((_r, body) => verdict(body));
    const c = client(server.url, { ingest: { maxBatchRecords: 4 } });
    const records = Array.from({ length: 10 }, (_, i) => ({ id: `r${i}`, bad: i === 5 || i === 9 }));
    const result = await c.ingest.Event(records);
    expect(server.seen.map((s) => (JSON.parse(s.body) as Rec[]).length)).toEqual([4, 4, 2]);
    expect(result).toEqual({ accepted: 8, rejected: 2, errors: [{ index: 5, message: "record r5 is bad" }, { index: 9, message: "record r9 is bad" }], token: "t" + tokens });
    expect(ids(server.seen)).toEqual(records.map((r) => r.id));
  });

  test("batches stay under the byte limit; a record larger than it goes alone", async () => {
    const server = fake((_r, body) => verdict(body));
    const c = client(server.url, { ingest: { maxBatchBytes: 300 } });
    const records = Array.from({ length: 9 }, (_, i) => ({ id: `r${i}`, pad: "é".repeat(i === 4 ? 400 : 30) }));
    await c.ingest.Event(records);
    const sizes = server.seen.map((s) => new TextEncoder().encode(s.body).length);
    for (const [i, s] of server.seen.entries()) if ((JSON.parse(s.body) as Rec[]).length > 1) expect(sizes[i]!).toBeLessThanOrEqual(300);
    expect(server.seen.some((s) => s.body.includes('"r4"') && (JSON.parse(s.body) as Rec[]).length === 1)).toBe(true);
    expect(ids(server.seen)).toEqual(records.map((r) => r.id));
  });

  test("records wait up to lingerMs for company; flush() sends at once", async () => {
    const server = fake((_r, body) => verdict(body));
    const c = client(server.url, { ingest: { lingerMs: 150 } });
    const started = performance.now();
    await c.ingest.Event({ id: "x" });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);

    const slow = client(server.url, { ingest: { lingerMs: 60_000 } });
    const pending = slow.ingest.Other([{ id: "y" }, { id: "z" }]);
    const flushedAt = performance.now();
    await slow.flush();
    expect(performance.now() - flushedAt).toBeLessThan(1000);
    expect((await pending).accepted).toBe(2);
  });

  test("models are batched separately, each to its own endpoint", async () => {
    const server = fake((_r, body) => verdict(body));
    const c = client(server.url);
    await Promise.all([c.ingest.Event({ id: "e" }), c.ingest.Other({ id: "o" })]);
    expect(server.seen.map((s) => s.path).sort()).toEqual(["/ingest/Event", "/ingest/Other"]);
  });

  test("bigints are sent as digit strings; a record that is not JSON fails its call alone", async () => {
    const server = fake((_r, body) => verdict(body));
    const c = client(server.url);
    await c.ingest.Event({ id: "big", pad: 12345678901234567890n } as unknown as Rec);
    expect(server.seen[0]!.body).toBe('[{"id":"big","pad":"12345678901234567890"}]');
    const cyclic: Record<string, unknown> = { id: "c" };
    cyclic.self = cyclic;
    const error = await c.ingest.Event(cyclic as unknown as Rec).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IglooError);
    expect((error as IglooError).code).toBe("E_SERIALIZE");
    expect(server.seen).toHaveLength(1);
  });
});

describe("send(): no verdict to wait on", () => {
  test("records go in the same batches as calls; rejections reach onRejected with the record; flush() waits for them", async () => {
    const server = fake((_r, body) => verdict(body));
    const rejections: { model: string; record: unknown; message: string }[] = [];
    const c = client(server.url, { ingest: { onRejected: (r) => rejections.push(r) } });
    c.ingest.Event.send({ id: "s0" });
    c.ingest.Event.send([{ id: "s1", bad: true }, { id: "s2" }]);
    const called = c.ingest.Event({ id: "c0" });
    const refused = c.ingest.Event({ id: "c1", bad: true });
    c.ingest.Event.send({ id: "s3" });
    c.ingest.Other.send({ id: "o0", bad: true });
    await c.flush();
    expect(await refused).toEqual({ accepted: 0, rejected: 1, errors: [{ index: 0, message: "record c1 is bad" }], token: expect.any(String) });
    expect(server.seen.map((s) => s.path).sort()).toEqual(["/ingest/Event", "/ingest/Other"]);
    expect(ids(server.seen).sort()).toEqual(["c0", "c1", "o0", "s0", "s1", "s2", "s3"]);
    expect((await called).accepted).toBe(1);
    expect(rejections).toEqual([
      { model: "Event", record: { id: "s1", bad: true }, message: "record s1 is bad" },
      { model: "Other", record: { id: "o0", bad: true }, message: "record o0 is bad" },
    ]);
  });

  test("what is known at once throws at once; a refused batch reaches onError once, naming how many records", async () => {
    const server = fake(() => Response.json({ error: "no such model" }, { status: 404 }));
    const errors: IglooError[] = [];
    const c = client(server.url, { ingest: { maxBufferedRecords: 5, onError: (e) => errors.push(e), onRejected: () => {} } });
    const cyclic: Record<string, unknown> = { id: "c" };
    cyclic.self = cyclic;
    expect(() => c.ingest.Event.send(cyclic as unknown as Rec)).toThrow(/record 0 cannot be written as JSON/);
    expect(() => c.ingest.Event.send(Array.from({ length: 6 }, (_, i) => ({ id: `${i}` })))).toThrow(/split it/);
    c.ingest.Event.send({ id: "a" });
    c.ingest.Event.send([{ id: "b" }, { id: "c" }]);
    await c.flush();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe("E_HTTP");
    expect(errors[0]!.message).toContain("no such model");
    expect(errors[0]!.message).toContain("3 records given to send()");
    await c.close();
    expect(() => c.ingest.Event.send({ id: "late" })).toThrow(/closed/);
  });

  test("a throwing handler is reported and sending goes on", async () => {
    const server = fake((_r, body) => verdict(body));
    const c = client(server.url, {
      ingest: {
        lingerMs: 0,
        onRejected: () => {
          throw new Error("handler bug");
        },
      },
    });
    const logged: string[] = [];
    const original = console.error;
    console.error = (message: string) => void logged.push(message);
    try {
      c.ingest.Event.send({ id: "x", bad: true });
      await c.flush();
      expect((await c.ingest.Event({ id: "y" })).accepted).toBe(1);
    } finally {
      console.error = original;
    }
    expect(logged.some((m) => m.includes("handler bug") && m.includes("sending goes on"))).toBe(true);
  });
});

describe("the next batch, built while one is in flight", () => {
  test("goes back, in order, when the one in flight is refused as too large (413)", async () => {
    const server = fake((_r, body) => (body.length > 70 ? Response.json({ error: "too large" }, { status: 413 }) : verdict(body)));
    const c = client(server.url, { ingest: { maxBatchRecords: 6, lingerMs: 0 } });
    const records = Array.from({ length: 30 }, (_, i) => ({ id: `r${i}`, bad: i === 13 }));
    const results = await Promise.all([c.ingest.Event(records.slice(0, 20)), ...records.slice(20).map((r) => c.ingest.Event(r))]);
    expect(results[0]).toMatchObject({ accepted: 19, rejected: 1, errors: [{ index: 13, message: "record r13 is bad" }] });
    const stored = server.seen.filter((s) => s.body.length <= 70);
    expect(ids(stored)).toEqual(records.map((r) => r.id));
  });

  test("goes back when the one in flight fails: the rest of the failed call is dropped, later calls still go", async () => {
    let requests = 0;
    // A refusal that taking the batch apart cannot help (a 400 is taken apart, see below).
    const server = fake((_r, body) => (++requests === 1 ? Response.json({ error: "refused" }, { status: 422 }) : verdict(body)));
    const c = client(server.url, { ingest: { maxBatchRecords: 2, lingerMs: 1000 } });
    // Sent together: [a1, b1]; built meanwhile: [b2, b3]. The first is refused, so a and b fail.
    const failed = [c.ingest.Event({ id: "a1" }), c.ingest.Event([{ id: "b1" }, { id: "b2" }, { id: "b3" }])];
    const later = c.ingest.Event([{ id: "c1" }, { id: "c2" }]);
    for (const call of failed) expect(((await call.catch((e: unknown) => e)) as IglooError).status).toBe(422);
    expect((await later).accepted).toBe(2);
    expect(server.seen.map((s) => (JSON.parse(s.body) as Rec[]).map((r) => r.id))).toEqual([
      ["a1", "b1"],
      ["c1", "c2"],
    ]);
  });
});

describe("retries", () => {
  test("a 503 is retried after its Retry-After, and the records are stored exactly once", async () => {
    let refusals = 1;
    const server = fake((_r, body) =>
      refusals-- > 0 ? Response.json({ error: "the stream cannot take writes right now" }, { status: 503, headers: { "retry-after": "1" } }) : verdict(body),
    );
    const c = client(server.url, { ingest: { lingerMs: 0 } });
    const result = await c.ingest.Event([{ id: "a" }, { id: "b" }]);
    expect(result.accepted).toBe(2);
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]!.at - server.seen[0]!.at).toBeGreaterThanOrEqual(990);
    expect(server.seen[1]!.body).toBe(server.seen[0]!.body);
  });

  test("network errors are retried with exponential backoff and jitter until the server is up", async () => {
    const port = freePort();
    const attempts: number[] = [];
    let server: ReturnType<typeof fake> | undefined;
    const fetchCounting = (url: string, init: RequestInit) => {
      attempts.push(performance.now());
      if (attempts.length === 4) server = fake((_r, body) => verdict(body), port);
      return fetch(url, init);
    };
    const c = client(`http://127.0.0.1:${port}`, { fetch: fetchCounting, ingest: { lingerMs: 0, backoff: { minMs: 40, maxMs: 1000 } } });
    const result = await c.ingest.Event({ id: "late" });
    expect(result.accepted).toBe(1);
    expect(attempts).toHaveLength(4);
    // Attempt n waits between half and all of 40 ms * 2^n.
    for (let n = 0; n < 3; n++) expect(attempts[n + 1]! - attempts[n]!).toBeGreaterThanOrEqual(20 * 2 ** n - 2);
    expect(ids(server!.seen)).toEqual(["late"]);
  });

  test("backoff doubles from minMs to maxMs with equal jitter; Retry-After reads seconds and dates", () => {
    expect(backoffDelay(0, {}, () => 0)).toBe(50);
    expect(backoffDelay(0, {}, () => 1)).toBe(100);
    expect(backoffDelay(3, {}, () => 1)).toBe(800);
    expect(backoffDelay(40, {}, () => 1)).toBe(10_000);
    expect(retryAfterMs("2")).toBe(2000);
    expect(retryAfterMs(new Date(Date.now() + 3000).toUTCString())).toBeGreaterThan(1000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs("soon")).toBeUndefined();
  });

  test("every attempt of a batch carries the same idempotency-key; each batch and each client has its own", async () => {
    let requests = 0;
    const server = fake((_r, body) => (++requests === 1 ? new Response("", { status: 503 }) : verdict(body)));
    const c = client(server.url, { ingest: { maxBatchRecords: 2, lingerMs: 0, backoff: { minMs: 5 } } });
    await c.ingest.Event([{ id: "a" }, { id: "b" }, { id: "c" }]);
    const other = client(server.url, { ingest: { lingerMs: 0 } });
    await other.ingest.Event({ id: "d" });
    const keys = server.seen.map((s) => s.headers.get("idempotency-key"));
    expect(ids(server.seen)).toEqual(["a", "b", "a", "b", "c", "d"]);
    expect(keys[0]).toMatch(/^[0-9a-f]{16}-\d+$/);
    expect(keys[1]).toBe(keys[0]!);
    expect(new Set(keys).size).toBe(3);
  });

  test("an acknowledged batch is never resent, not even when a later one must be retried", async () => {
    let requests = 0;
    const server = fake((_r, body) => (++requests === 2 ? new Response("", { status: 503 }) : verdict(body)));
    const c = client(server.url, { ingest: { maxBatchRecords: 2, lingerMs: 0, backoff: { minMs: 10 } } });
    const result = await c.ingest.Event([{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }, { id: "e" }]);
    expect(result.accepted).toBe(5);
    const acknowledged = server.seen.filter((_s, i) => i !== 1);
    expect(ids(acknowledged).sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(ids(server.seen)).toEqual(["a", "b", "c", "d", "c", "d", "e"]);
  });

  test("a 200 whose answer is cut off is not resent: the call fails with E_VERDICT_LOST", async () => {
    const server = fake(() => new Response('{"accepted":1,', { status: 200, headers: { "content-type": "application/json" } }));
    const c = client(server.url, { ingest: { lingerMs: 0 } });
    const error = (await c.ingest.Event({ id: "once" }).catch((e: unknown) => e)) as IglooError;
    expect(error.code).toBe("E_VERDICT_LOST");
    await Bun.sleep(100);
    expect(server.seen).toHaveLength(1);
  });

  test("400, 401, 403, 404 and 415 are not retried: the call fails with the server's message", async () => {
    for (const status of [400, 401, 403, 404, 415]) {
      const server = fake(() => Response.json({ error: `refused with ${status}` }, { status }));
      const c = client(server.url, { ingest: { lingerMs: 0 } });
      const error = (await c.ingest.Event({ id: "x" }).catch((e: unknown) => e)) as IglooError;
      expect(error).toBeInstanceOf(IglooError);
      expect([error.code, error.status]).toEqual(["E_HTTP", status]);
      expect(error.message).toContain(`refused with ${status}`);
      await Bun.sleep(50);
      expect(server.seen).toHaveLength(1);
    }
  });

  test("a 413 halves the batch until the server takes it; each record arrives once", async () => {
    const server = fake((_r, body) => (body.length > 120 ? Response.json({ error: "too large" }, { status: 413 }) : verdict(body)));
    const c = client(server.url, { ingest: { lingerMs: 0 } });
    const records = Array.from({ length: 12 }, (_, i) => ({ id: `r${i}`, bad: i === 7 }));
    const result = await c.ingest.Event(records);
    expect(result).toMatchObject({ accepted: 11, rejected: 1, errors: [{ index: 7, message: "record r7 is bad" }] });
    const accepted = server.seen.filter((s) => s.body.length <= 120);
    expect(ids(accepted)).toEqual(records.map((r) => r.id));
  });
});

describe("a batch refused whole (400)", () => {
  test("is taken apart: only the call holding the record at fault fails, the others get their verdicts, each record stored once", async () => {
    // The server refuses a body holding a hostile record whole, as Igloo does for __proto__ keys or deep nesting.
    const server = fake((_r, body) => ((JSON.parse(body) as Rec[]).some((r) => r.pad === "hostile") ? Response.json({ error: "record 0: $[0] nests deeper than 67 levels; nothing was stored" }, { status: 400 }) : verdict(body)));
    const c = client(server.url, { ingest: { lingerMs: 20 } });
    const calls = [
      c.ingest.Event([{ id: "good-1" }, { id: "good-2" }]),
      c.ingest.Event({ id: "deep", pad: "hostile" }),
      c.ingest.Event({ id: "good-3", bad: true }),
      c.ingest.Event([{ id: "good-4" }]),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason.message).toContain("nests deeper than 67");
    expect((settled[2] as PromiseFulfilledResult<unknown>).value).toMatchObject({ accepted: 0, rejected: 1 });
    const stored = server.seen.filter((s) => s.path.startsWith("/ingest/") && !s.body.includes("hostile"));
    expect(ids(stored).sort()).toEqual(["good-1", "good-2", "good-3", "good-4"]);
    // Once the record at fault is alone, the batches are whole again.
    const after = await c.ingest.Event(Array.from({ length: 6 }, (_, i) => ({ id: `later-${i}` })));
    expect(after.accepted).toBe(6);
    expect(server.seen.at(-1)!.body).toContain("later-5");
    expect((JSON.parse(server.seen.at(-1)!.body) as Rec[]).length).toBe(6);
  });

  test("a call whose own body is refused fails whole, as it would over HTTP", async () => {
    const server = fake(() => Response.json({ error: "too many invalid records; nothing was stored" }, { status: 400 }));
    const c = client(server.url, { ingest: { lingerMs: 0 } });
    const error = (await c.ingest.Event([{ id: "a" }, { id: "b" }, { id: "c" }]).catch((e: unknown) => e)) as IglooError;
    expect(error.message).toContain("too many invalid records");
    expect(server.seen.filter((s) => s.path.startsWith("/ingest/")).length).toBe(1);
  });
});

describe("the buffer bound", () => {
  test("while the server is down, a call past maxBufferedRecords fails at once saying so", async () => {
    const server = fake(() => Response.json({ error: "down" }, { status: 503, headers: { "retry-after": "0" } }));
    const c = client(server.url, { ingest: { maxBufferedRecords: 10, lingerMs: 0, backoff: { minMs: 5, maxMs: 20 } } });
    // Handlers attached now: these calls fail while close() is awaited below.
    const waiting = c.ingest.Event(Array.from({ length: 8 }, (_, i) => ({ id: `w${i}` }))).catch((e: unknown) => e);
    while (server.seen.length < 2) await Bun.sleep(5);
    const started = performance.now();
    const error = (await c.ingest.Other([{ id: "x" }, { id: "y" }, { id: "z" }]).catch((e: unknown) => e)) as IglooError;
    expect(performance.now() - started).toBeLessThan(200);
    expect(error.code).toBe("E_BUFFER_FULL");
    expect(error.message).toContain(`the server at ${server.url} has been unreachable`);
    expect(error.message).toContain("503");
    expect(error.message).toContain("8 records wait");
    // What fits still goes in; closing with a timeout gives up on it.
    const fits = c.ingest.Other([{ id: "x" }, { id: "y" }]).catch((e: unknown) => e);
    await c.close({ timeoutMs: 50 });
    expect(((await waiting) as IglooError).code).toBe("E_CLOSED");
    expect(((await fits) as IglooError).code).toBe("E_CLOSED");
    expect(((await c.ingest.Event({ id: "late" }).catch((e: unknown) => e)) as IglooError).code).toBe("E_CLOSED");
  });

  test("records leave the buffer once answered, so a steady sender is never refused", async () => {
    const server = fake((_r, body) => verdict(body));
    const c = client(server.url, { ingest: { maxBufferedRecords: 5, lingerMs: 0 } });
    for (let i = 0; i < 20; i++) expect((await c.ingest.Event([{ id: `${i}a` }, { id: `${i}b` }, { id: `${i}c` }])).accepted).toBe(3);
  });

  test("a single call larger than the whole buffer is refused with a hint to split it", async () => {
    const c = client("http://127.0.0.1:1", { ingest: { maxBufferedRecords: 3 } });
    const error = (await c.ingest.Event([{ id: "1" }, { id: "2" }, { id: "3" }, { id: "4" }]).catch((e: unknown) => e)) as IglooError;
    expect(error.code).toBe("E_BUFFER_FULL");
    expect(error.message).toContain("split it");
  });
});

describe("views", () => {
  test("parameters, key and read-your-writes headers are sent as the protocol says", async () => {
    const server = fake(() => Response.json({ data: [{ n: "18446744073709551615" }] }));
    const c = client(server.url, { key: "k" });
    const rows = await c.views.top({ limit: 5, tags: ["a", 'b"c'], big: 2n ** 64n, on: false, name: null }, { after: ["t1", "t2"], waitMs: 800 });
    expect(rows).toEqual([{ n: "18446744073709551615" }]);
    const request = server.seen[0]!;
    const url = new URL(request.path, server.url);
    expect(url.pathname).toBe("/views/top");
    expect(Object.fromEntries(url.searchParams)).toEqual({ limit: "5", tags: '["a","b\\"c"]', big: "18446744073709551616", on: "false" });
    expect(request.headers.get("authorization")).toBe("Bearer k");
    expect(request.headers.get("x-igloo-after")).toBe("t1,t2");
    expect(request.headers.get("x-igloo-wait-ms")).toBe("800");
    await c.views.top();
    expect(server.seen[1]!.path).toBe("/views/top");
    expect(server.seen[1]!.headers.get("x-igloo-after")).toBeNull();
  });

  test("errors carry the server's message; a read-your-writes timeout is E_WAIT_TIMEOUT", async () => {
    let status = 400;
    const server = fake(() => Response.json({ error: "parameter `limit`: expected UInt32" }, { status }));
    const c = client(server.url);
    const bad = (await c.views.top({ limit: -1 }).catch((e: unknown) => e)) as IglooError;
    expect([bad.code, bad.status]).toEqual(["E_HTTP", 400]);
    expect(bad.message).toContain("parameter `limit`: expected UInt32");
    status = 504;
    const late = (await c.views.top({}, { after: "t9" }).catch((e: unknown) => e)) as IglooError;
    expect([late.code, late.status]).toEqual(["E_WAIT_TIMEOUT", 504]);
    const down = (await client("http://127.0.0.1:1").views.top().catch((e: unknown) => e)) as IglooError;
    expect(down.code).toBe("E_NETWORK");
  });

  test("a streamed answer that failed after its first rows is a failure, not a short result", async () => {
    const server = fake(() => Response.json({ data: [{ n: "1" }], error: "the result is larger than a query may return" }));
    const failed = (await client(server.url).views.top().catch((e: unknown) => e)) as IglooError;
    expect(failed).toBeInstanceOf(IglooError);
    expect(failed.message).toContain("the result is larger than a query may return");
  });
});

/** An event-stream endpoint whose connections the test drives. */
function eventServer(onConnect: (send: (text: string) => void, end: () => void, request: Request) => void) {
  const encoder = new TextEncoder();
  return fake((request) => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    queueMicrotask(() =>
      onConnect(
        (text) => {
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            // the client went away
          }
        },
        () => controller.close(),
        request,
      ),
    );
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await Bun.sleep(5);
  }
}

describe("subscriptions", () => {
  test("rows are delivered as pushed; unchanged rows after a reconnect are not delivered twice", async () => {
    let connection = 0;
    const server = eventServer((send, end) => {
      connection++;
      if (connection === 1) {
        send(': keepalive\n\nevent: rows\r\ndata: {"data":[{"n":"1"}]}\r');
        setTimeout(() => send('\n\r\nevent: rows\ndata: {"data":'), 20);
        setTimeout(() => send('[{"n":"2"}]}\n\n'), 40);
        setTimeout(end, 60);
      } else {
        send('event: rows\ndata: {"data":[{"n":"2"}]}\n\n');
        setTimeout(() => send('event: rows\ndata: {"data":[{"n":"3"}]}\n\n'), 20);
      }
    });
    const c = client(server.url, { key: "k", subscriptions: { backoff: { minMs: 10 } } });
    const got: string[][] = [];
    const problems: [string, boolean][] = [];
    const subscription = c.views.top.subscribe({ limit: 2 }, (rows) => got.push(rows.map((r) => r.n)), { onError: (e, retry) => problems.push([e.code, retry]) });
    await until(() => got.length === 3);
    expect(got).toEqual([["1"], ["2"], ["3"]]);
    expect(connection).toBe(2);
    expect(problems).toEqual([["E_NETWORK", true]]);
    expect(server.seen[0]!.path).toBe("/views/top/events?limit=2");
    expect(server.seen[0]!.headers.get("authorization")).toBe("Bearer k");
    subscription.close();
    await Bun.sleep(100);
    expect(connection).toBe(2);
  });

  test("a silent connection is reopened after idleTimeoutMs; close() stops for good", async () => {
    let connections = 0;
    const server = eventServer((send) => {
      connections++;
      send(`event: rows\ndata: {"data":[{"n":"${connections}"}]}\n\n`);
    });
    const c = client(server.url, { subscriptions: { idleTimeoutMs: 100, backoff: { minMs: 10 } } });
    const got: string[] = [];
    const subscription = c.views.top.subscribe({}, (rows) => got.push(rows[0]!.n));
    await until(() => got.length >= 3);
    subscription.close();
    const after = connections;
    await Bun.sleep(300);
    expect(connections).toBe(after);
  });

  test("a refused subscription (400) reports a final error and does not reconnect", async () => {
    const server = fake(() => Response.json({ error: "parameter `limit` is required" }, { status: 400 }));
    const c = client(server.url);
    const problems: [string, boolean][] = [];
    c.views.top.subscribe({}, () => {}, { onError: (e, retry) => problems.push([e.message, retry]) });
    await until(() => problems.length === 1);
    await Bun.sleep(200);
    expect(problems).toEqual([["subscription to top: 400 parameter `limit` is required", false]]);
    expect(server.seen).toHaveLength(1);
  });

  test("the server's error events and a throwing onRows are reported; the subscription goes on", async () => {
    const server = eventServer((send) => {
      send('event: error\ndata: {"error":"the view failed"}\n\n');
      send('event: rows\ndata: {"data":[{"n":"1"}]}\n\n');
      send('event: rows\ndata: {"data":[{"n":"2"}]}\n\n');
    });
    const c = client(server.url);
    const problems: string[] = [];
    const got: string[] = [];
    c.views.top.subscribe(
      {},
      (rows) => {
        got.push(rows[0]!.n);
        if (rows[0]!.n === "1") throw new Error("boom");
      },
      { onError: (e) => problems.push(`${e.code}: ${e.message}`) },
    );
    await until(() => got.length === 2);
    expect(problems).toEqual(["E_HTTP: subscription to top: the server could not run the view: the view failed", "E_CALLBACK: subscription to top: onRows threw: boom"]);
  });
});

test("the event-stream parser follows the spec's line rules", () => {
  const parser = new EventStreamParser();
  const events = [
    ...parser.push(": comment\n"),
    ...parser.push("event: rows\ndata: a\ndata:b\r"),
    ...parser.push("\n\r\n"),
    ...parser.push("data\n\n"),
    ...parser.push("event: x\n\n"),
    ...parser.push("id: v1\ndata: tail"),
  ];
  expect(events).toEqual([
    { type: "rows", data: "a\nb", id: "" },
    { type: "message", data: "", id: "" },
  ]);
  expect(parser.push("\n\n")).toEqual([{ type: "message", data: "tail", id: "v1" }]);
  // The id persists across events until another is sent; one with a NUL is ignored.
  expect(parser.push("data: more\n\nid: bad\0\ndata: again\n\n")).toEqual([
    { type: "message", data: "more", id: "v1" },
    { type: "message", data: "again", id: "v1" },
  ]);
});

describe("the generated client outside Bun's test runner", () => {
  function writeGenerated(dir: string): void {
    const files = clientModule({ models: [], views: [{ name: "top", columns: [{ name: "n", type: parseType("UInt64") }], params: [] }] });
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
  }
  const script = (url: string) => `
    import { createIglooClient } from "./client/runtime/client.js";
    import { createClient } from "./client/index.js";
    const views = await createClient({ url: ${JSON.stringify(url)} }).views.top();
    const c = createIglooClient({ url: ${JSON.stringify(url)} }, { models: ["Event"], views: [] });
    // Not awaited: pending records keep the process alive until they are sent.
    void c.ingest.Event([{ id: "exit-1" }, { id: "exit-2" }]).then((v) => console.log(JSON.stringify({ views, accepted: v.accepted })));
  `;

  for (const runtime of ["node", "bun"] as const) {
    test(`${runtime} imports the generated .js and sends what is pending before it exits`, async () => {
      const dir = tempDir("client-runtime");
      stops.push(() => removeDir(dir));
      const server = fake((request, body) => (new URL(request.url).pathname === "/views/top" ? Response.json({ data: [{ n: "7" }] }) : verdict(body)));
      writeGenerated(join(dir, "client"));
      writeFileSync(join(dir, "main.mjs"), script(server.url));
      const proc = Bun.spawn([runtime === "node" ? "node" : process.execPath, "main.mjs"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(JSON.parse(out)).toEqual({ views: [{ n: "7" }], accepted: 2 });
      expect(ids(server.seen)).toEqual(["exit-1", "exit-2"]);
    });
  }
});


test("writeClient writes the project's client, and rewrites only what changed", () => {
  const root = tempDir("client-write");
  stops.push(() => removeDir(root));
  cpSync(join(REPO, "template", "datamodels"), join(root, "datamodels"), { recursive: true });
  const views = [{ name: "top_pages", columns: [{ name: "path", type: parseType("String") }], params: [] }];
  const first = writeClient(root, "client", views);
  expect(first.dir).toBe(join(root, "client"));
  expect(first.written).toEqual(expect.arrayContaining(["index.ts", "index.js", "package.json", "runtime/client.ts", "runtime/client.js"]));
  expect(readFileSync(join(root, "client", "index.ts"), "utf8")).toContain("export interface PageViewInput {");
  expect(writeClient(root, "client", views).written).toEqual([]);
  const changed = writeClient(root, "client", [...views, { name: "more", columns: [], params: [] }]);
  expect([...changed.written].sort()).toEqual(["index.js", "index.ts"]);
});
