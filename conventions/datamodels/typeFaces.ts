/**
 * The faces of each column type, side by side: how the engine spells it and how that
 * spelling is read back, the column a model field of it is stored in, how messages name
 * it, its TypeScript and JSON Schema types, its zero value, whether a view parameter may
 * have it, and how a chart shows a value of it. The types themselves are in types.ts.
 *
 * Checking values is the other per-type code, kept where it runs: ingest checks are
 * compiled per model (validator-codegen.ts), view parameter values are checked per request
 * (runtime/views/params.ts). Adding a type is an entry in FACES (the compiler asks for
 * it), a case in validator-codegen.ts (exhaustive too) if model fields may have it, and
 * one in params.ts if view parameters may (paramProblem says which do).
 *
 * It lives in this folder because the folder ships into every project (`.igloo/lib`), so
 * it imports only files of this folder.
 */
import { dayRange, instantRange } from "./datetime.ts";
import { FLOAT32_MAX, smallIntRange, wideIntLimits } from "./numeric.ts";
import { splitArgs, stringLiteral, type ColumnType, type Direction, type IntWidth, type ScalarType, type Schema, type TypeCapabilities, type TypeKind } from "./types.ts";

interface Faces<T extends ColumnType> {
  /** The type from the engine's spelling, split into its name and top-level arguments (none: undefined). */
  readonly read?: (name: string, args: readonly string[] | undefined) => T | undefined;
  /** The engine's spelling, which parseType reads back as the same type. */
  readonly spell: (type: T) => string;
  /** The name build and ingest messages give a model field's type, the `@db` words (default: spell). */
  readonly describe?: (type: T) => string;
  /** The engine column a model field of this type is stored in (default: the type itself). */
  readonly column?: (type: T, caps: TypeCapabilities) => ColumnType;
  /** The model type as such a column holds it, for checking records before they are acknowledged (default: itself). */
  readonly stored?: (type: T, caps: TypeCapabilities) => ColumnType;
  readonly ts: (type: T, direction: Direction) => string;
  readonly schema: (type: T, direction: Direction) => Schema;
  /** SQL for the value a column's NULLs become when its field is made required. */
  readonly zero: (type: T) => string;
  /** Why a view parameter may not have this type (default: it may). */
  readonly paramProblem?: (type: T) => string | undefined;
  /** A value as the query API sends it, as text for a chart's label or a table cell (default: the text, or its JSON). */
  readonly display?: (type: T, value: unknown) => string;
  /** A valid ingest value, drawn from `draw` (its edges when `draw.edge`), for igloo/testing's sample(). */
  readonly sample?: (type: T, draw: Draw) => unknown;
}

/** Where sample values come from: seeded numbers, and whether to pick a type's edges. */
export interface Draw {
  next(): number;
  readonly edge: boolean;
}

type FaceTable = { readonly [K in TypeKind]: Faces<Extract<ColumnType, { readonly kind: K }>> };

const DIGITS = "^-?\\d+$";
const DIGITS_ONLY = /^\d+$/;
const DECIMAL = "^-?\\d+(\\.\\d+)?$";
const ZERO_UUID = "00000000-0000-0000-0000-000000000000";
const SUPPORTED_PARAM_TYPES =
  "String, Int8..Int256, UInt8..UInt256, Float32, Float64, Decimal(P, S), Bool, Date, Date32, DateTime, DateTime64(P), UUID, and Array(T) or Nullable(T) of those";

const text = (value: unknown): string => (typeof value === "string" ? value : value === null || value === undefined ? "" : JSON.stringify(value));
const notAParam = (type: ColumnType): string => `type \`${typeName(type)}\` is not supported for view parameters; use ${SUPPORTED_PARAM_TYPES}`;
const quote = (value: string): string => "'" + value.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
/** `1234567.5` -> `1,234,567.5`, for digit strings of any length. */
const grouped = (digits: string): string => digits.replace(/^(-?)(\d+)/, (_m, sign: string, whole: string) => sign + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ","));
const numberText = (value: unknown, fractionDigits: number): string =>
  typeof value === "number" ? value.toLocaleString("en-US", { maximumFractionDigits: fractionDigits }) : typeof value === "string" ? grouped(value) : text(value);
const inParens = (ts: string): string => (ts.includes(" ") ? `(${ts})` : ts);
const intName = (type: { bits: number; signed: boolean }): string => `${type.signed ? "Int" : "UInt"}${type.bits}`;
const pick = <T>(draw: Draw, items: readonly T[]): T => items[Math.floor(draw.next() * items.length)]!;

/** Engine types whose JSON values are objects or arrays rather than strings. */
const STRUCTURED = new Set(["Tuple", "Map", "Nested", "Variant", "Dynamic", "Object", "AggregateFunction", "SimpleAggregateFunction"]);

export const FACES: FaceTable = {
  string: {
    read: (name, args) =>
      name === "String" && args === undefined
        ? { kind: "string", lowCardinality: false }
        : name === "FixedString" && args?.length === 1 && DIGITS_ONLY.test(args[0]!)
          ? { kind: "string", lowCardinality: false, fixedLength: Number(args[0]) }
          : undefined,
    spell: (t) => (t.fixedLength === undefined ? "String" : `FixedString(${t.fixedLength})`),
    describe: (t) => {
      const base = t.fixedLength === undefined ? "String" : `FixedString(${t.fixedLength})`;
      return t.lowCardinality ? `LowCardinality(${base})` : base;
    },
    column: (t) => ({ kind: "string", lowCardinality: false, ...(t.fixedLength === undefined ? {} : { fixedLength: t.fixedLength }) }),
    ts: () => "string",
    schema: () => ({ type: "string" }),
    zero: () => "''",
    paramProblem: (t) => (t.fixedLength === undefined ? undefined : notAParam(t)),
    sample: (t, d) => {
      if (t.fixedLength !== undefined) return d.edge ? pick(d, ["", "x".repeat(t.fixedLength), "é".repeat(Math.floor(t.fixedLength / 2))]) : "s".repeat(Math.floor(d.next() * (t.fixedLength + 1)));
      return d.edge ? pick(d, ["", " ", "é中😀", "'\"\\\n\t", "x".repeat(1000)]) : `s${Math.floor(d.next() * 1e6)}`;
    },
  },
  uuid: {
    read: (name, args) => (name === "UUID" && args === undefined ? { kind: "uuid" } : undefined),
    spell: () => "UUID",
    ts: () => "string",
    schema: () => ({ type: "string", format: "uuid" }),
    zero: () => quote(ZERO_UUID),
    sample: (_t, d) =>
      d.edge ? pick(d, ["00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"]) : Array.from("xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx", (c) => (c === "x" ? Math.floor(d.next() * 16).toString(16) : c)).join(""),
  },
  bool: {
    read: (name, args) => (name === "Bool" && args === undefined ? { kind: "bool" } : undefined),
    spell: () => "Bool",
    column: (t, caps) => (caps.supportsBool ? t : { kind: "int", bits: 8, signed: false }),
    ts: () => "boolean",
    schema: () => ({ type: "boolean" }),
    zero: () => "0",
    display: (_t, value) => (typeof value === "boolean" ? String(value) : value === 1 ? "true" : value === 0 ? "false" : text(value)),
    sample: (_t, d) => d.next() < 0.5,
  },
  int: {
    read: (name, args) => {
      const int = /^(U?)Int(8|16|32|64|128|256)$/.exec(name);
      return int && args === undefined ? { kind: "int", bits: Number(int[2]) as IntWidth, signed: int[1] === "" } : undefined;
    },
    spell: intName,
    ts: (t, direction) => (t.bits <= 32 ? "number" : direction === "row" ? "string" : "number | string | bigint"),
    schema: (t, direction) => {
      if (t.bits <= 32) {
        const max = t.signed ? 2 ** (t.bits - 1) - 1 : 2 ** t.bits - 1;
        return { type: "integer", minimum: t.signed ? -(2 ** (t.bits - 1)) : 0, maximum: max };
      }
      if (direction === "row") return { type: "string", pattern: DIGITS };
      const limits = wideIntLimits(t.bits, t.signed);
      const min = limits.negative === undefined ? "0" : `-${limits.negative}`;
      return { oneOf: [{ type: "integer" }, { type: "string", pattern: DIGITS }], description: `${intName(t)}: ${min} to ${limits.positive}; send large values as strings` };
    },
    zero: () => "0",
    display: (_t, value) => numberText(value, 0),
    sample: (t, d) => {
      if (t.bits <= 32) {
        const { min, max } = smallIntRange(t.bits, t.signed);
        return d.edge ? pick(d, [min, max, 0]) : min + Math.floor(d.next() * (max - min + 1));
      }
      const limits = wideIntLimits(t.bits, t.signed);
      return d.edge ? pick(d, [limits.positive, limits.negative === undefined ? "0" : `-${limits.negative}`, 0]) : `${t.signed && d.next() < 0.5 ? "-" : ""}${Math.floor(d.next() * 1e15)}`;
    },
  },
  float: {
    read: (name, args) => (args === undefined && (name === "Float32" || name === "Float64") ? { kind: "float", bits: name === "Float32" ? 32 : 64 } : undefined),
    spell: (t) => `Float${t.bits}`,
    ts: () => "number",
    schema: () => ({ type: "number" }),
    zero: () => "0",
    display: (_t, value) => numberText(value, 3),
    sample: (t, d) => (d.edge ? pick(d, t.bits === 32 ? [FLOAT32_MAX, -FLOAT32_MAX, 0, 1.5e-45] : [Number.MAX_VALUE, -Number.MAX_VALUE, 0, 5e-324]) : Math.round((d.next() - 0.5) * 2e6) / 64),
  },
  decimal: {
    read: (name, args) => {
      if (name === "Decimal") return args?.length === 2 && args.every((a) => DIGITS_ONLY.test(a)) ? { kind: "decimal", precision: Number(args[0]), scale: Number(args[1]) } : undefined;
      const precision = ({ Decimal32: 9, Decimal64: 18, Decimal128: 38, Decimal256: 76 } as Record<string, number>)[name];
      return precision !== undefined && args?.length === 1 && DIGITS_ONLY.test(args[0]!) ? { kind: "decimal", precision, scale: Number(args[0]) } : undefined;
    },
    spell: (t) => `Decimal(${t.precision}, ${t.scale})`,
    ts: (_t, direction) => (direction === "row" ? "string" : "number | string"),
    schema: (t, direction) =>
      direction === "row"
        ? { type: "string", pattern: DECIMAL }
        : { oneOf: [{ type: "number" }, { type: "string", pattern: DECIMAL }], description: `Decimal(${t.precision}, ${t.scale}): at most ${t.scale} fractional digits` },
    zero: () => "0",
    paramProblem: (t) =>
      Number.isInteger(t.precision) && Number.isInteger(t.scale) && t.precision >= 1 && t.precision <= 76 && t.scale >= 0 && t.scale <= t.precision
        ? undefined
        : `Decimal(P, S) needs 1 <= P <= 76 and 0 <= S <= P, got Decimal(${t.precision}, ${t.scale})`,
    display: (_t, value) => numberText(value, 20),
    sample: (t, d) => {
      const digits = (n: number) => Array.from({ length: n }, () => Math.floor(d.next() * 10)).join("");
      const whole = t.precision - t.scale;
      const text = (w: string, f: string) => `${w || "0"}${t.scale > 0 ? `.${f}` : ""}`;
      if (d.edge) return pick(d, [text("9".repeat(whole), "9".repeat(t.scale)), `-${text("9".repeat(whole), "9".repeat(t.scale))}`, "0"]);
      return text(digits(Math.min(whole, Math.floor(d.next() * 12))).replace(/^0+(?=\d)/, ""), digits(t.scale));
    },
  },
  datetime: {
    read: (name, args) => {
      if (name === "DateTime" && args === undefined) return { kind: "datetime", precision: 0, legacy: true };
      const timezone = args?.length === (name === "DateTime" ? 1 : 2) ? stringLiteral(args[args.length - 1]!) : undefined;
      if (name === "DateTime") return timezone === undefined ? undefined : { kind: "datetime", precision: 0, legacy: true, timezone };
      if (name !== "DateTime64" || !DIGITS_ONLY.test(args?.[0] ?? "") || (args!.length === 2 && timezone === undefined) || args!.length > 2) return undefined;
      return { kind: "datetime", precision: Number(args![0]), ...(timezone === undefined ? {} : { timezone }) };
    },
    spell: (t) => {
      const zone = t.timezone === undefined ? "" : quote(t.timezone);
      return t.legacy ? `DateTime${zone === "" ? "" : `(${zone})`}` : `DateTime64(${t.precision}${zone === "" ? "" : `, ${zone}`})`;
    },
    describe: (t) => `DateTime64(${t.precision})`,
    // DateTime64 holds the validator's whole range (1900-2299); the plain DateTime of old
    // servers starts in 1970, so model fields get it only as a fallback.
    column: (t, caps) => ({ kind: "datetime", precision: caps.supportsDateTime64 ? t.precision : 0, timezone: "UTC", ...(caps.supportsDateTime64 ? {} : { legacy: true }) }),
    stored: (t, caps) => (caps.supportsDateTime64 ? t : { ...t, legacy: true }),
    ts: (_t, direction) => (direction === "input" ? "string | number" : "string"),
    schema: (_t, direction) =>
      direction === "input"
        ? { oneOf: [{ type: "string", description: "ISO-8601; no offset means UTC" }, { type: "number", description: "epoch milliseconds" }] }
        : { type: "string", format: "date-time" },
    zero: () => "0",
    paramProblem: (t) =>
      t.legacy
        ? t.timezone === undefined ? undefined : notAParam(t)
        : t.timezone === undefined && t.precision <= 9
          ? undefined
          : `DateTime64(P) takes one precision from 0 to 9 (timestamps are UTC), got ${FACES.datetime.spell(t)}`,
    // `2026-11-30T08:58:50.120Z` -> `2026-11-30 08:58:50.12`: UTC, as the query API sends it.
    display: (_t, value) => (typeof value === "string" ? value.replace("T", " ").replace(/Z$/, "").replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "") : text(value)),
    sample: (t, d) => {
      const [first, last] = instantRange(t.precision, t.legacy === true);
      const ms = d.edge ? pick(d, [first, last]) : first + Math.floor(d.next() * (last - first));
      const text = new Date(t.precision >= 3 ? ms : ms - (ms % 1000)).toISOString();
      return t.precision >= 3 ? text : text.replace(/\.\d+Z$/, "Z");
    },
  },
  date: {
    read: (name, args) => (args !== undefined ? undefined : name === "Date" ? { kind: "date", legacy: true } : name === "Date32" ? { kind: "date" } : undefined),
    spell: (t) => (t.legacy ? "Date" : "Date32"),
    describe: () => "Date",
    column: (_t, caps) => (caps.supportsDate32 ? { kind: "date" } : { kind: "date", legacy: true }),
    stored: (t, caps) => (caps.supportsDate32 ? t : { ...t, legacy: true }),
    ts: () => "string",
    schema: () => ({ type: "string", format: "date" }),
    zero: () => "0",
    sample: (t, d) => {
      const [first, last] = dayRange(t.legacy === true);
      const day = 86_400_000;
      return new Date(d.edge ? pick(d, [first, last]) : first + Math.floor((d.next() * (last - first)) / day) * day).toISOString().slice(0, 10);
    },
  },
  json: {
    // `Object('json')` is the JSON type of engines from 22.3 to 24.7.
    read: (name, args) => (name === "JSON" || (name === "Object" && args?.length === 1 && stringLiteral(args[0]!) === "json") ? { kind: "json", native: true } : undefined),
    spell: (t) => (t.native ? "JSON" : "String"),
    describe: (t) => (t.native ? "JSON" : "Json"),
    column: (t, caps) => (t.native && caps.supportsJsonType ? t : { kind: "string", lowCardinality: false }),
    stored: (t, caps) => (t.native && !caps.supportsJsonType ? { kind: "json", native: false } : t),
    ts: (t, direction) => (t.native ? "Record<string, unknown>" : direction === "input" ? "unknown" : "string"),
    schema: (t, direction) => (t.native ? { type: "object" } : direction === "input" ? {} : { type: "string", description: "JSON text" }),
    zero: (t) => (t.native ? "'{}'" : "''"),
    paramProblem: notAParam,
    sample: (t, d) => {
      const object = { n: Math.floor(d.next() * 100), s: "é", list: [1, "two", null], nested: { ok: d.next() < 0.5 } };
      return t.native ? (d.edge ? {} : object) : d.edge ? pick(d, [0, "", [], {}, "null"]) : object;
    },
  },
  bytes: {
    spell: () => "String",
    describe: () => "Bytes",
    column: () => ({ kind: "string", lowCardinality: false }),
    ts: () => "string",
    schema: () => ({ type: "string", contentEncoding: "base64" }),
    zero: () => "''",
    paramProblem: notAParam,
    sample: (_t, d) => btoa(String.fromCharCode(...Array.from({ length: d.edge ? 0 : 1 + Math.floor(d.next() * 40) }, () => Math.floor(d.next() * 256)))),
  },
  enum: {
    read: (name, args) => {
      if ((name !== "Enum8" && name !== "Enum16") || args === undefined) return undefined;
      const members = args.map((member) => /^('(?:[^'\\]|\\.)*')\s*=\s*(-?\d+)$/.exec(member));
      if (members.some((m) => m === null)) return undefined;
      return { kind: "enum", name: "", values: members.map((m) => stringLiteral(m![1]!)!), numbers: members.map((m) => Number(m![2])), bits: name === "Enum8" ? 8 : 16 };
    },
    spell: (t) => {
      const members = t.values.map((value, i) => `${quote(value)} = ${t.numbers?.[i] ?? i + 1}`);
      return `Enum${t.bits ?? (t.values.length > 127 ? 16 : 8)}(${members.join(", ")})`;
    },
    describe: (t) => (t.name === "" ? FACES.enum.spell(t) : t.name),
    ts: (t) => t.values.map((v) => JSON.stringify(v)).join(" | "),
    schema: (t) => ({ type: "string", enum: [...t.values] }),
    zero: (t) => quote(t.values[0] ?? ""),
    paramProblem: notAParam,
    sample: (t, d) => (d.edge ? pick(d, [t.values[0], t.values[t.values.length - 1]]) : pick(d, t.values)),
  },
  nullable: {
    read: (name, args) => (name === "Nullable" && args?.length === 1 ? { kind: "nullable", of: parseType(args[0]!) } : undefined),
    spell: (t) => `Nullable(${typeName(t.of)})`,
    describe: (t) => `${describeScalarOrType(t.of)}?`,
    ts: (t, direction) => `${tsType(t.of, direction)} | null`,
    schema: (t, direction) => ({ anyOf: [jsonSchema(t.of, direction), { type: "null" }] }),
    zero: () => "NULL",
    paramProblem: (t) =>
      t.of.kind === "array" || t.of.kind === "nullable"
        ? `${typeName(t)} is not a type the engine allows; use Array(Nullable(T)) or Nullable(T) of a scalar`
        : paramProblem(t.of),
    display: (t, value) => (value === null ? "" : displayValue(t.of, value)),
  },
  array: {
    read: (name, args) => (name === "Array" && args?.length === 1 ? { kind: "array", of: parseType(args[0]!) } : undefined),
    spell: (t) => `Array(${typeName(t.of)})`,
    describe: (t) => `${describeScalarOrType(t.of)}[]`,
    ts: (t, direction) => `${direction === "param" ? "readonly " : ""}${inParens(tsType(t.of, direction))}[]`,
    schema: (t, direction) => ({ type: "array", items: jsonSchema(t.of, direction) }),
    zero: () => "[]",
    paramProblem: (t) => paramProblem(t.of),
    display: (t, value) => (Array.isArray(value) ? value.map((item) => displayValue(t.of, item)).join(", ") : text(value)),
  },
  lowCardinality: {
    read: (name, args) => (name === "LowCardinality" && args?.length === 1 ? { kind: "lowCardinality", of: parseType(args[0]!) } : undefined),
    spell: (t) => `LowCardinality(${typeName(t.of)})`,
    describe: (t) => `LowCardinality(${describeScalarOrType(t.of)})`,
    ts: (t, direction) => tsType(t.of, direction),
    schema: (t, direction) => jsonSchema(t.of, direction),
    zero: (t) => FACES[t.of.kind].zero(t.of as never),
    paramProblem: notAParam,
    display: (t, value) => displayValue(t.of, value),
  },
  other: {
    spell: (t) => t.text,
    ts: (t) => (t.structured ? "unknown" : "string"),
    schema: (t) => (t.structured ? {} : { type: "string" }),
    zero: (t) => `defaultValueOfTypeName(${quote(t.text)})`,
    paramProblem: notAParam,
  },
};

// One face of a type, whatever its kind: the casts say that FACES[type.kind] is the entry
// for exactly this type, which the mapped type FaceTable guarantees.
export type AnyFaces = Faces<ColumnType>;
export const facesOf = (type: ColumnType): AnyFaces => FACES[type.kind] as unknown as AnyFaces;

/** The engine's spelling, e.g. `Nullable(DateTime64(3, 'UTC'))`; parseType reads it back. */
export function typeName(type: ColumnType): string {
  return facesOf(type).spell(type);
}

/**
 * An engine type string as a type: `Nullable(Decimal(10, 2))`, `Enum8('a' = 1)`,
 * `DateTime64(3, 'UTC')`... A type no entry of FACES reads is `other`, kept as written.
 */
export function parseType(source: string): ColumnType {
  const spelled = source.trim();
  const call = /^([A-Za-z0-9_]+)\s*\(([\s\S]*)\)$/.exec(spelled);
  const name = call ? call[1]! : spelled;
  const args = call ? splitArgs(call[2]!) : undefined;
  for (const faces of Object.values(FACES) as AnyFaces[]) {
    const type = faces.read?.(name, args);
    if (type !== undefined) return type;
  }
  return { kind: "other", text: spelled, structured: STRUCTURED.has(name) };
}

/** A view parameter's type (`{name:Type}`), or why it cannot be one. */
export function parseParamType(source: string): ColumnType | { readonly problem: string } {
  const type = parseType(source);
  const problem = paramProblem(type);
  return problem === undefined ? type : { problem };
}

export function tsType(type: ColumnType, direction: Direction): string {
  return facesOf(type).ts(type, direction);
}

export function jsonSchema(type: ColumnType, direction: Direction): Schema {
  return facesOf(type).schema(type, direction);
}

export function zeroValueSql(type: ColumnType): string {
  return facesOf(type).zero(type);
}

export function paramProblem(type: ColumnType): string | undefined {
  return facesOf(type).paramProblem?.(type);
}

/** A value as the query API sends it, as text for a chart's label or a table cell ("" for NULL). */
export function displayValue(type: ColumnType, value: unknown): string {
  if (value === null || value === undefined) return "";
  return facesOf(type).display?.(type, value) ?? text(value);
}

/** The name messages give a type: the `@db` words for a model's scalars, the spelling otherwise. */
export function describeScalarOrType(type: ColumnType): string {
  const faces = facesOf(type);
  return faces.describe?.(type) ?? faces.spell(type);
}
