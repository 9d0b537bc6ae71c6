/**
 * The OpenAPI 3.1 document at `/openapi.json`, generated from the same model description
 * as the validators (ingest request bodies) and from the engine's description of each
 * view (query parameters and rows), so it cannot drift from what the server does.
 */
import type { FieldIR, ModelIR } from "../../conventions/datamodels/ir.ts";
import { isNullable, type Direction, type Schema } from "../../conventions/datamodels/types.ts";
import { jsonSchema, typeName } from "../../conventions/datamodels/typeFaces.ts";
import { fieldSchema } from "../../conventions/datamodels/fieldTypes.ts";
import { IDEMPOTENCY_KEY } from "../../runtime/server/idempotency.ts";
import type { ViewDescription } from "./viewTypes.ts";

function objectSchema(model: ModelIR, direction: Direction, required: (f: FieldIR) => boolean): Schema {
  return {
    type: "object",
    additionalProperties: false,
    properties: Object.fromEntries(model.fields.map((f) => [f.name, fieldSchema(f, direction)])),
    required: model.fields.filter(required).map((f) => f.name),
    ...(model.doc ? { description: model.doc } : {}),
  };
}

const ERROR = { $ref: "#/components/schemas/Error" };
/** What each error status means, the same for every route that answers it. */
const ERROR_MEANING: Readonly<Record<number, string>> = {
  400: "refused: the error says what is wrong or which limit was reached",
  401: "no valid key (where keys are on)",
  403: "a key of the wrong role, a foreign Host name or a web page of an origin not allowed",
  404: "no such model, view or document",
  408: "the body did not arrive within IGLOO_BODY_TIMEOUT_MS",
  413: "the body or its records are over the limit",
  415: "a content type other than the ones listed",
  422: "an idempotency-key already used with another body",
  429: "more live subscriptions than allowed (IGLOO_MAX_SUBSCRIPTIONS, IGLOO_MAX_SUBSCRIPTIONS_PER_CLIENT); retry later",
  503: "busy or not ready: retry after Retry-After seconds",
  504: "the records of x-igloo-after were not queryable within x-igloo-wait-ms",
};
/** An ingest whose produce went unanswered: the one 504 that is not about read-your-writes. */
const OUTCOME_UNKNOWN = {
  description: 'the stream did not answer the write: the records may or may not be stored (`"outcome": "unknown"`); resend with the same idempotency-key, which stores them once',
  content: { "application/json": { schema: { type: "object", properties: { error: { type: "string" }, outcome: { const: "unknown" } }, required: ["error", "outcome"] } } },
};
const RETRY_AFTER = { "Retry-After": { description: "seconds to wait before retrying", schema: { type: "integer" } } };
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      { description: ERROR_MEANING[c] ?? "error", ...(c === 503 || c === 429 ? { headers: RETRY_AFTER } : {}), content: { "application/json": { schema: ERROR } } },
    ]),
  );


/** An admin route taking a JSON body and answering JSON. */
function adminPost(route: { operationId: string; summary: string; parameters?: Schema[]; request: Schema; ok: { description: string; schema: Schema }; errors: number[] }): Schema {
  return {
    operationId: route.operationId,
    summary: route.summary,
    security: [{ bearer: [] }],
    ...(route.parameters ? { parameters: route.parameters } : {}),
    requestBody: { required: true, content: { "application/json": { schema: route.request } } },
    responses: {
      "200": { description: route.ok.description, content: { "application/json": { schema: route.ok.schema } } },
      ...errors(...route.errors),
    },
  };
}

/** `x-igloo-after` and `x-igloo-wait-ms`: read-your-writes for views and queries. */
const FRESHNESS_HEADERS = [
  {
    name: "x-igloo-after",
    in: "header",
    required: false,
    schema: { type: "string" },
    description: "tokens of ingest answers (`token`), comma-separated: answer only once those records are queryable (504 if not within x-igloo-wait-ms)",
  },
  {
    name: "x-igloo-wait-ms",
    in: "header",
    required: false,
    schema: { type: "integer", minimum: 0 },
    description: "how long x-igloo-after may wait, in milliseconds (default 5000, at most IGLOO_MAX_WAIT_MS)",
  },
];
const STREAMED = "a large answer is streamed, and one that fails after its first 64 KiB ends with `error` after the rows sent: treat such a document as failed";

export function openApiDocument(input: { models: readonly ModelIR[]; views: readonly ViewDescription[]; version: string }): Schema {
  const schemas: Record<string, Schema> = {
    Error: { type: "object", properties: { error: { type: "string" } }, required: ["error"] },
    IngestVerdict: {
      type: "object",
      properties: {
        accepted: { type: "integer" },
        rejected: { type: "integer" },
        errors: { type: "array", items: { type: "object", properties: { index: { type: "integer" }, message: { type: "string" } }, required: ["index", "message"] } },
        token: { type: "string", description: "pass as x-igloo-after to read these records back" },
      },
      required: ["accepted", "rejected", "errors", "token"],
    },
  };
  const paths: Record<string, Schema> = {};
  for (const model of input.models) {
    schemas[`${model.name}Input`] = objectSchema(model, "input", (f) => !f.optional && !f.list && f.default === undefined);
    schemas[model.name] = objectSchema(model, "row", () => true);
    // An @@internal model has no ingest endpoint: only functions write it.
    if (model.internal) continue;
    const ref = { $ref: `#/components/schemas/${model.name}Input` };
    paths[`/ingest/${model.name}`] = {
      post: {
        operationId: `ingest${model.name}`,
        summary: `Ingest ${model.name} records; each is validated on its own`,
        security: [{ bearer: [] }],
        parameters: [
          {
            name: "idempotency-key",
            in: "header",
            required: false,
            schema: { type: "string", pattern: IDEMPOTENCY_KEY.source },
            description:
              "The same key and body on a resend store the records once: the process that answered returns its first answer (header idempotent-replayed: true) for 10 minutes; any other process, or later, stores the records again and the table writers drop them as repeats.",
          },
        ],
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: { oneOf: [ref, { type: "array", items: ref }] } },
            "application/x-ndjson": { schema: { type: "string", description: `one ${model.name}Input JSON object per line` } },
          },
        },
        responses: { "200": { description: "processed: per-record verdicts", content: { "application/json": { schema: { $ref: "#/components/schemas/IngestVerdict" } } } }, ...errors(400, 401, 403, 404, 408, 413, 415, 422, 503), "504": OUTCOME_UNKNOWN },
      },
    };
  }
  for (const view of input.views) {
    const row = `${view.name}Row`;
    schemas[row] = { type: "object", properties: Object.fromEntries(view.columns.map((c) => [c.name, jsonSchema(c.type, "row")])), required: view.columns.map((c) => c.name) };
    const viewParams = view.params.map((p) => ({ name: p.name, in: "query", required: !isNullable(p.type), schema: jsonSchema(p.type, "param"), description: typeName(p.type) }));
    paths[`/views/${view.name}`] = {
      get: {
        operationId: `view_${view.name}`,
        summary: `Query views/${view.name}.sql`,
        security: [{ bearer: [] }],
        parameters: [...viewParams, ...FRESHNESS_HEADERS],
        responses: {
          "200": {
            description: `rows; ${STREAMED}`,
            content: {
              "application/json": {
                schema: { type: "object", properties: { data: { type: "array", items: { $ref: `#/components/schemas/${row}` } }, error: { type: "string" } }, required: ["data"] },
              },
            },
          },
          ...errors(400, 401, 403, 404, 503, 504),
        },
      },
    };
    paths[`/views/${view.name}/events`] = {
      get: {
        operationId: `view_${view.name}_events`,
        summary: `Subscribe to views/${view.name}.sql: its rows now and after each change, as server-sent events`,
        security: [{ bearer: [] }],
        parameters: viewParams,
        responses: {
          "200": {
            description:
              `server-sent events, until the client disconnects: \`event: rows\` whose data is {"data": [${row}, ...]} (all rows, now and after each change), ` +
              '`event: error` whose data is {"error": "..."}, and `: keepalive` comments',
            content: {
              "text/event-stream": {
                schema: { type: "string", description: `event: rows\ndata: {"data":[...]}\n\n (the data is a ${view.name}Events object)` },
              },
            },
          },
          ...errors(400, 401, 403, 404, 429, 503),
        },
      },
    };
    schemas[`${view.name}Events`] = {
      description: "the data of one `rows` event",
      type: "object",
      properties: { data: { type: "array", items: { $ref: `#/components/schemas/${row}` } } },
      required: ["data"],
    };
  }
  paths["/query"] = {
    post: adminPost({
      operationId: "query",
      summary: "Run a read-only SQL statement on the project's data (admin key in production)",
      parameters: FRESHNESS_HEADERS,
      request: { $ref: "#/components/schemas/QueryRequest" },
      ok: { description: `the columns and rows; ${STREAMED}`, schema: { $ref: "#/components/schemas/QueryResult" } },
      errors: [400, 401, 403, 408, 413, 415, 503, 504],
    }),
  };
  paths["/dead-letters/replay"] = {
    post: adminPost({
      operationId: "replayDeadLetters",
      summary: "Feed a model's or function's dead letters again after a fix; each is stored once however often it is replayed (admin key in production)",
      request: {
        type: "object",
        properties: { source: { type: "string", description: "a model or function name" }, since: { type: "string", format: "date-time" } },
        required: ["source"],
        additionalProperties: false,
      },
      ok: {
        description: "what was fed again",
        schema: {
          type: "object",
          properties: {
            source: { type: "string" },
            kind: { enum: ["model", "function"] },
            read: { type: "integer" },
            refed: { type: "integer" },
            refusedAgain: { type: "integer" },
            errors: { type: "array", items: { type: "string" } },
            more: { type: "boolean" },
            until: { type: "string" },
          },
          required: ["source", "kind", "read", "refed", "refusedAgain", "errors", "more"],
        },
      },
      errors: [400, 401, 403, 404, 415, 503],
    }),
  };
  const STATUS = (value: string) => ({ type: "object", properties: { status: { const: value } }, required: ["status"] });
  paths["/health"] = {
    get: { operationId: "health", summary: "Up", responses: { "200": { description: "up", content: { "application/json": { schema: STATUS("ok") } } } } },
  };
  paths["/ready"] = {
    get: {
      operationId: "ready",
      summary: "Ready to serve (for load balancers and orchestrators)",
      responses: { "200": { description: "ready", content: { "application/json": { schema: STATUS("ready") } } }, ...errors(503) },
    },
  };
  paths["/metrics"] = {
    get: {
      operationId: "metrics",
      summary: "Prometheus metrics (admin key in production)",
      security: [{ bearer: [] }],
      responses: {
        "200": { description: "Prometheus text exposition format 0.0.4", content: { "text/plain": { schema: { type: "string" } } } },
        ...errors(401, 403, 404),
      },
    },
  };
  paths["/_igloo/live"] = {
    get: {
      operationId: "liveViews",
      summary: "Several views over one event stream (what a dashboard page uses: a browser holds 6 connections to a server)",
      security: [{ bearer: [] }],
      parameters: [
        {
          name: "s",
          in: "query",
          required: true,
          description: "a view and its parameters, `<view>?<param>=<value>&...` URL-encoded; 1 to 100 of them, each counted as a subscription",
          schema: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 100 },
          style: "form",
          explode: true,
        },
      ],
      responses: {
        "200": {
          description:
            'server-sent events: first `event: feeds` whose data is [{"feed": "<tag>"} or {"status": 404, "error": "..."}, ...] in the order asked; then `event: rows` ' +
            'whose data is {"feed": "<tag>", "data": [...]} and `event: error` whose data is {"feed": "<tag>", "error": "..."}; `: keepalive` comments',
          content: { "text/event-stream": { schema: { type: "string" } } },
        },
        ...errors(400, 401, 403, 404, 429, 503),
      },
    },
  };
  paths["/_igloo/views/{name}/columns"] = {
    get: {
      operationId: "viewColumns",
      summary: "A view's result columns and parameters, with their engine types (what the dashboard elements format values by)",
      security: [{ bearer: [] }],
      parameters: [{ name: "name", in: "path", required: true, schema: { type: "string" } }],
      responses: {
        "200": {
          description: "the columns and parameters",
          content: {
            "application/json": {
              schema: {
                type: "object",
                properties: { columns: { type: "array", items: { $ref: "#/components/schemas/NamedType" } }, params: { type: "array", items: { $ref: "#/components/schemas/NamedType" } } },
                required: ["columns", "params"],
              },
            },
          },
        },
        ...errors(401, 403, 404),
      },
    },
  };
  schemas.NamedType = { type: "object", properties: { name: { type: "string" }, type: { type: "string" } }, required: ["name", "type"] };
  paths["/_igloo/components.js"] = {
    get: {
      operationId: "components",
      summary: "The dashboard elements (<igloo-chart>, <igloo-table>, <igloo-kpi>) as one ES module; no key (a script tag cannot send one)",
      responses: { "200": { description: "an ES module", content: { "text/javascript": { schema: { type: "string" } } } }, ...errors(404) },
    },
  };
  paths["/dashboards/{name}"] = {
    get: {
      operationId: "dashboard",
      summary: "The project's dashboards/<name>.html; no key (a link cannot send one: what it shows is read with one)",
      parameters: [{ name: "name", in: "path", required: true, schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,100}$" } }],
      responses: { "200": { description: "the page", content: { "text/html": { schema: { type: "string" } } } }, ...errors(404) },
    },
  };
  paths["/openapi.json"] = {
    get: {
      operationId: "openapi",
      summary: "This document (any valid key in production)",
      security: [{ bearer: [] }],
      responses: { "200": { description: "the OpenAPI 3.1 document", content: { "application/json": { schema: { type: "object" } } } }, ...errors(401, 403) },
    },
  };
  schemas.QueryRequest = {
    type: "object",
    properties: {
      sql: { type: "string", minLength: 1, description: "one read-only statement: SELECT (with WITH, UNION...), DESCRIBE, SHOW TABLES, SHOW CREATE or EXPLAIN" },
      params: { type: "object", description: "values of its {name:Type} placeholders, by name" },
    },
    required: ["sql"],
  };
  schemas.QueryResult = {
    type: "object",
    properties: {
      meta: {
        type: "array",
        items: { type: "object", properties: { name: { type: "string" }, type: { type: "string", description: "the engine's type, e.g. UInt64" } }, required: ["name", "type"] },
      },
      data: { type: "array", items: { type: "object", description: "a row: 64-bit integers and decimals as strings, timestamps as ISO-8601 UTC" } },
      error: { type: "string", description: "present when the query failed after the first rows were sent" },
    },
    required: ["meta", "data"],
  };
  return {
    openapi: "3.1.0",
    info: { title: "Igloo project API", version: input.version },
    paths,
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
  };
}
