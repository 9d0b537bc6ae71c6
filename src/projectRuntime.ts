/**
 * The parts a running project is made of, assembled the same way for `igloo dev` and
 * `igloo start`: the pipeline (topics, tables, writers), the functions, the views, live
 * subscriptions and metrics, plus what the HTTP app needs from them. The commands add
 * only what differs: where the conventions come from, and how the app is exposed.
 */
import { replayDeadLetters } from "../runtime/deadLetters/replay.ts";
import { FunctionHost } from "../runtime/functions/functionHost.ts";
import type { ServerLimits } from "../runtime/limits.ts";
import type { Logger } from "../runtime/observability/logger.ts";
import { Pipeline, type PipelineOptions } from "../runtime/pipeline/pipeline.ts";
import { UserReads } from "../runtime/query/userReads.ts";
import type { AppOptions } from "../runtime/server/app.ts";
import { DEAD_LETTER_TABLE, DEAD_LETTER_TOPIC } from "../runtime/deadLetters/deadLetters.ts";
import { ViewSubscriptions } from "../runtime/live/subscriptions.ts";
import { ViewManager } from "../runtime/views/viewManager.ts";
import { ingest } from "../runtime/ingest/ingest.ts";
import type { IglooMetrics } from "../runtime/observability/metrics.ts";
import { eventViews, EVENTS_MODEL, EVENTS_MODEL_NAME, Telemetry, telemetryExport } from "../runtime/observability/telemetry.ts";
import type { Engines } from "./engines.ts";
import { componentsModule } from "./generate/components.ts";
import { openApiDocument } from "./generate/openapi.ts";
import { describeViews } from "./generate/viewTypes.ts";
import { createObservability } from "./observability.ts";
import { VERSION } from "./version.ts";

export interface ProjectRuntime {
  readonly pipeline: Pipeline;
  readonly functions: FunctionHost;
  readonly views: ViewManager;
  readonly subscriptions: ViewSubscriptions;
  /** Igloo's own events (`igloo_events`), when asked for: `igloo dev` records its reloads and start-up in it. */
  readonly telemetry: Telemetry | undefined;
  /** The app options every role shares; commands add the gate, keys and exposure. */
  readonly app: Pick<AppOptions, "pipeline" | "stream" | "reads" | "views" | "logger" | "metrics" | "openapi" | "subscriptions" | "observe" | "limits" | "replay" | "components" | "replicas">;
  /** Functions first (they finish and commit the batch in hand), then writers, then engines. */
  close(): Promise<void>;
}

export function assembleRuntime(
  engines: Engines,
  logger: Logger,
  limits: ServerLimits,
  pipelineOptions: Pick<PipelineOptions, "allowDestructive" | "migrate" | "writers" | "writer" | "clock">,
  viewOptions: ConstructorParameters<typeof ViewManager>[1] = {},
  options: { readonly telemetry?: boolean } = {},
): ProjectRuntime {
  const { stream, store } = engines;
  const observability = createObservability(stream, store);
  let telemetry: Telemetry | undefined;
  const pipeline = new Pipeline({ stream, store, logger, ...pipelineOptions, metrics: observability.handles, ...(options.telemetry ? { builtinModels: [EVENTS_MODEL] } : {}) });
  if (options.telemetry) {
    const exportTo = telemetryExport();
    telemetry = new Telemetry({
      // Igloo's own path: the model's validation, its topic, its table writer.
      write: async (events) => {
        const target = pipeline.target(EVENTS_MODEL_NAME);
        if (target !== undefined) await pipeline.use(EVENTS_MODEL_NAME, (t) => ingest(stream, t, events));
      },
      onError: (error) => logger.warn(`could not record Igloo's own events: ${error instanceof Error ? error.message : String(error)}`),
      ...(exportTo ? { exportTo } : {}),
    });
  }
  const handles = telemetry ? countedHandles(observability.handles, telemetry) : observability.handles;
  const functions = new FunctionHost(stream, logger, (model) => pipeline.target(model), handles, (model, work) => pipeline.use(model, work), pipelineOptions.clock);
  observability.watch(pipeline, functions);
  const views = new ViewManager(store, { ...viewOptions, ...(options.telemetry ? { builtin: eventViews() } : {}) });
  const reads = new UserReads(store, limits.query, telemetry ? (ms) => telemetry!.count("query", "reads", 1, ms) : undefined);
  const subscriptions = new ViewSubscriptions({
    stream,
    tables: () => new Map([[DEAD_LETTER_TABLE, DEAD_LETTER_TOPIC], ...pipeline.models().filter((m) => !m.streamOnly).map((m) => [m.table, pipeline.target(m.name)?.topic ?? m.name] as const)]),
    views,
    reads,
    logger,
    maxSubscriptions: limits.maxSubscriptions,
    maxPerClient: limits.maxSubscriptionsPerClient,
    cpuShare: limits.liveCpuPercent / 100,
    // Never more than the user's reads may run at once: those must find a slot too.
    parallelReads: Math.min(store.backgroundReads, Math.max(1, limits.query.concurrency - 1)),
    metrics: observability.live,
  });
  return {
    pipeline,
    functions,
    views,
    subscriptions,
    app: {
      pipeline,
      stream,
      reads,
      limits,
      views,
      logger,
      metrics: () => observability.render(),
      components: componentsModule,
      ...(store.health ? { replicas: () => store.health!() } : {}),
      openapi: () => openApiDocument({ models: pipeline.models(), views: describeViews(views), version: VERSION }),
      subscriptions,
      observe: handles,
      replay: (request) =>
        replayDeadLetters({ store, stream, target: (model) => pipeline.target(model), functions, models: () => pipeline.models().map((m) => m.name) }, request),
    },
    telemetry,
    async close() {
      await telemetry?.close();
      await functions.close();
      await pipeline.close();
      await stream.close();
      await store.close();
    },
  };
}

/** The metric handles, also counting ingest, rejections and function errors per minute in Igloo's own events. */
function countedHandles(handles: IglooMetrics, telemetry: Telemetry): IglooMetrics {
  return {
    ...handles,
    ingestRecords: {
      inc(labels, by = 1) {
        handles.ingestRecords.inc(labels, by);
        telemetry.count(labels.result === "accepted" ? "ingest" : "rejected", labels.model, by);
      },
    },
    functionErrors: {
      inc(labels, by = 1) {
        handles.functionErrors.inc(labels, by);
        telemetry.count("function_error", labels.function, by);
      },
    },
  };
}
