/**
 * The OpenAPI 3.1 document at `/openapi.json`, generated from the same model description
 * as the validators (ingest request bodies) and from the engine's description of each
 * view (query parameters and rows), so it cannot drift from what the server does.
 */
import type { FieldIR, ModelIR, ScalarType } from "../../conventions/datamodels/ir.ts";
import { wideIntLimits } from "../../conventions/datamodels/numeric.ts";
import { IDEMPOTENCY_KEY } from "../../runtime/ingest/idempotency.ts";
import type { ViewDescription } from "./viewTypes.ts";

type Schema = Record<string, unknown>;

const DIGITS = "^-?\\d+$";
const DECIMAL = "^-?\\d+(\\.\\d+)?$";

function inputScalar(type: ScalarType): Schema {
  switch (type.kind) {
    case "string":
      return { type: "string" };
    case "uuid":
      return { type: "string", format: "uuid" };
    case "bool":
      return { type: "boolean" };
    case "int": {
      if (type.bits <= 32) {
        const max = type.signed ? 2 ** (type.bits - 1) - 1 : 2 ** type.bits - 1;
        return { type: "integer", minimum: type.signed ? -(2 ** (type.bits - 1)) : 0, maximum: max };
      }
      const limits = wideIntLimits(type.bits, type.signed);
      const min = limits.negative === undefined ? "0" : `-${limits.negative}`;
      return { oneOf: [{ type: "integer" }, { type: "string", pattern: DIGITS }], description: `${type.signed ? "Int" : "UInt"}${type.bits}: ${min} to ${limits.positive}; send large values as strings` };
    }
    case "float":
      return { type: "number" };
    case "decimal":
      return { oneOf: [{ type: "number" }, { type: "string", pattern: DECIMAL }], description: `Decimal(${type.precision}, ${type.scale}): at most ${type.scale} fractional digits` };
    case "datetime":
      return { oneOf: [{ type: "string", description: "ISO-8601; no offset means UTC" }, { type: "number", description: "epoch milliseconds" }] };
    case "date":
      return { type: "string", format: "date" };
    case "json":
      return type.native ? { type: "object" } : {};
    case "bytes":
      return { type: "string", contentEncoding: "base64" };
    case "enum":
      return { type: "string", enum: [...type.values] };
  }
}

function rowScalar(type: ScalarType): Schema {
  switch (type.kind) {
    case "int":
      return type.bits <= 32 ? inputScalar(type) : { type: "string", pattern: DIGITS };
    case "decimal":
      return { type: "string", pattern: DECIMAL };
    case "datetime":
      return { type: "string", format: "date-time" };
    case "json":
      return type.native ? { type: "object" } : { type: "string", description: "JSON text" };
    default:
      return inputScalar(type);
  }
}

function fieldSchema(field: FieldIR, scalar: (t: ScalarType) => Schema): Schema {
  let schema = scalar(field.type);
  if (field.list) schema = { type: "array", items: schema };
  if (field.optional) schema = { anyOf: [schema, { type: "null" }] };
  return field.doc ? { ...schema, description: field.doc } : schema;
}

function objectSchema(model: ModelIR, scalar: (t: ScalarType) => Schema, required: (f: FieldIR) => boolean): Schema {
  return {
    type: "object",
    additionalProperties: false,
    properties: Object.fromEntries(model.fields.map((f) => [f.name, fieldSchema(f, scalar)])),
    required: model.fields.filter(required).map((f) => f.name),
    ...(model.doc ? { description: model.doc } : {}),
  };
}

/** A ClickHouse result type as JSON Schema, following the query API's exact encoding. */
export function columnSchema(type: string): Schema {
  const t = type.trim();
  const call = /^(\w+)\((.*)\)$/s.exec(t);
  const head = call?.[1] ?? t;
  const inner = call?.[2] ?? "";
  if (head === "Nullable") return { anyOf: [columnSchema(inner), { type: "null" }] };
  if (head === "LowCardinality") return columnSchema(inner);
  if (head === "Array") return { type: "array", items: columnSchema(inner) };
  if (/^U?Int(8|16|32)$/.test(head)) return { type: "integer" };
  if (/^Float(32|64)$/.test(head)) return { type: "number" };
  if (head === "Bool") return { type: "boolean" };
  if (/^(Tuple|Map|JSON|Object|Variant|Dynamic)$/.test(head)) return {};
  return { type: "string" };
}

const ERROR = { $ref: "#/components/schemas/Error" };
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: "error", content: { "application/json": { schema: ERROR } } }]));

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
    schemas[`${model.name}Input`] = objectSchema(model, inputScalar, (f) => !f.optional && !f.list && f.default === undefined);
    schemas[model.name] = objectSchema(model, rowScalar, () => true);
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
            description: "The same key on a resend returns the first answer (header idempotent-replayed: true) instead of storing the records again; remembered 10 minutes by the process that answered.",
          },
        ],
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: { oneOf: [ref, { type: "array", items: ref }] } },
            "application/x-ndjson": { schema: { type: "string", description: `one ${model.name}Input JSON object per line` } },
          },
        },
        responses: { "200": { description: "processed: per-record verdicts", content: { "application/json": { schema: { $ref: "#/components/schemas/IngestVerdict" } } } }, ...errors(400, 401, 403, 404, 408, 413, 415, 422, 503) },
      },
    };
  }
  for (const view of input.views) {
    const row = `${view.name}Row`;
    schemas[row] = { type: "object", properties: Object.fromEntries(view.columns.map((c) => [c.name, columnSchema(c.type)])), required: view.columns.map((c) => c.name) };
    paths[`/views/${view.name}`] = {
      get: {
        operationId: `view_${view.name}`,
        summary: `Query views/${view.name}.sql`,
        security: [{ bearer: [] }],
        parameters: view.params.map((p) => ({ name: p.name, in: "query", required: !p.type.startsWith("Nullable("), schema: columnSchema(p.type), description: p.type })),
        responses: {
          "200": {
            description: "rows; a large answer is streamed, and one that fails after its first 64 KiB ends with `error` after the rows sent",
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
  }
  paths["/health"] = { get: { operationId: "health", summary: "Up", responses: { "200": { description: "ok" } } } };
  return {
    openapi: "3.1.0",
    info: { title: "Igloo project API", version: input.version },
    paths,
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
  };
}
