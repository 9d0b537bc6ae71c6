/**
 * ClickHouse SQL for Igloo's tables, shared by both store implementations (chDB and a
 * ClickHouse server speak the same dialect). Only identifiers Igloo controls or has
 * validated are spliced into SQL; values always travel as bound parameters.
 */
import { checkDefault } from "../../conventions/datamodels/validator.ts";
import type { FieldIR, ModelIR } from "../../conventions/datamodels/ir.ts";
import { fieldColumn, storedType } from "../../conventions/datamodels/fieldTypes.ts";
import { typeName } from "../../conventions/datamodels/typeFaces.ts";
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

/**
 * The model as the engine's columns hold it, for checking records: on a server without
 * DateTime64, Date32 or a JSON type the columns are the older DateTime, Date and String
 * (the types' `column` faces), so timestamps and dates are checked against what those hold and
 * `@db.JSON` objects are kept as JSON text, instead of being clamped, wrapped or refused
 * by the table after they were acknowledged.
 */
export function storableModel(model: ModelIR, caps: StoreCapabilities): ModelIR {
  if (caps.supportsDateTime64 && caps.supportsDate32 && caps.supportsJsonType) return model;
  return { ...model, fields: model.fields.map((field) => ({ ...field, type: storedType(field.type, caps) })) };
}

export function columnType(field: FieldIR, caps: StoreCapabilities): string {
  return typeName(fieldColumn(field, caps));
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
