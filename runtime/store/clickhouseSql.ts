/**
 * ClickHouse SQL for Igloo's tables, shared by both store implementations (chDB and a
 * ClickHouse server speak the same dialect). Only identifiers Igloo controls or has
 * validated are spliced into SQL; values always travel as bound parameters.
 */
import { checkDefault } from "../../conventions/datamodels/validator.ts";
import { numericTypeName } from "../../conventions/datamodels/numericTypes.ts";
import type { FieldIR, ModelIR, ScalarType } from "../../conventions/datamodels/ir.ts";
import type { StoreCapabilities } from "./store.ts";

/** Backtick-quotes an identifier, escaping what needs escaping. */
export function quoteIdent(name: string): string {
  return "`" + name.replace(/\\/g, "\\\\").replace(/`/g, "\\`") + "`";
}

/** A single-quoted SQL string literal. */
export function quoteString(value: string): string {
  return "'" + value.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

/**
 * Retried inserts carrying the same `insert_deduplication_token` are dropped only if the
 * table remembers recent tokens; non-replicated MergeTree tables remember none by default.
 */
export const DEDUP_WINDOW = 1000;

export function scalarColumnType(type: ScalarType, caps: StoreCapabilities): string {
  switch (type.kind) {
    case "string":
      if (type.fixedLength !== undefined) return `FixedString(${type.fixedLength})`;
      return "String";
    case "uuid":
      return "UUID";
    case "bool":
      return caps.supportsBool ? "Bool" : "UInt8";
    case "int":
    case "float":
    case "decimal":
      return numericTypeName(type);
    // DateTime64 and Date32 hold the validator's whole range (1900-2299); the plain
    // DateTime and Date of old servers start in 1970, so those get them only as a fallback.
    case "datetime":
      return caps.supportsDateTime64 ? `DateTime64(${type.precision}, 'UTC')` : "DateTime('UTC')";
    case "date":
      return caps.supportsDate32 ? "Date32" : "Date";
    case "json":
      return type.native && caps.supportsJsonType ? "JSON" : "String";
    case "bytes":
      return "String";
    case "enum": {
      const width = type.values.length > 127 ? 16 : 8;
      const members = type.values.map((value, i) => `${quoteString(value)} = ${i + 1}`);
      return `Enum${width}(${members.join(", ")})`;
    }
  }
}

/**
 * The model as the engine's columns hold it, for checking records: on a server without
 * DateTime64, Date32 or a JSON type the columns are the older DateTime, Date and String
 * (scalarColumnType), so timestamps and dates are checked against what those hold and
 * `@db.JSON` objects are kept as JSON text, instead of being clamped, wrapped or refused
 * by the table after they were acknowledged.
 */
export function storableModel(model: ModelIR, caps: StoreCapabilities): ModelIR {
  if (caps.supportsDateTime64 && caps.supportsDate32 && caps.supportsJsonType) return model;
  const storable = (type: ScalarType): ScalarType => {
    if (type.kind === "datetime" && !caps.supportsDateTime64) return { ...type, legacy: true };
    if (type.kind === "date" && !caps.supportsDate32) return { ...type, legacy: true };
    if (type.kind === "json" && type.native && !caps.supportsJsonType) return { kind: "json", native: false };
    return type;
  };
  return { ...model, fields: model.fields.map((field) => ({ ...field, type: storable(field.type) })) };
}

export function columnType(field: FieldIR, caps: StoreCapabilities): string {
  let type = scalarColumnType(field.type, caps);
  // Only a storage choice: where the engine refuses it, a plain column holds the same values.
  const lowCardinality = field.type.kind === "string" && field.type.lowCardinality && caps.supportsLowCardinality;
  if (field.optional) type = `Nullable(${type})`;
  if (lowCardinality) type = `LowCardinality(${type})`;
  if (field.list) type = `Array(${type})`;
  return type;
}

/** A DEFAULT clause for literal defaults, so rows that predate an added column get it too. */
function defaultClause(field: FieldIR): string {
  const d = field.default;
  if (d === undefined || d.kind !== "literal" || field.list) return "";
  const v = d.value;
  if (v === null) return " DEFAULT NULL";
  if (typeof v === "string" && (field.type.kind === "datetime" || field.type.kind === "date")) {
    // As the validator reads it (a lowercase `t`, an offset, no zone...), written the way
    // every engine parses: `YYYY-MM-DD hh:mm:ss[.f]`, in UTC.
    const normalized = checkDefault(field);
    if (normalized.ok && typeof normalized.value === "string") return ` DEFAULT ${quoteString(normalized.value.replace("T", " ").replace(/Z$/, ""))}`;
  }
  if (typeof v === "string") return ` DEFAULT ${quoteString(v)}`;
  if (typeof v === "number") return ` DEFAULT ${v}`;
  if (typeof v === "boolean") return ` DEFAULT ${v ? 1 : 0}`;
  return "";
}

export function columnDefinition(field: FieldIR, caps: StoreCapabilities): string {
  return `${quoteIdent(field.column)} ${columnType(field, caps)}${defaultClause(field)}`;
}

function columnOf(model: ModelIR, fieldName: string): string {
  return model.fields.find((f) => f.name === fieldName)?.column ?? fieldName;
}

export function engineClause(model: ModelIR, caps: StoreCapabilities): string {
  const engine =
    model.engine.kind === "ReplacingMergeTree"
      ? `ReplacingMergeTree(${model.engine.version ? quoteIdent(columnOf(model, model.engine.version)) : ""})`
      : "MergeTree()";
  const orderBy = model.orderBy.length === 0 ? "tuple()" : `(${model.orderBy.map((f) => quoteIdent(columnOf(model, f))).join(", ")})`;
  const parts = [`ENGINE = ${engine}`];
  if (model.partitionBy) parts.push(`PARTITION BY ${model.partitionBy}`);
  parts.push(`ORDER BY ${orderBy}`);
  if (caps.supportsInsertDeduplicationToken) parts.push(`SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`);
  return parts.join("\n");
}

export function createTableSql(model: ModelIR, caps: StoreCapabilities): string {
  const columns = model.fields.map((f) => "  " + columnDefinition(f, caps));
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(model.table)} (\n${columns.join(",\n")}\n)\n${engineClause(model, caps)}`;
}
