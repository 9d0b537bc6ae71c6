/**
 * The HTTP surface (see CONTRACT.md): ingest, query, views and health. Handlers are thin:
 * they turn requests into calls on the ingest path, the reads and the views, and every
 * failure into a JSON answer with a status that tells the client what to do. Nothing a
 * client sends can take the server down: unexpected errors become 500s and are logged.
 *
 * Before any route, the gate (gate.ts) refuses requests for foreign host names and from
 * web pages of origins not allowed; then each route checks the key its role needs
 * (production, or dev listening beyond loopback). Only `/health` and `/ready` are open,
 * and what a page loads before it can send a key: the dashboard elements' module and the
 * dashboards themselves (dashboards.ts), which hold no data.
 */
import { Elysia } from "elysia";
import { ingest } from "../ingest/ingest.ts";
import { BodyError, parseBody } from "../ingest/parseBody.ts";
import type { ServerLimits } from "../limits.ts";
import type { Logger } from "../observability/logger.ts";
import { SchemaChangeWaitError, type Pipeline } from "../pipeline/pipeline.ts";
import type { UserReads } from "../query/userReads.ts";
import { StreamUnavailableError, type Stream } from "../stream/stream.ts";
import type { ViewManager } from "../views/viewManager.ts";
import type { ReplicaHealth } from "../store/store.ts";
import { METRICS_CONTENT_TYPE, type IglooMetrics } from "../observability/metrics.ts";
import type { KeyRing, Need } from "./auth.ts";
import { TokenError, waitForTokens } from "../ingest/tokens.ts";
import { bodyFormat, readBody } from "./body.ts";
import { IdempotencyCache } from "./idempotency.ts";
import { recordIdPrefix } from "../ingest/recordIds.ts";
import type { ReplayReport, ReplayRequest } from "../deadLetters/replay.ts";
import type { RequestGate } from "./gate.ts";
import { rowsAnswer } from "./rowsAnswer.ts";
import { EVENT_STREAM_HEADERS, eventConnection } from "../live/eventStream.ts";
import type { LiveSubscription, ViewSubscriptions } from "../live/subscriptions.ts";
import type { Feed } from "../live/feed.ts";
import { codedAnswer, errorAnswer, errorResponse, json, JSON_HEADERS, STATUS_OF_KIND } from "./errorStatus.ts";
import { dashboardResponse, moduleResponse, reloadStream, viewColumnsResponse, type DashboardFolder } from "./dashboards.ts";
import { IglooError } from "../../conventions/errors.ts";

/** Views one shared stream may follow; each also counts against the client's subscriptions. */
const MAX_SHARED = 100;
const encoder = new TextEncoder();

export interface AppOptions {
  readonly pipeline: Pipeline;
  readonly stream: Stream;
  /** Every read on behalf of a client: limited, cancellable, policy-checked. */
  readonly reads: UserReads;
  /** `columns` and `params` describe the views to the dashboard elements (`GET /_igloo/views/<name>/columns`). */
  readonly views?: Pick<ViewManager, "resolve"> & Partial<Pick<ViewManager, "columns" | "params">>;
  /** Host, Origin and CORS rules. */
  readonly gate: RequestGate;
  /** `GET /openapi.json`. */
  readonly openapi?: () => unknown;
  /** Live pushes for `GET /views/<name>/events`. */
  readonly subscriptions?: ViewSubscriptions;
  /** Every request but health checks needs a key of the right role (production, and dev beyond loopback). */
  readonly keys?: KeyRing;
  /** `GET /ready`: true once the process does its job, false while it starts or stops. */
  readonly ready?: () => boolean;
  /** The ClickHouse replicas and which are up, shown by `/ready` (several replicas only). */
  readonly replicas?: () => readonly ReplicaHealth[];
  /** False for worker processes: only health, readiness and metrics are served. */
  readonly api?: boolean;
  /** `GET /_igloo/components.js`: the dashboard elements (packages/components) as one ES module. */
  readonly components?: () => string;
  /** `GET /dashboards/<name>`: the project's dashboards; a live folder reloads its pages on save. */
  readonly dashboards?: DashboardFolder;
  /** `GET /metrics`: Prometheus text. */
  readonly metrics?: () => Promise<string>;
  /** Counts of ingested records and requests, for `/metrics`. */
  readonly observe?: Pick<IglooMetrics, "ingestRecords" | "ingestRequests">;
  readonly logger: Logger;
  readonly limits: ServerLimits;
  /** `POST /dead-letters/replay` (admin): feeds a source's dead letters again after a fix. */
  readonly replay?: (request: ReplayRequest) => Promise<ReplayReport>;
}

/** `client`: who asks, for per-client limits and scopes: the key's digest, or the address. */
type Access = { readonly ok: true; readonly client: () => string } | { readonly ok: false; readonly response: Response };

export function createApp(options: AppOptions) {
  const { gate, limits, logger } = options;
  const idempotency = new IdempotencyCache();
  /** Models are counted by name only when they exist: a metric series per unknown name would grow forever. */
  const modelLabel = (name: string) => (options.pipeline.target(name) ? name : "(unknown)");
  const knownTopic = (topic: string) => options.pipeline.target(topic)?.topic === topic;

  /** Whether the request's key grants `need`. */
  const access = (request: Request, need: Need): Access => {
    if (options.api === false) {
      return { ok: false, response: errorResponse(404, "this process runs the worker role: send API requests to an ingest process") };
    }
    if (!options.keys) return { ok: true, client: () => `address:${app.server?.requestIP(request)?.address ?? ""}` };
    const verdict = options.keys.authorize(request.headers.get("authorization"), need);
    return verdict.ok ? { ok: true, client: () => `key:${verdict.key}` } : { ok: false, response: errorAnswer(verdict.error) };
  };

  /**
   * A route for admin keys. Async and awaiting: Elysia guesses from a handler's source
   * whether to await it, and a rejection it does not await escapes onError (app.handle
   * throws, a server answers 500).
   */
  const adminOnly =
    (handle: (request: Request) => Promise<Response>) =>
    async ({ request }: { request: Request }): Promise<Response> => {
      const allowed = access(request, "admin");
      return allowed.ok ? await handle(request) : allowed.response;
    };

  async function handleIngest(modelName: string, request: Request, client: () => string): Promise<Response> {
    const target = options.pipeline.target(modelName);
    if (target?.model.internal) {
      return errorResponse(404, `model \`${modelName}\` is internal (@@internal): only the project's functions write it, so it has no ingest endpoint. Send the records its functions read instead, or remove @@internal.`);
    }
    if (!target) {
      if (options.pipeline.isWaiting(modelName)) {
        return errorResponse(
          503,
          `model \`${modelName}\` waits for a schema change to its table that would drop or rewrite data; nothing was stored. Confirm it in the igloo dev terminal (type y), or undo the edit.`,
          { "retry-after": "5" },
        );
      }
      const known = options.pipeline.models().filter((m) => !m.internal).map((m) => m.name);
      return errorResponse(404, `unknown model \`${modelName.slice(0, 100)}\`; this project has ${known.length ? known.map((n) => `\`${n}\``).join(", ") : "no models"}`);
    }
    try {
      const format = bodyFormat(request.headers.get("content-type"));
      const text = await readBody(request, limits.maxBodyBytes, limits.bodyTimeoutMs);
      const key = request.headers.get("idempotency-key");
      // Scoped by the caller's key and the model: one client cannot replay or block another's.
      const scope = `${client()}\u0000${modelName}`;
      const candidates = parseBody(text, format, limits.maxRecords);
      const run = async (): Promise<string> => {
        // The model's current target, waiting while its table is altered (pipeline.ts).
        const result = await options.pipeline.use(modelName, (current) =>
          ingest(options.stream, current, candidates, {
            maxInvalid: limits.maxInvalidRecords,
            ...(key === null ? {} : { recordIdPrefix: recordIdPrefix(scope, key, text) }),
          }),
        );
        if (result === undefined) throw new SchemaChangeWaitError(modelName, 0);
        options.observe?.ingestRecords.inc({ model: modelName, result: "accepted" }, result.accepted);
        options.observe?.ingestRecords.inc({ model: modelName, result: "rejected" }, result.rejected);
        return JSON.stringify(result);
      };
      const { answer, replayed } = key === null ? { answer: await run(), replayed: false } : await idempotency.run(scope, key, text, run);
      return new Response(answer, { status: 200, headers: replayed ? { ...JSON_HEADERS, "idempotent-replayed": "true" } : JSON_HEADERS });
    } catch (error) {
      if (error instanceof StreamUnavailableError && error.maybeStored) {
        logger.warn(`ingest into ${modelName}: outcome unknown: ${error.message}`);
        const resend =
          request.headers.get("idempotency-key") === null
            ? "A resend may store them twice: send an idempotency-key header with each batch, and a resend with the same key and body is stored once."
            : "Resend the same body with the same idempotency-key: it is stored exactly once, whichever ingest process takes it.";
        return errorAnswer(error, `the stream did not confirm the write (${error.message}); the records may or may not be stored. ${resend}`);
      }
      if (error instanceof StreamUnavailableError) {
        logger.warn(`ingest into ${modelName} refused: ${error.message}`);
        return errorAnswer(error, `the stream cannot take writes right now (${error.message}); nothing was stored, retry`);
      }
      const answer = codedAnswer(error);
      if (answer) return answer;
      throw error;
    }
  }

  /**
   * Honours `x-igloo-after: <token>[,<token>...]` (and `x-igloo-wait-ms`): answers only
   * once those ingested records are queryable. Returns an error answer when they are not in time.
   */
  async function awaitFreshness(request: Request): Promise<Response | undefined> {
    const after = request.headers.get("x-igloo-after");
    if (!after) return undefined;
    const wait = Number(request.headers.get("x-igloo-wait-ms") ?? Math.min(5000, limits.maxWaitMs));
    if (!Number.isFinite(wait) || wait < 0) return errorResponse(400, "x-igloo-wait-ms must be a number of milliseconds");
    if (wait > limits.maxWaitMs) return errorResponse(400, `x-igloo-wait-ms may be at most ${limits.maxWaitMs} (IGLOO_MAX_WAIT_MS), got ${wait}`);
    try {
      if (await waitForTokens(options.stream, after, wait, knownTopic)) return undefined;
    } catch (error) {
      if (error instanceof TokenError) return errorAnswer(error);
      throw error;
    }
    return errorResponse(504, `the records of x-igloo-after were not queryable within ${wait} ms; the table writers are behind (see /metrics igloo_consumer_lag). Retry, or raise x-igloo-wait-ms.`);
  }

  function withCors(request: Request, response: unknown): Response | undefined {
    if (!(response instanceof Response)) return undefined;
    const headers = gate.corsHeaders(request);
    if (headers) for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
    return response;
  }

  const describeFailure = (error: unknown): string => (error instanceof IglooError ? error.publicMessage : "the read failed; retry");

  async function handleQuery(request: Request): Promise<Response> {
    try {
      if (bodyFormat(request.headers.get("content-type")) !== "json") return errorResponse(415, "send the query as content-type application/json");
    } catch (error) {
      if (error instanceof BodyError) return errorResponse(415, 'send the query as content-type application/json: { "sql": "SELECT ...", "params": { ... } }');
      throw error;
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(request, Math.min(limits.maxBodyBytes, 1024 * 1024), limits.bodyTimeoutMs));
    } catch (error) {
      if (error instanceof BodyError) return errorAnswer(error);
      return errorResponse(400, 'the body must be JSON: { "sql": "SELECT ...", "params": { ... } }');
    }
    const stale = await awaitFreshness(request);
    if (stale) return stale;
    const { sql, params } = (body ?? {}) as { sql?: unknown; params?: unknown };
    if (typeof sql !== "string" || sql.trim() === "") return errorResponse(400, "`sql` must be a non-empty string");
    if (params !== undefined && (typeof params !== "object" || params === null || Array.isArray(params))) {
      return errorResponse(400, "`params` must be an object of {name:Type} placeholder values");
    }
    const read = await options.reads.statement({ sql, params: params as Record<string, unknown> | undefined, signal: request.signal });
    return rowsAnswer(read, { meta: true, headers: JSON_HEADERS, describe: describeFailure });
  }

  async function handleReplay(request: Request): Promise<Response> {
    if (!options.replay) return errorResponse(404, "this server cannot replay dead letters");
    let body: { source?: unknown; since?: unknown };
    try {
      if (bodyFormat(request.headers.get("content-type")) !== "json") return errorResponse(415, "send content-type application/json");
      body = (JSON.parse(await readBody(request, 64 * 1024, limits.bodyTimeoutMs)) ?? {}) as typeof body;
    } catch (error) {
      if (error instanceof BodyError) return errorAnswer(error);
      return errorResponse(400, 'the body must be JSON: { "source": "<model or function>", "since": "<ISO-8601 time>" }');
    }
    if (typeof body.source !== "string" || body.source === "") return errorResponse(400, "`source` must be the name of a model or function");
    if (body.since !== undefined && typeof body.since !== "string") return errorResponse(400, "`since` must be an ISO-8601 time");
    // A failure is answered by onError, as any route's.
    const report = await options.replay({ source: body.source, ...(body.since === undefined ? {} : { since: body.since }) });
    logger.info(`replayed ${report.read} dead letters of ${report.source}: ${report.refed} fed again, ${report.refusedAgain} refused again`);
    return json(200, report);
  }

  async function handleView(name: string, request: Request): Promise<Response> {
    if (!options.views) return errorResponse(404, "this server has no views");
    const stale = await awaitFreshness(request);
    if (stale) return stale;
    const statement = options.views.resolve(name, Object.fromEntries(new URL(request.url).searchParams));
    const read = await options.reads.view({ ...statement, signal: request.signal });
    return rowsAnswer(read, { meta: false, headers: JSON_HEADERS, describe: describeFailure });
  }

  /** Server-sent events: the view's rows now, then whenever they change. */
  async function handleEvents(name: string, request: Request, client: () => string): Promise<Response> {
    const subscriptions = options.subscriptions;
    if (!options.views || !subscriptions) return errorResponse(404, "this server has no views");
    const params = Object.fromEntries(new URL(request.url).searchParams);
    const connection = eventConnection(request.signal);
    const sink = { offer: (feed: Feed) => connection.send("rows", () => feed.ownFrame()), end: () => connection.end() };
    // A view that does not exist or a parameter at fault is refused (thrown) before subscribing.
    const subscription = await subscriptions.subscribe(name, params, client(), sink, request.headers.get("last-event-id") ?? undefined);
    connection.onClose(() => subscription.close());
    return new Response(connection.body, { headers: EVENT_STREAM_HEADERS });
  }

  /**
   * A page's shared stream: several views over one connection (a browser holds 6 per
   * server), each `s=<view>?<its parameters>`. The first event, `feeds`, gives each its
   * feed's tag, or why it cannot be followed; then `rows` and `error` events name the
   * feed. Refused whole (429, 503) only when the server cannot take them all.
   */
  async function handleShared(request: Request, client: () => string): Promise<Response> {
    const subscriptions = options.subscriptions;
    if (!options.views || !subscriptions) return errorResponse(404, "this server has no views");
    const specs = new URL(request.url).searchParams.getAll("s");
    if (specs.length === 0 || specs.length > MAX_SHARED) {
      return errorResponse(400, `name 1 to ${MAX_SHARED} views, each as s=<view>?<parameters> (URL-encoded); got ${specs.length}`);
    }
    const connection = eventConnection(request.signal);
    const sink = { offer: (feed: Feed) => connection.send(feed.key, () => feed.sharedFrame()), end: () => connection.end() };
    const held: LiveSubscription[] = [];
    const feeds: ({ feed: string } | { status: number; error: string })[] = [];
    connection.send("feeds", () => encoder.encode(`event: feeds\ndata: ${JSON.stringify(feeds)}\n\n`));
    try {
      for (const spec of specs) {
        const at = spec.indexOf("?");
        const name = at < 0 ? spec : spec.slice(0, at);
        const params = Object.fromEntries(new URLSearchParams(at < 0 ? "" : spec.slice(at + 1)));
        try {
          const subscription = await subscriptions.subscribe(name, params, client(), sink);
          held.push(subscription);
          feeds.push({ feed: subscription.feed });
        } catch (error) {
          // A view that is not there or a parameter at fault spoils only its own element.
          if (!(error instanceof IglooError) || (error.kind !== "not_found" && error.kind !== "bad_input")) throw error;
          feeds.push({ status: STATUS_OF_KIND[error.kind], error: error.publicMessage });
        }
      }
    } catch (error) {
      for (const subscription of held) subscription.close();
      connection.end();
      throw error;
    }
    connection.onClose(() => held.forEach((s) => s.close()));
    return new Response(connection.body, { headers: EVENT_STREAM_HEADERS });
  }

  const app = new Elysia()
    .onRequest(({ request }) => {
      const refused = gate.check(request);
      if (refused) return errorResponse(refused.status, refused.message);
      // Preflight requests of browser clients: answered before routing.
      if (request.method !== "OPTIONS") return undefined;
      const headers = gate.corsHeaders(request);
      return headers ? new Response(null, { status: 204, headers }) : undefined;
    })
    .onAfterHandle(({ request, response }) => withCors(request, response))
    .onError(({ code, error, request }) => {
      // Errors skip onAfterHandle: an allowed page must still be able to read why it failed.
      if (code === "NOT_FOUND") return withCors(request, errorResponse(404, "no such endpoint; see GET /health, POST /ingest/<Model>, GET /views/<name>, POST /query"));
      if (code === "PARSE") return withCors(request, errorResponse(400, "the request body could not be parsed"));
      const coded = codedAnswer(error);
      if (coded) return withCors(request, coded);
      logger.error(`request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return withCors(request, errorResponse(500, "internal error; the request may be retried"));
    })
    .get("/health", () => json(200, { status: "ok" }))
    .get("/ready", () => {
      if (!(options.ready?.() ?? true)) return errorResponse(503, "not ready yet");
      // With several ClickHouse replicas: which are up; none up is not ready. By their place
      // in IGLOO_CLICKHOUSE_URL, not their host names: /ready answers without a key, and the
      // database's addresses are not for anyone who asks (/metrics, admin only, names them).
      const health = options.replicas?.();
      if (health === undefined) return json(200, { status: "ready" });
      const replicas = health.map(({ up, current }, i) => ({ replica: i + 1, up, current }));
      if (!replicas.some((r) => r.up)) return json(503, { status: "no ClickHouse replica is up", replicas });
      return json(200, { status: "ready", replicas });
    })
    .get("/openapi.json", ({ request }) => {
      const allowed = access(request, "any");
      if (!allowed.ok) return allowed.response;
      return options.openapi ? json(200, options.openapi()) : errorResponse(404, "no OpenAPI document here");
    })
    .get("/metrics", async ({ request }) => {
      // Worker processes serve metrics too, hence not through the API check.
      if (options.keys) {
        const verdict = options.keys.authorize(request.headers.get("authorization"), "admin");
        if (!verdict.ok) return errorAnswer(verdict.error);
      }
      return options.metrics ? new Response(await options.metrics(), { headers: { "content-type": METRICS_CONTENT_TYPE } }) : errorResponse(404, "no metrics here");
    })
    .post(
      "/ingest/:model",
      async ({ params, request }) => {
        const allowed = access(request, "ingest");
        const response = allowed.ok ? await handleIngest(params.model, request, allowed.client) : allowed.response;
        options.observe?.ingestRequests.inc({ model: modelLabel(params.model), status: String(response.status) });
        return response;
      },
      { parse: "none" },
    )
    .post("/query", adminOnly(handleQuery), { parse: "none" })
    .post("/dead-letters/replay", adminOnly(handleReplay), { parse: "none" })
    .get("/_igloo/live", async ({ request }) => {
      const allowed = access(request, "query");
      return allowed.ok ? await handleShared(request, allowed.client) : allowed.response;
    })
    .get("/views/:name/events", async ({ params, request }) => {
      const allowed = access(request, "query");
      return allowed.ok ? await handleEvents(params.name, request, allowed.client) : allowed.response;
    })
    .get("/views/:name", async ({ params, request }) => {
      const allowed = access(request, "query");
      return allowed.ok ? await handleView(params.name, request) : allowed.response;
    })
    .get("/_igloo/views/:name/columns", ({ params, request }) => {
      const allowed = access(request, "query");
      return allowed.ok ? viewColumnsResponse(options.views, params.name) : allowed.response;
    })
    // Web pages: no key (see the top of this file), but nothing on worker processes.
    .get("/_igloo/components.js", ({ request }) =>
      options.api === false || !options.components ? errorResponse(404, "no dashboard elements here") : moduleResponse(request, options.components()),
    )
    .get("/_igloo/reload", ({ request }) => reloadStream(options.api === false ? undefined : options.dashboards, request))
    .get("/dashboards/:name", ({ params }) => dashboardResponse(options.api === false ? undefined : options.dashboards, params.name));
  return app;
}

export type IglooApp = ReturnType<typeof createApp>;
