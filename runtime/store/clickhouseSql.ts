/**
 * ClickHouse SQL for Igloo's tables, shared by both store implementations (chDB and a
 * ClickHouse server speak the same dialect). Only identifiers Igloo controls or has
 * validated are spliced into SQL; values always travel as bound parameters.
 */
import { checkDefault } from "../../conventions/datamodels/validator.ts";
import type { FieldIR, ModelIR, ProjectionIR, SkipIndexIR, TableSettingIR } from "../../conventions/datamodels/ir.ts";
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

/** The column's own options, in the order the engine's grammar wants them after DEFAULT: `CODEC(...) TTL ...`. */
export function columnOptions(field: FieldIR): string {
  return `${field.codec === undefined ? "" : ` CODEC(${field.codec.text})`}${field.ttl === undefined ? "" : ` TTL ${field.ttl.text}`}`;
}

export function columnDefinition(field: FieldIR, caps: StoreCapabilities): string {
  return `${quoteIdent(field.column)} ${columnType(field, caps)}${defaultClause(field)}${columnOptions(field)}`;
}

/** `INDEX name expr TYPE type GRANULARITY n`, as in CREATE TABLE and ALTER TABLE ... ADD. */
export function skipIndexDefinition(index: SkipIndexIR): string {
  return `INDEX ${quoteIdent(index.name)} ${index.expression} TYPE ${index.type} GRANULARITY ${index.granularity}`;
}

/** `PROJECTION name (SELECT ...)`, as in CREATE TABLE and ALTER TABLE ... ADD. */
export function projectionDefinition(projection: ProjectionIR): string {
  return `PROJECTION ${quoteIdent(projection.name)} (${projection.select})`;
}

/** A setting's value as SQL: booleans as 1/0, which every server reads. */
export function settingLiteral(value: TableSettingIR["value"]): string {
  if (typeof value === "boolean") return value ? "1" : "0";
  return typeof value === "number" ? String(value) : quoteString(value);
}

/** The table's SETTINGS: Igloo's own first, then the model's `@@settings`. */
function tableSettings(model: ModelIR, caps: StoreCapabilities): string[] {
  const own = caps.supportsInsertDeduplicationToken ? [`non_replicated_deduplication_window = ${DEDUP_WINDOW}`] : [];
  return [...own, ...(model.settings ?? []).map((s) => `${s.name} = ${settingLiteral(s.value)}`)];
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
  if (model.ttl) parts.push(`TTL ${model.ttl.text}`);
  const settings = tableSettings(model, caps);
  if (settings.length > 0) parts.push(`SETTINGS ${settings.join(", ")}`);
  return parts.join("\n");
}

/**
 * The model's table: its columns (each with its codec and TTL), then its data-skipping
 * indexes and projections, then the engine with its keys, TTL and settings. Whether the
 * engine has those options is checked before (runtime/plan/tableOptions.ts).
 */
export function createTableSql(model: ModelIR, caps: StoreCapabilities): string {
  const elements = [
    ...model.fields.map((f) => columnDefinition(f, caps)),
    ...(model.skipIndexes ?? []).map(skipIndexDefinition),
    ...(model.projections ?? []).map(projectionDefinition),
  ];
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(model.table)} (\n${elements.map((e) => "  " + e).join(",\n")}\n)\n${engineClause(model, caps)}`;
}
