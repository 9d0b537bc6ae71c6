/**
 * The type system's one union: every column type Igloo meets (a model field's, a view
 * parameter's, a view result column's as DESCRIBE reports it) is a `ColumnType`. What
 * each type is to the engine, to TypeScript, to JSON Schema, to messages and to charts is
 * in typeFaces.ts, as is `parseType`, the one reader of the engine's type strings.
 *
 * Shipped into every project with the rest of this folder; imports nothing. Also here: the
 * two text helpers the reader of type strings uses.
 */
export type IntWidth = 8 | 16 | 32 | 64 | 128 | 256;

/** The scalar a model field holds, before nullability and lists are applied. */
export type ScalarType =
  /** `lowCardinality` is the model's `@db.LowCardinality`; an engine type string wraps instead. */
  | { readonly kind: "string"; readonly lowCardinality: boolean; readonly fixedLength?: number }
  | { readonly kind: "uuid" }
  | { readonly kind: "bool" }
  | { readonly kind: "int"; readonly bits: IntWidth; readonly signed: boolean }
  | { readonly kind: "float"; readonly bits: 32 | 64 }
  | { readonly kind: "decimal"; readonly precision: number; readonly scale: number }
  /**
   * `precision` is the number of fractional second digits kept (3 = ms, 6 = µs, 9 = ns).
   * `legacy`: a 32-bit DateTime (servers without DateTime64 store model fields in one, and
   * the validator then takes only what it holds); set by the runtime or read from the
   * engine, never by a model file. `timezone` as the engine reports it; values are UTC.
   */
  | { readonly kind: "datetime"; readonly precision: number; readonly legacy?: boolean; readonly timezone?: string }
  /** `legacy`: the 16-bit Date (1970-2149); otherwise Date32. */
  | { readonly kind: "date"; readonly legacy?: boolean }
  /** `native`: the engine's JSON column type; otherwise the JSON text in a string column. */
  | { readonly kind: "json"; readonly native: boolean }
  /** Carried as base64 text. */
  | { readonly kind: "bytes" }
  /**
   * `name` is the model's enum name ("" for an engine type). `numbers` and `bits` as the
   * engine holds them when read from it; a model's members are numbered from 1.
   */
  | { readonly kind: "enum"; readonly name: string; readonly values: readonly string[]; readonly numbers?: readonly number[]; readonly bits?: 8 | 16 };

export type ColumnType =
  | ScalarType
  | { readonly kind: "nullable"; readonly of: ColumnType }
  | { readonly kind: "array"; readonly of: ColumnType }
  | { readonly kind: "lowCardinality"; readonly of: ColumnType }
  /** A type Igloo passes through as written (Tuple, Map, IPv4...); `structured` when its JSON values are not strings. */
  | { readonly kind: "other"; readonly text: string; readonly structured: boolean };

export type TypeKind = ColumnType["kind"];

/** What of the engine a model field's column depends on (the store's capabilities have these). */
export interface TypeCapabilities {
  readonly supportsBool: boolean;
  readonly supportsDateTime64: boolean;
  readonly supportsDate32: boolean;
  readonly supportsJsonType: boolean;
}

export type Schema = Record<string, unknown>;

/**
 * `row`: a value as ingest normalises it and the query API sends it back; `input`: what
 * ingest accepts; `param`: what a client passes for a view parameter.
 */
export type Direction = "row" | "input" | "param";

/** `type` with `change` applied to the scalar inside its wrappers. */
export function mapScalar(type: ColumnType, change: (scalar: ColumnType) => ColumnType): ColumnType {
  return type.kind === "nullable" || type.kind === "array" || type.kind === "lowCardinality" ? { kind: type.kind, of: mapScalar(type.of, change) } : change(type);
}

/** Wrappers off: the scalar inside `Array(Nullable(...))` and the like. */
export function innermost(type: ColumnType): ColumnType {
  return type.kind === "nullable" || type.kind === "array" || type.kind === "lowCardinality" ? innermost(type.of) : type;
}

/** `Nullable(T)` and `LowCardinality(...)` off, arrays kept: the type a value is cast to. */
export function valueType(type: ColumnType): ColumnType {
  return type.kind === "nullable" || type.kind === "lowCardinality" ? valueType(type.of) : type;
}

export function isNullable(type: ColumnType): boolean {
  return type.kind === "nullable" || (type.kind === "lowCardinality" && isNullable(type.of));
}

/** Splits `A, B(C, D), 'e,f'` at top-level commas. */
export function splitArgs(source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quoted = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(source.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(source.slice(start).trim());
  return parts.filter((p) => p.length > 0);
}

/** The value of a single-quoted SQL string literal, or undefined when `source` is not one. */
export function stringLiteral(source: string): string | undefined {
  const m = /^'((?:[^'\\]|\\.)*)'$/.exec(source.trim());
  return m ? m[1]!.replace(/\\(.)/g, "$1") : undefined;
}

