/**
 * Igloo's own tables (dead letters, ingest ids, its events) are described as models, so
 * they are planned, created, validated and written like a project's. Their fields are
 * written here, not parsed from a file: this is where such a field comes from.
 */
import type { FieldIR, SourceRef } from "./ir.ts";

/** Where Igloo's own models are "declared". */
export const BUILTIN_SOURCE: SourceRef = { file: "<igloo>", line: 1, column: 1 };

/** A field of one of Igloo's own models: its column named after it, not a list, not an id. */
export function builtinField(name: string, type: FieldIR["type"], optional = false): FieldIR {
  return { name, column: name, type, optional, list: false, id: false, source: BUILTIN_SOURCE };
}
