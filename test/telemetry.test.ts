/**
 * Igloo's own events (runtime/observability/telemetry.ts) on real engines: a runtime with
 * telemetry records ingest and rejection counts, reads and what the caller reports (a
 * reload) in `igloo_events` through its own ingest path, serves the built-in views
 * without listing them as the project's, and exports the same events to another
 * runtime's ingest endpoint with Igloo's client when asked (never under DO_NOT_TRACK).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { parseModels } from "../conventions/prisma/parse.ts";
import { DEFAULT_LIMITS } from "../runtime/limits.ts";
import { consoleLogger } from "../runtime/observability/logger.ts";
import { Telemetry, telemetryExport, type IglooEvent } from "../runtime/observability/telemetry.ts";
import { createApp } from "../runtime/server/app.ts";
import { RequestGate } from "../runtime/server/gate.ts";
import { ChdbStore } from "../runtime/store/chdb/chdbStore.ts";
import { processChdbPath } from "../runtime/store/chdb/processPath.ts";
import { EmbeddedLog } from "../runtime/stream/embedded/embeddedLog.ts";
import { assembleRuntime } from "../src/projectRuntime.ts";
import { removeDir, tempDir } from "../scripts/lib/igloo.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

async function runtimeWithTelemetry(name: string, env?: { url: string }) {
  const dir = tempDir(`telemetry-${name}`);
  dirs.push(dir);
  const stream = await EmbeddedLog.open({ dir: join(dir, "stream") });
  const store = await ChdbStore.open({ path: processChdbPath(), database: `telemetry_${name}_${process.pid}`, limits: DEFAULT_LIMITS.query });
  const previous = process.env.IGLOO_TELEMETRY_URL;
  if (env) process.env.IGLOO_TELEMETRY_URL = env.url;
  const runtime = assembleRuntime({ stream, store }, consoleLogger({ quiet: true }), DEFAULT_LIMITS, { writer: { maxWaitMs: 5 } }, {}, { telemetry: true });
  if (previous === undefined) delete process.env.IGLOO_TELEMETRY_URL;
  else process.env.IGLOO_TELEMETRY_URL = previous;
  const { models } = parseModels([{ path: "datamodels/Hit.prisma", text: "model Hit {\n  id String\n  n Int\n  @@orderBy([id])\n}\n" }]);
  await runtime.pipeline.apply(models.models);
  const report = await runtime.views.apply([], models.models, { pauseWriter: (table) => runtime.pipeline.pauseWriter(table) });
  expect(report.errors).toEqual([]);
  const app = createApp({ ...runtime.app, gate: new RequestGate({ allowedHosts: [], corsOrigins: [], loopbackOrigins: true }) });
  const post = (path: string, body: unknown) => app.handle(new Request(`http://localhost${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  const rows = async (sql: string) => ((await (await post("/query", { sql })).json()) as { data: Record<string, unknown>[] }).data;
  return { runtime, app, post, rows, close: () => runtime.close() };
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await Bun.sleep(50);
  }
}

test("ingest and rejection counts, reads and a reload reach igloo_events through Igloo's own ingest path; the built-in views serve them and are not the project's", async () => {
  const igloo = await runtimeWithTelemetry("local");
  try {
    const verdict = (await (await igloo.post("/ingest/Hit", [{ id: "a", n: 1 }, { id: "b", n: 2 }, { id: "c" }])).json()) as { accepted: number; rejected: number };
    expect(verdict).toMatchObject({ accepted: 2, rejected: 1 });
    igloo.runtime.telemetry!.event("reload", "datamodels/Hit.prisma", "model Hit changed", 42);
    await igloo.rows("SELECT 1 AS one");
    await igloo.runtime.telemetry!.flush();
    const events = await eventually(() => igloo.rows("SELECT kind, subject, detail, durationMs, count FROM igloo_events ORDER BY kind, subject"), (r) => r.length >= 4, "the events");
    expect(events.filter((e) => e.kind !== "query")).toEqual([
      { kind: "ingest", subject: "Hit", detail: "", durationMs: null, count: 2 },
      { kind: "rejected", subject: "Hit", detail: "", durationMs: null, count: 1 },
      { kind: "reload", subject: "datamodels/Hit.prisma", detail: "model Hit changed", durationMs: 42, count: 1 },
    ]);
    const query = events.find((e) => e.kind === "query")!;
    expect(query.count).toBeGreaterThanOrEqual(1);
    expect(query.durationMs).toBeGreaterThan(0);
    const perMinute = await eventually(() => igloo.rows("SELECT kind, events FROM igloo_activity WHERE kind IN ('ingest', 'rejected') ORDER BY kind"), (r) => r.length === 2, "the activity view");
    expect(perMinute).toEqual([{ kind: "ingest", events: "2" }, { kind: "rejected", events: "1" }]);
    // Served like any view, not listed among the project's.
    const activity = (await (await igloo.app.handle(new Request("http://localhost/views/igloo_recent_events"))).json()) as { data: { kind: string }[] };
    expect(activity.data.map((e) => e.kind)).toEqual(expect.arrayContaining(["ingest", "rejected", "reload"]));
    expect(igloo.runtime.views.names()).toEqual([]);
    expect(igloo.runtime.views.names({ builtin: true })).toEqual(["igloo_activity", "igloo_recent_events"]);
  } finally {
    await igloo.close();
  }
});

test("with IGLOO_TELEMETRY_URL, the same events go to another Igloo's igloo_events with Igloo's client", async () => {
  const receiver = await runtimeWithTelemetry("receiver");
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => receiver.app.handle(request) });
  const sender = await runtimeWithTelemetry("sender", { url: `http://127.0.0.1:${server.port}` });
  try {
    sender.runtime.telemetry!.event("start", "dev", "exported", 7);
    await sender.runtime.telemetry!.flush();
    await sender.close();
    const received = await eventually(() => receiver.rows("SELECT kind, subject, detail, durationMs FROM igloo_events WHERE kind = 'start'"), (r) => r.length > 0, "the exported event");
    expect(received).toEqual([{ kind: "start", subject: "dev", detail: "exported", durationMs: 7 }]);
  } finally {
    server.stop(true);
    await receiver.close();
  }
});

test("an export target that is away loses its copy, never the local record", async () => {
  const written: IglooEvent[] = [];
  // A port nothing listens on: the client holds at most 100,000 records, so the third flush overflows it.
  const telemetry = new Telemetry({ write: async (events) => void written.push(...events), exportTo: { url: "http://127.0.0.1:9" }, flushMs: 3_600_000 });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 40_000; i++) telemetry.count("ingest", `m${i}`, 1);
    await telemetry.flush();
  }
  expect(written.length).toBe(120_000);
  await telemetry.close();
});

test("export is off unless asked, and off under DO_NOT_TRACK; counts are summed between flushes; the buffer is bounded", async () => {
  expect(telemetryExport({})).toBeUndefined();
  expect(telemetryExport({ IGLOO_TELEMETRY_URL: "http://x", IGLOO_TELEMETRY_KEY: "k" })).toEqual({ url: "http://x", key: "k" });
  expect(telemetryExport({ IGLOO_TELEMETRY_URL: "http://x", DO_NOT_TRACK: "1" })).toBeUndefined();
  expect(telemetryExport({ IGLOO_TELEMETRY_URL: "http://x", DO_NOT_TRACK: "0" })).toEqual({ url: "http://x" });
  let now = Date.UTC(2026, 0, 1, 10, 0, 30);
  const written: IglooEvent[] = [];
  const telemetry = new Telemetry({ write: async (events) => void written.push(...events), now: () => now, flushMs: 3_600_000 });
  telemetry.count("ingest", "Hit", 3);
  now += 500;
  telemetry.count("ingest", "Hit", 4, 10);
  telemetry.count("query", "reads", 1, 2.5);
  await telemetry.flush();
  expect(written).toEqual([
    { ts: "2026-01-01T10:00:30.000Z", kind: "ingest", subject: "Hit", detail: "", durationMs: 10, count: 7 },
    { ts: "2026-01-01T10:00:30.500Z", kind: "query", subject: "reads", detail: "", durationMs: 2.5, count: 1 },
  ]);
  written.length = 0;
  await telemetry.flush();
  expect(written).toEqual([]);
  telemetry.count("ingest", "Hit", 1);
  written.length = 0;
  for (let i = 0; i < 10_005; i++) telemetry.event("query", "q");
  await telemetry.flush();
  // 10,000 kept, the count of 1 written with them, and how many were dropped.
  expect(written.length).toBe(10_002);
  expect(written.at(-1)).toMatchObject({ kind: "telemetry", subject: "dropped", count: 5 });
  expect(written.filter((e) => e.kind === "ingest")).toEqual([expect.objectContaining({ count: 1 })]);
  telemetry.event("reload", "views");
  await telemetry.close();
  expect(written.at(-1)).toMatchObject({ kind: "reload", subject: "views", count: 1 });
});
