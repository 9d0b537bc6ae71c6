/**
 * What the dev console shows, read from the running parts: the models, functions and
 * views as they run (not as their files say: a file with an error keeps its last good
 * version running), and the counters and positions that make the map's rates and lag.
 *
 * Counters come from the `/metrics` rendering, parsed back, rather than from a second
 * set of counters: the console then shows exactly what Prometheus would scrape, and the
 * metrics module keeps no reader API for one caller. The cost is a parse of a few
 * hundred lines per status read, once a second while a console page is open.
 */
import type { FieldIR, ModelIR } from "../../conventions/datamodels/ir.ts";
import { describeType, fieldColumn, fieldSchema } from "../../conventions/datamodels/fieldTypes.ts";
import { typeName } from "../../conventions/datamodels/typeFaces.ts";
import type { FunctionInfo, ModelInfo, StatusInfo, ViewInfo } from "../../packages/console/protocol.ts";
import { DEAD_LETTER_TABLE, DEAD_LETTER_TOPIC } from "../deadLetters/deadLetters.ts";
import type { FunctionHost } from "../functions/functionHost.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import type { Stream } from "../stream/stream.ts";
import type { ViewManager } from "../views/viewManager.ts";
import { writerGroup } from "../writer/tableWriter.ts";

/** The running parts the console reads; nothing here changes them. */
export interface ConsoleParts {
  readonly pipeline: Pick<Pipeline, "models" | "projectModels" | "requestedModels" | "isWaiting" | "target">;
  readonly functions: Pick<FunctionHost, "describe">;
  readonly views: Pick<ViewManager, "names" | "kind" | "fallbackReason" | "sql" | "params" | "columns" | "sources" | "generation">;
  readonly stream: Pick<Stream, "committed">;
  readonly store: Pick<Store, "query" | "capabilities">;
  /** The `/metrics` text. */
  readonly metrics: () => Promise<string>;
}

/** A field's attributes in the words of its model file. */
function attributes(field: FieldIR): string[] {
  const words: string[] = [];
  if (field.id) words.push("@id");
  const fill = field.default;
  if (fill) words.push(fill.kind === "now" ? "@default(now())" : fill.kind === "uuid" ? "@default(uuid())" : `@default(${JSON.stringify(fill.value)})`);
  if (field.column !== field.name) words.push(`@map(${JSON.stringify(field.column)})`);
  if (field.list) words.push("list");
  if (field.optional) words.push("optional");
  return words;
}

export function describeModel(model: ModelIR, parts: Pick<ConsoleParts, "pipeline" | "store">): ModelInfo {
  const caps = parts.store.capabilities;
  const now = model.fields.find((f) => f.default?.kind === "now" && f.type.kind === "datetime" && !f.list);
  return {
    name: model.name,
    table: model.table,
    topic: parts.pipeline.target(model.name)?.topic ?? model.name,
    group: writerGroup(model.name),
    streamOnly: model.streamOnly === true,
    internal: model.internal === true,
    waiting: parts.pipeline.isWaiting(model.name),
    ...(model.doc ? { doc: model.doc } : {}),
    file: model.source.file,
    fields: model.fields.map((f) => ({
      name: f.name,
      column: f.column,
      type: describeType(f),
      columnType: typeName(fieldColumn(f, caps)),
      schema: fieldSchema(f, "input"),
      attributes: attributes(f),
      optional: f.optional || f.default !== undefined,
      ...(f.doc ? { doc: f.doc } : {}),
    })),
    orderBy: model.orderBy,
    ...(model.partitionBy ? { partitionBy: model.partitionBy } : {}),
    engine: model.engine.kind === "ReplacingMergeTree" && model.engine.version ? `ReplacingMergeTree(${model.engine.version})` : model.engine.kind,
    ...(model.key ? { key: model.key } : {}),
    ...(now ? { ingestTime: now.column } : {}),
  };
}

/** The running models, then those that wait for a held change before their first version runs. */
export function describeModels(parts: Pick<ConsoleParts, "pipeline" | "store">): ModelInfo[] {
  // Igloo's own events are drawn on the home page, not listed as one of the project's models.
  const running = parts.pipeline.projectModels();
  const names = new Set(running.map((m) => m.name));
  const waiting = parts.pipeline.requestedModels().filter((m) => !names.has(m.name) && parts.pipeline.isWaiting(m.name));
  return [...running, ...waiting].map((m) => describeModel(m, parts));
}

export function describeFunctions(parts: Pick<ConsoleParts, "functions">): FunctionInfo[] {
  return parts.functions.describe().sort((a, b) => a.name.localeCompare(b.name));
}

export function describeViews(parts: Pick<ConsoleParts, "views">): ViewInfo[] {
  const { views } = parts;
  return views.names().map((name) => {
    const reason = views.fallbackReason(name);
    return {
      name,
      kind: views.kind(name) ?? "plain",
      ...(reason ? { fallbackReason: reason } : {}),
      sql: views.sql(name) ?? "",
      params: (views.params(name) ?? []).map((p) => ({ name: p.name, type: typeName(p.type) })),
      columns: (views.columns(name) ?? []).map((c) => ({ name: c.name, type: c.type })),
      sources: views.sources(name) ?? [],
    };
  });
}

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a Prometheus text rendering (metrics.ts writes it; no timestamps, no exemplars). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? "").matchAll(LABEL)) labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Counters and lag now, and dead letters by source; the browser turns two of these into rates. */
export async function readStatus(parts: ConsoleParts): Promise<StatusInfo> {
  const [text, letters] = await Promise.all([
    parts.metrics(),
    parts.store.query<{ source: string; c: string }>(`SELECT source, count() AS c FROM ${quoteIdent(DEAD_LETTER_TABLE)} GROUP BY source`).then(
      (result) => result.rows,
      // The table is created with the pipeline: before that, and if the engine is away, there are none to show.
      () => [],
    ),
  ]);
  const ingest: Record<string, { accepted: number; rejected: number }> = {};
  const writerRows: Record<string, number> = {};
  const functionRecords: Record<string, number> = {};
  const functionErrors: Record<string, number> = {};
  const lag: Record<string, number> = {};
  let liveSubscribers = 0;
  for (const { name, labels, value } of parseSamples(text)) {
    if (name === "igloo_ingest_records_total" && labels.model) {
      const counts = (ingest[labels.model] ??= { accepted: 0, rejected: 0 });
      if (labels.result === "accepted" || labels.result === "rejected") counts[labels.result] += value;
    } else if (name === "igloo_writer_rows_total" && labels.table) writerRows[labels.table] = value;
    else if (name === "igloo_function_records_total" && labels.function) functionRecords[labels.function] = value;
    else if (name === "igloo_function_errors_total" && labels.function) functionErrors[labels.function] = value;
    else if (name === "igloo_consumer_lag" && labels.group) lag[labels.group] = value;
    else if (name === "igloo_live_subscribers") liveSubscribers = value;
  }
  const deadLetters = Object.fromEntries(letters.map((row) => [row.source, Number(row.c)]));
  return { at: Date.now(), ingest, writerRows, functionRecords, functionErrors, lag, deadLetters, liveSubscribers };
}

/**
 * Where every group stands, as one string: when it changes, something reached a table (or
 * a function, or the dead letters) and the console's pages read again. Committed offsets
 * only: a record appended but not yet written would make a page read a table that does
 * not hold it yet, then again when it does. From memory on the embedded log; a few
 * requests on Kafka.
 */
export async function positions(parts: Pick<ConsoleParts, "pipeline" | "functions" | "stream" | "views">): Promise<string> {
  const groups = [
    { topic: DEAD_LETTER_TOPIC, group: writerGroup(DEAD_LETTER_TOPIC) },
    ...parts.pipeline.models().filter((m) => !m.streamOnly).map((m) => ({ topic: m.name, group: writerGroup(m.name) })),
    ...parts.functions.describe().map((f) => ({ topic: f.from, group: f.group })),
  ];
  const marks = await Promise.all(
    groups.map(async ({ topic, group }) => {
      // A topic not created yet has no position: the mark says so, and changes once it has one.
      const committed = await parts.stream.committed(topic, group).catch(() => undefined);
      return `${group}:${committed ? [...committed.values()].map((c) => c.offset).join(",") : "-"}`;
    }),
  );
  return `${parts.views.generation()};${marks.join(";")}`;
}
