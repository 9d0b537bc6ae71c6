/**
 * The HTTP surface (see CONTRACT.md): ingest, query and health. Handlers are thin: they
 * turn requests into calls on the ingest path and the store, and every failure into a
 * JSON answer with a status that tells the client what to do. Nothing a client sends
 * can take the server down: unexpected errors become 500s and are logged.
 */
import { Elysia } from "elysia";
import { IdempotencyCache, IdempotencyError } from "../ingest/idempotency.ts";
import { ingest } from "../ingest/ingest.ts";
import { BodyError, bodyFormat, parseBody } from "../ingest/parseBody.ts";
import type { Logger } from "../logger.ts";
import type { Pipeline } from "../pipeline.ts";
import { StoreError, type Store } from "../store/store.ts";
import { StreamUnavailableError, type Stream } from "../stream/stream.ts";
import type { ViewManager } from "../views/viewManager.ts";
import { METRICS_CONTENT_TYPE, type IglooMetrics } from "../metrics.ts";
import type { KeyRing, Role } from "./auth.ts";
import { tokenAfterAppend, TokenError, waitForTokens } from "./freshness.ts";
import type { ViewSubscriptions } from "./subscriptions.ts";

export interface AppOptions {
  readonly pipeline: Pipeline;
  readonly stream: Stream;
  readonly store: Store;
  readonly views?: Pick<ViewManager, "query">;
  /**
   * Origins a browser page may call this API from: `*` in dev, none unless configured in
   * production (IGLOO_CORS_ORIGINS).
   */
  readonly corsOrigins?: readonly string[];
  /** `GET /openapi.json`. */
  readonly openapi?: () => unknown;
  /** Live pushes for `GET /views/<name>/events`. */
  readonly subscriptions?: ViewSubscriptions;
  /** Production: every request but health checks needs a key of the right role. Dev: none. */
  readonly keys?: KeyRing;
  /** `GET /ready`: true once the process does its job, false while it starts or stops. */
  readonly ready?: () => boolean;
  /** False for worker processes: only health, readiness and metrics are served. */
  readonly api?: boolean;
  /** `GET /metrics`: Prometheus text. */
  readonly metrics?: () => Promise<string>;
  /** Counts of ingested records and requests, for `/metrics`. */
  readonly observe?: Pick<IglooMetrics, "ingestRecords" | "ingestRequests">;
  readonly logger: Logger;
  /** Largest accepted request body. */
  readonly maxBodyBytes: number;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

function errorResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: message }, headers);
}

function tooLargeMessage(limit: number): string {
  return `the request body is larger than the ${limit} byte limit; send smaller batches`;
}

/**
 * The body as text, refusing it once it passes `limit` bytes: at once when the client
 * declares its length, while reading when it streams chunks.
 */
async function readBody(request: Request, limit: number): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > limit) throw new BodyError(413, tooLargeMessage(limit));
    return await request.text();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.byteLength;
    if (size > limit) throw new BodyError(413, tooLargeMessage(limit));
    chunks.push(chunk);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

async function handleIngest(options: AppOptions, idempotency: IdempotencyCache, modelName: string, request: Request): Promise<Response> {
  const target = options.pipeline.target(modelName);
  if (!target) {
    const known = options.pipeline.models().map((m) => m.name);
    return errorResponse(404, `unknown model \`${modelName}\`; this project has ${known.length ? known.map((n) => `\`${n}\``).join(", ") : "no models"}`);
  }
  try {
    const format = bodyFormat(request.headers.get("content-type"));
    const text = await readBody(request, options.maxBodyBytes);
    const run = async (): Promise<string> => {
      const verdict = await ingest(options.stream, target, parseBody(text, format));
      options.observe?.ingestRecords.inc({ model: modelName, result: "accepted" }, verdict.accepted);
      options.observe?.ingestRecords.inc({ model: modelName, result: "rejected" }, verdict.rejected);
      return JSON.stringify({ ...verdict, token: await tokenAfterAppend(options.stream, target.topic) });
    };
    const key = request.headers.get("idempotency-key");
    const { answer, replayed } = key === null ? { answer: await run(), replayed: false } : await idempotency.run(modelName, key, text, run);
    return new Response(answer, { status: 200, headers: replayed ? { ...JSON_HEADERS, "idempotent-replayed": "true" } : JSON_HEADERS });
  } catch (error) {
    if (error instanceof IdempotencyError) return errorResponse(error.status, error.message);
    if (error instanceof BodyError) return errorResponse(error.status, error.message);
    if (error instanceof StreamUnavailableError) {
      options.logger.warn(`ingest into ${modelName} refused: ${error.message}`);
      return errorResponse(503, `the stream cannot take writes right now (${error.message}); nothing was stored, retry`, { "retry-after": "1" });
    }
    throw error;
  }
}

const DEFAULT_WAIT_MS = 5000;

/**
 * Honours `x-igloo-after: <token>[,<token>...]` (and `x-igloo-wait-ms`): answers only once
 * those ingested records are queryable. Returns an error answer when they are not in time.
 */
async function awaitFreshness(options: AppOptions, request: Request): Promise<Response | undefined> {
  const after = request.headers.get("x-igloo-after");
  if (!after) return undefined;
  const wait = Number(request.headers.get("x-igloo-wait-ms") ?? DEFAULT_WAIT_MS);
  if (!Number.isFinite(wait) || wait < 0) return errorResponse(400, "x-igloo-wait-ms must be a number of milliseconds");
  try {
    if (await waitForTokens(options.stream, after, wait)) return undefined;
  } catch (error) {
    if (error instanceof TokenError) return errorResponse(400, `x-igloo-after: ${error.message}`);
    throw error;
  }
  return errorResponse(504, `the records of x-igloo-after were not queryable within ${wait} ms; the table writers are behind (see /metrics igloo_consumer_lag). Retry, or raise x-igloo-wait-ms.`);
}

async function handleQuery(options: AppOptions, request: Request): Promise<Response> {
  const stale = await awaitFreshness(options, request);
  if (stale) return stale;
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    return errorResponse(400, 'the body must be JSON: { "sql": "SELECT ...", "params": { ... } }');
  }
  const { sql, params } = (body ?? {}) as { sql?: unknown; params?: unknown };
  if (typeof sql !== "string" || sql.trim() === "") return errorResponse(400, "`sql` must be a non-empty string");
  if (params !== undefined && (typeof params !== "object" || params === null || Array.isArray(params))) {
    return errorResponse(400, "`params` must be an object of {name:Type} placeholder values");
  }
  try {
    const result = await options.store.readOnlyQuery(sql, params as Record<string, unknown> | undefined);
    return json(200, { data: result.rows, meta: result.columns });
  } catch (error) {
    if (error instanceof StoreError) return errorResponse(400, error.message);
    throw error;
  }
}

/** The answer to refuse a request with, or undefined when its key grants `role`. */
function refuse(options: AppOptions, request: Request, role: Role): Response | undefined {
  if (options.api === false) return errorResponse(404, "this process runs the worker role: send API requests to an ingest process");
  if (!options.keys) return undefined;
  const verdict = options.keys.authorize(request.headers.get("authorization"), role);
  return verdict.ok ? undefined : errorResponse(verdict.status, verdict.message);
}

const encoder = new TextEncoder();
// Under Bun.serve's 10 s idle timeout, so a quiet subscription is not cut.
const KEEPALIVE_MS = 5_000;

/** Server-sent events: the view's rows now, then whenever they change. */
async function handleEvents(options: AppOptions, name: string, request: Request): Promise<Response> {
  const subscriptions = options.subscriptions;
  if (!options.views || !subscriptions) return errorResponse(404, "this server has no views");
  const params = Object.fromEntries(new URL(request.url).searchParams);
  const first = await options.views.query(name, params);
  if (first.status !== 200) return errorResponse(first.status, first.error);
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          stop();
        }
      };
      const keepalive = setInterval(() => send(": keepalive\n\n"), KEEPALIVE_MS);
      const unsubscribe = await subscriptions.subscribe(
        name,
        params,
        (rows) => send(`event: rows\ndata: ${JSON.stringify({ data: rows })}\n\n`),
        (message) => send(`event: error\ndata: ${JSON.stringify({ error: message })}\n\n`),
        () => {
          stop();
          try {
            controller.close();
          } catch {
            // already closed by the client
          }
        },
      );
      stop = () => {
        clearInterval(keepalive);
        unsubscribe();
      };
      request.signal.addEventListener("abort", () => stop());
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" } });
}

function corsHeaders(options: AppOptions, request: Request): Record<string, string> | undefined {
  const allowed = options.corsOrigins ?? [];
  const origin = request.headers.get("origin");
  if (!origin || allowed.length === 0) return undefined;
  if (!allowed.includes("*") && !allowed.includes(origin)) return undefined;
  return {
    "access-control-allow-origin": allowed.includes("*") ? "*" : origin,
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": "authorization, content-type, idempotency-key, x-igloo-after, x-igloo-wait-ms",
    "access-control-expose-headers": "retry-after, idempotent-replayed",
    "access-control-max-age": "600",
    vary: "origin",
  };
}

export function createApp(options: AppOptions) {
  const idempotency = new IdempotencyCache();
  return new Elysia()
    .onRequest(({ request }) => {
      // Preflight requests of browser clients: answered before routing.
      if (request.method !== "OPTIONS") return undefined;
      const headers = corsHeaders(options, request);
      return headers ? new Response(null, { status: 204, headers }) : undefined;
    })
    .onAfterHandle(({ request, response }) => {
      const headers = corsHeaders(options, request);
      if (headers && response instanceof Response) for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
    })
    .onError(({ code, error }) => {
      if (code === "NOT_FOUND") return errorResponse(404, "no such endpoint; see GET /health, POST /ingest/<Model>, GET /views/<name>, POST /query");
      if (code === "PARSE") return errorResponse(400, "the request body could not be parsed");
      options.logger.error(`request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return errorResponse(500, "internal error; the request may be retried");
    })
    .get("/health", () => json(200, { status: "ok" }))
    .get("/openapi.json", () => (options.openapi ? json(200, options.openapi()) : errorResponse(404, "no OpenAPI document here")))
    .get("/ready", () => (options.ready?.() ?? true ? json(200, { status: "ready" }) : errorResponse(503, "not ready yet")))
    .get("/metrics", async () =>
      options.metrics ? new Response(await options.metrics(), { headers: { "content-type": METRICS_CONTENT_TYPE } }) : errorResponse(404, "no metrics here"),
    )
    .post(
      "/ingest/:model",
      async ({ params, request }) => {
        const response = refuse(options, request, "ingest") ?? (await handleIngest(options, idempotency, params.model, request));
        options.observe?.ingestRequests.inc({ model: params.model, status: String(response.status) });
        return response;
      },
      { parse: "none" },
    )
    .post("/query", ({ request }) => refuse(options, request, "admin") ?? handleQuery(options, request), { parse: "none" })
    .get("/views/:name/events", ({ params, request }) => refuse(options, request, "query") ?? handleEvents(options, params.name, request))
    .get("/views/:name", async ({ params, request }) => {
      const refused = refuse(options, request, "query");
      if (refused) return refused;
      if (!options.views) return errorResponse(404, "this server has no views");
      const stale = await awaitFreshness(options, request);
      if (stale) return stale;
      const raw = Object.fromEntries(new URL(request.url).searchParams);
      const answer = await options.views.query(params.name, raw);
      return answer.status === 200 ? json(200, { data: answer.rows }) : errorResponse(answer.status, answer.error);
    });
}

export type IglooApp = ReturnType<typeof createApp>;
