/**
 * `createTestPipeline()` from `igloo/testing`: a project's models, functions and views
 * running in the test's own process on the embedded engines, assembled exactly as
 * `igloo dev` assembles them (assembleRuntime), and asked through the same HTTP app,
 * in-process (`app.handle`, no socket): an ingest verdict, a view's rows and a query's
 * rows are what the HTTP API answers, byte for byte.
 *
 * Each pipeline is empty and apart from every other: its own log directory, and its own
 * database in the process's one chDB data directory (chDB binds one per process; another
 * test process has its own). Writers flush after 5 ms instead of 250 ms, so `settle()`
 * takes milliseconds.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { IglooError } from "../../conventions/errors.ts";
import { queryString } from "../../packages/client/http.ts";
import { loadFunctions } from "../../conventions/functions/load.ts";
import { filesIn, isProject, loadProject } from "../../conventions/project.ts";
import { parseViews } from "../../conventions/views/parse.ts";
import { DEAD_LETTER_TABLE, DEAD_LETTER_TOPIC } from "../../runtime/deadLetters/deadLetters.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "../../runtime/limits.ts";
import type { Logger } from "../../runtime/observability/logger.ts";
import { createApp } from "../../runtime/server/app.ts";
import { RequestGate } from "../../runtime/server/gate.ts";
import { ChdbStore } from "../../runtime/store/chdb/chdbStore.ts";
import { processChdbPath } from "../../runtime/store/chdb/processPath.ts";
import { quoteIdent } from "../../runtime/store/clickhouseSql.ts";
import type { StoreCapabilities } from "../../runtime/store/store.ts";
import type { EngineCatalog } from "../../runtime/views/incremental.ts";
import { EmbeddedLog } from "../../runtime/stream/embedded/embeddedLog.ts";
import type { Stream } from "../../runtime/stream/stream.ts";
import { waitForGroups } from "../../runtime/writer/progress.ts";
import { writerGroup } from "../../runtime/writer/tableWriter.ts";
import { assembleRuntime, type ProjectRuntime } from "../projectRuntime.ts";
import type { IngestVerdict, TestClock, TestPipelineOptions } from "../../packages/testing/api.ts";
import { mismatch, randomBatches, viewDiffs, type ViewCheckTarget } from "./checkViews.ts";
import { CREATE_CLOCK_TABLE, setClockStatements, withTestClock } from "./clockSql.ts";
import { seeded } from "./random.ts";

export type Row = Record<string, unknown>;

export interface TestPipeline {
  /** The same verdict as `POST /ingest/<model>`; a refused request (unknown model, a body over a limit...) throws its error. */
  ingest(model: string, records: unknown): Promise<IngestVerdict>;
  /** Resolves once every accepted record has gone through every function and table writer. */
  settle(timeoutMs?: number): Promise<void>;
  /** Rows as `GET /views/<name>` returns them in `data` (settled first). */
  view(name: string, params?: Readonly<Record<string, string | number | boolean | null | readonly unknown[]>>): Promise<Row[]>;
  /** Rows as `POST /query` returns them in `data` (settled first). */
  query(sql: string, params?: Readonly<Record<string, unknown>>): Promise<Row[]>;
  /** The rows of `igloo_dead_letters`, oldest first (settled first). */
  deadLetters(): Promise<Row[]>;
  /**
   * Throws, with the rows that differ, unless every incremental view equals its SELECT run
   * from scratch: on this pipeline, and on a fresh one fed everything this one was fed
   * again, in random batches (`seed`, default random; the error names it).
   */
  checkViews(options?: { readonly seed?: number; readonly maxBatch?: number }): Promise<void>;
  /**
   * Ingests a fixture file (a path relative to the project: a JSON array or object, or
   * NDJSON for `.ndjson`/`.jsonl`, where a bad line is that record's error), as
   * `POST /ingest/<model>` with that body would.
   */
  load(model: string, file: string): Promise<IngestVerdict>;
  /** A view's rows in a stable order (sorted by their JSON), for `toMatchSnapshot()` when the view has no ORDER BY. */
  snapshot(name: string, params?: Readonly<Record<string, string | number | boolean | null | readonly unknown[]>>): Promise<Row[]>;
  readonly clock: TestClock;
  /** What the pipeline logged (warnings and errors: a function that threw, a held change...). */
  logs(): readonly string[];
  close(): Promise<void>;
}

let pipelines = 0;
/** What the process's one chDB can do, asked by the first pipeline, so later ones start faster. */
let engineFacts: { capabilities: StoreCapabilities; catalog: Promise<EngineCatalog> } | undefined;
/** Reads a test makes at once; each is a chDB session to open. */
const TEST_LIMITS: ServerLimits = { ...DEFAULT_LIMITS, query: { ...DEFAULT_LIMITS.query, concurrency: 2 } };

/** The nearest folder from `start` upwards that has a `datamodels/` folder. */
export function findProjectRoot(start: string): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (isProject(dir)) return dir;
    if (dirname(dir) === dir) {
      throw new IglooError("E_NOT_A_PROJECT", `no Igloo project (a folder with datamodels/) in ${start} or above it.`, {
        hint: "Run the tests from the project's folder, or pass createTestPipeline({ root }).",
      });
    }
  }
}

function memoryLogger(lines: string[]): Logger {
  const keep = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { info: () => {}, warn: keep("warn"), error: keep("error") };
}

/** The first problem of a convention folder, thrown as the build would report it. */
function firstProblem(errors: readonly Error[]): void {
  if (errors.length > 0) throw errors[0]!;
}

export async function createTestPipeline(options: TestPipelineOptions = {}): Promise<TestPipeline> {
  const root = options.root === undefined ? findProjectRoot(process.cwd()) : resolve(options.root);
  const project = loadProject(root);
  firstProblem(project.errors);
  const models = project.models.models;
  const parsedViews = parseViews(filesIn(root, "views", ".sql"));
  firstProblem(parsedViews.errors);

  const id = `igloo_test_${process.pid}_${++pipelines}`;
  const dir = mkdtempSync(join(tmpdir(), "igloo-test-log-"));
  const lines: string[] = [];
  const logger = memoryLogger(lines);
  const stream = await EmbeddedLog.open({ dir: join(dir, "stream") });
  let store: ChdbStore;
  try {
    store = await ChdbStore.open({ path: processChdbPath(), database: id, limits: TEST_LIMITS.query, ...(engineFacts ? { capabilities: engineFacts.capabilities } : {}) });
  } catch (error) {
    await stream.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const toMs = (time: Date | string | number): number => {
    const ms = time instanceof Date ? time.getTime() : typeof time === "number" ? time : Date.parse(time);
    if (!Number.isFinite(ms)) throw new IglooError("E_CLOCK", `clock: ${String(time)} is not a time; pass a Date, epoch milliseconds or ISO-8601 text.`);
    return ms;
  };
  let stopped = options.now === undefined ? undefined : toMs(options.now);
  const now = () => stopped ?? Date.now();
  // What the clock table holds (views and queries read it, clockSql.ts): written before
  // each read when the clock moved, one write at a time.
  let written: number | undefined;
  let writing = Promise.resolve();
  const syncClock = () =>
    (writing = writing.then(async () => {
      const want = stopped;
      if (want === written) return;
      for (const statement of setClockStatements(want)) await store.exec(statement);
      written = want;
    }));
  const clock: TestClock = {
    now: () => new Date(now()),
    set: (time) => void (stopped = toMs(time)),
    advance: (ms) => void (stopped = now() + ms),
  };
  const runtime = assembleRuntime({ stream, store }, logger, TEST_LIMITS, { allowDestructive: true, writer: { maxWaitMs: 5 }, clock: now }, engineFacts ? { catalog: engineFacts.catalog } : {});
  const close = async () => {
    await runtime.functions.close();
    await runtime.pipeline.close();
    runtime.subscriptions.closeAll();
    await stream.close();
    await store.exec(`DROP DATABASE IF EXISTS ${quoteIdent(id)}`).catch(() => {});
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await store.exec(CREATE_CLOCK_TABLE);
    await start(runtime, root, models, parsedViews, options);
    if (!engineFacts) {
      // Asked now, on this pipeline's store, while it is open: later pipelines reuse the
      // answers (the dedup probe too, though this project may have no incremental view).
      const catalog = runtime.views.catalog();
      await (await catalog).dedupMode();
      engineFacts = { capabilities: store.capabilities, catalog };
    }
  } catch (error) {
    await close();
    throw error;
  }

  const app = createApp({ ...runtime.app, gate: new RequestGate({ allowedHosts: [], corsOrigins: [], loopbackOrigins: true }) });
  const ask = async (path: string, init?: RequestInit): Promise<unknown> => {
    const response = await app.handle(new Request(`http://localhost${path}`, init));
    const text = await response.text();
    const body = text === "" ? {} : (JSON.parse(text) as { error?: string });
    if (response.status !== 200 || body.error !== undefined) {
      throw new IglooError("E_TEST_PIPELINE", `${init?.method ?? "GET"} ${path.replace(/\?.*$/, "")} answered ${response.status}: ${body.error ?? text}`);
    }
    return body;
  };
  const postJson = (path: string, body: unknown) => ask(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const query = async (text: string, params?: Readonly<Record<string, unknown>>) => {
    await settle(runtime, stream);
    await syncClock();
    const sql = withTestClock(text);
    return ((await postJson("/query", params === undefined ? { sql } : { sql, params })) as { data: Row[] }).data;
  };
  let closed: Promise<void> | undefined;
  /** Everything ingested, in order, to feed again in other batches (checkViews). */
  const fed: { readonly model: string; readonly records: readonly unknown[]; readonly at: number }[] = [];
  const views = runtime.views;
  const checkTarget = (pipeline: TestPipeline): ViewCheckTarget => ({
    incremental: () => views.names().filter((name) => views.kind(name) === "incremental"),
    sql: (name) => views.sql(name) ?? "",
    view: (name) => pipeline.view(name),
    query: (sql) => pipeline.query(sql),
  });

  const pipeline: TestPipeline = {
    async ingest(model, records) {
      const verdict = (await postJson(`/ingest/${encodeURIComponent(model)}`, records)) as IngestVerdict;
      fed.push({ model, records: Array.isArray(records) ? records : [records], at: now() });
      return verdict;
    },
    settle: (timeoutMs) => settle(runtime, stream, timeoutMs),
    async view(name, params) {
      await settle(runtime, stream);
      await syncClock();
      // As the generated client sends them: scalars as text, arrays as JSON, null left out.
      return ((await ask(`/views/${encodeURIComponent(name)}${queryString(params)}`)) as { data: Row[] }).data;
    },
    query,
    deadLetters: () => query(`SELECT * FROM ${quoteIdent(DEAD_LETTER_TABLE)} ORDER BY ts`),
    async checkViews({ seed = Math.floor(Math.random() * 2 ** 31), maxBatch = 50 } = {}) {
      const problems = await viewDiffs(checkTarget(pipeline), "as this test ingested it");
      const next = seeded(seed);
      // Each model's records in random batches, in order; the models' batches interleaved.
      // Each record keeps the time it was ingested at, for its @default(now()) fields: a
      // batch is cut where that time changes.
      const byModel = new Map<string, { record: unknown; at: number }[]>();
      for (const { model, records, at } of fed) {
        const list = byModel.get(model) ?? [];
        for (const record of records) list.push({ record, at });
        byModel.set(model, list);
      }
      const pending = [...byModel].map(([model, records]) => ({ model, batches: randomBatches(records, next, maxBatch).flatMap(sameTime) }));
      const replay = await createTestPipeline({ ...options, now: 0 });
      try {
        let batches = 0;
        for (let left = pending.filter((p) => p.batches.length > 0); left.length > 0; left = left.filter((p) => p.batches.length > 0)) {
          const from = left[Math.floor(next() * left.length)]!;
          const batch = from.batches.shift()!;
          replay.clock.set(batch[0]!.at);
          await replay.ingest(from.model, batch.map((b) => b.record));
          batches++;
        }
        problems.push(...(await viewDiffs(checkTarget(replay), `fed again in ${batches} random batches of 1 to ${maxBatch} records, seed ${seed}`)));
      } finally {
        await replay.close();
      }
      if (problems.length > 0) throw mismatch(problems, seed);
    },
    async load(model, file) {
      const text = readFileSync(resolve(root, file), "utf8");
      const ndjson = /\.(ndjson|jsonl)$/i.test(file);
      const verdict = (await ask(`/ingest/${encodeURIComponent(model)}`, { method: "POST", headers: { "content-type": ndjson ? "application/x-ndjson" : "application/json" }, body: text })) as IngestVerdict;
      const records = ndjson ? text.split("\n").filter((line) => line.trim() !== "").map((line) => parseOr(line)) : ([] as unknown[]).concat(JSON.parse(text));
      fed.push({ model, records, at: now() });
      return verdict;
    },
    async snapshot(name, params) {
      const rows = await pipeline.view(name, params);
      return rows.map((row) => [JSON.stringify(row), row] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
    },
    clock,
    logs: () => [...lines],
    close: () => (closed ??= close()),
  };
  return pipeline;
}

async function start(
  runtime: ProjectRuntime,
  root: string,
  models: Parameters<ProjectRuntime["pipeline"]["apply"]>[0],
  parsedViews: ReturnType<typeof parseViews>,
  options: TestPipelineOptions,
): Promise<void> {
  const { pipeline, functions, views } = runtime;
  await pipeline.apply(models);
  if (options.functions !== false) {
    // Functions are bundled against the project's generated library in .igloo/lib, which
    // `igloo test` (and every other igloo command) writes first.
    const loaded = await loadFunctions(root, models);
    firstProblem(loaded.errors);
    await functions.apply(loaded.functions);
  }
  const clocked = parsedViews.views.map((view) => ({ ...view, sql: withTestClock(view.sql) }));
  const report = await views.apply(clocked, models, { pauseWriter: (table) => pipeline.pauseWriter(table) });
  firstProblem(report.errors);
}

/**
 * Until nothing moves: every table writer and every function's group has committed what
 * its topic held when looked at, and no topic grew meanwhile (a function's outputs and
 * dead letters are appends of their own).
 */
async function settle(runtime: ProjectRuntime, stream: Stream, timeoutMs = 30_000): Promise<void> {
  const { pipeline, functions } = runtime;
  const deadline = Date.now() + timeoutMs;
  const topicOf = (model: string) => pipeline.target(model)?.topic ?? model;
  const readers = [
    { topic: DEAD_LETTER_TOPIC, group: writerGroup(DEAD_LETTER_TOPIC), what: "the dead-letter writer" },
    ...pipeline.models().filter((m) => !m.streamOnly).map((m) => ({ topic: topicOf(m.name), group: writerGroup(topicOf(m.name)), what: `the table writer of ${m.table}` })),
    ...functions.groups().map((g) => ({ topic: topicOf(g.topic), group: g.group, what: `function group ${g.group}` })),
  ];
  const topics = [...new Set(readers.map((r) => r.topic))];
  const ends = async () => new Map(await Promise.all(topics.map(async (topic) => [topic, await stream.endOffsets(topic)] as const)));
  const same = (a: Map<string, ReadonlyMap<number, number>>, b: Map<string, ReadonlyMap<number, number>>) =>
    [...a].every(([topic, offsets]) => [...offsets].every(([partition, end]) => b.get(topic)?.get(partition) === end));
  for (;;) {
    const goal = await ends();
    const behind = await waitForGroups(stream, readers.map((r) => ({ ...r, ends: goal.get(r.topic) ?? new Map() })), deadline - Date.now(), 2);
    if (behind !== undefined) {
      throw new IglooError("E_NOT_SETTLED", `the pipeline did not settle within ${timeoutMs} ms: ${behind}.`, {
        hint: "A writer or function that keeps failing says why in pipeline.logs().",
      });
    }
    if (same(goal, await ends())) return;
  }
}

/** A line's JSON value, or the line itself (fed again, it is refused again, as it was). */
function parseOr(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return line;
  }
}

/** A batch cut where its records' ingest time changes. */
function sameTime<T extends { readonly at: number }>(batch: readonly T[]): T[][] {
  const runs: T[][] = [];
  for (const item of batch) {
    const last = runs.at(-1);
    if (last !== undefined && last[0]!.at === item.at) last.push(item);
    else runs.push([item]);
  }
  return runs;
}
