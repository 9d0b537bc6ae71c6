/**
 * A model field's type through the faces of typeFaces.ts: its name in messages, its
 * column on an engine, what the validator checks it as there, and sample values. No
 * per-type code here: each function asks the type's entry in FACES.
 */
import type { FieldIR } from "./ir.ts";
import type { ColumnType, Direction, ScalarType, Schema, TypeCapabilities } from "./types.ts";
import { describeScalarOrType, facesOf, jsonSchema, typeName, type Draw } from "./typeFaces.ts";

/** Short type name in ClickHouse spelling, the same words the `@db` attributes use. */
export function describeScalar(type: ScalarType): string {
  return describeScalarOrType(type);
}


/** A model field's type for messages, e.g. `UInt8`, `LowCardinality(String)[]`, `DateTime64(6)?`. */
export function describeType(field: { readonly type: ScalarType; readonly list: boolean; readonly optional: boolean }): string {
  return describeScalar(field.type) + (field.list ? "[]" : "") + (field.optional ? "?" : "");
}

/**
 * The column of a model field on an engine with these capabilities. LowCardinality wraps
 * Nullable, and is only a storage choice: where the engine refuses it, a plain column
 * holds the same values.
 */
export function fieldColumn(
  field: { readonly type: ScalarType; readonly list: boolean; readonly optional: boolean },
  caps: TypeCapabilities & { readonly supportsLowCardinality: boolean },
): ColumnType {
  let type = facesOf(field.type).column?.(field.type, caps) ?? field.type;
  if (field.optional) type = { kind: "nullable", of: type };
  if (field.type.kind === "string" && field.type.lowCardinality && caps.supportsLowCardinality) type = { kind: "lowCardinality", of: type };
  if (field.list) type = { kind: "array", of: type };
  return type;
}

/** A model field's JSON Schema: its type's, in an array for a list, or null when optional (OpenAPI, the dev console's forms). */
export function fieldSchema(field: Pick<FieldIR, "type" | "list" | "optional" | "doc">, direction: Direction): Schema {
  let schema = jsonSchema(field.type, direction);
  if (field.list) schema = { type: "array", items: schema };
  if (field.optional) schema = { anyOf: [schema, { type: "null" }] };
  return field.doc ? { ...schema, description: field.doc } : schema;
}

/** A valid ingest value of a model field's scalar type (see Faces.sample). */
export function sampleValue(type: ScalarType, draw: Draw): unknown {
  const sample = facesOf(type).sample;
  if (sample === undefined) throw new Error(`no sample values for ${typeName(type)}`);
  return sample(type, draw);
}

/** The model type as the engine's column holds it (see Faces.stored). */
export function storedType(type: ScalarType, caps: TypeCapabilities): ScalarType {
  return (facesOf(type).stored?.(type, caps) ?? type) as ScalarType;
}
