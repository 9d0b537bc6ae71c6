/**
 * The schema-evolution checker's model of the world (test/generative.evolution.test.ts):
 * random models over the README's documented types, random edits of them, records that
 * a given model accepts, and the reference the test compares the tables and views with.
 *
 * Everything here is the test's own reading of the README (Data models, Type mapping,
 * Attributes, Schema changes in `igloo dev`, Views); nothing imports Igloo's parser,
 * validator or planner, so where Igloo reads a model differently the suite notices.
 *
 * Values are kept as "logical" values: integers, decimals (in units of 1e-9) and
 * timestamps (in nanoseconds) as bigints, strings and enum members as strings, booleans,
 * null. A confirmed type change converts them the way the engine's CAST does (what
 * ALTER TABLE ... MODIFY COLUMN runs): integers wrap to the new width, decimals and
 * timestamps are truncated to the new scale, numbers become their decimal text, enum
 * members their name; a field made required turns NULL into its @default, else the
 * type's zero value (0, "", false, 1970-01-01T00:00:00Z, the enum's first value).
 */
import { Rng } from "./genRandom.ts";

export { Rng };

// ---------------------------------------------------------------------------------------
// Models

export type IntBits = 8 | 16 | 32 | 64;
export type FType =
  | { readonly kind: "int"; readonly bits: IntBits; readonly signed: boolean }
  | { readonly kind: "string"; readonly lc: boolean }
  | { readonly kind: "bool" }
  | { readonly kind: "datetime"; readonly precision: 0 | 3 | 6 }
  | { readonly kind: "decimal"; readonly precision: number; readonly scale: number }
  | { readonly kind: "enum"; readonly name: string; readonly values: readonly string[] };

/** What the load sends for a String field: free text, digit strings in a range, or a few words. */
export type StrDomain = { readonly kind: "free" } | { readonly kind: "numeric"; readonly lo: bigint; readonly hi: bigint } | { readonly kind: "members"; readonly values: readonly string[] };

export type Logical = bigint | string | boolean | null;

export interface Field {
  readonly name: string;
  /** The column: `@map`, else the name. */
  readonly column: string;
  readonly type: FType;
  readonly optional: boolean;
  /** A literal `@default`, as a logical value of the field's type. */
  readonly default?: Logical;
  /**
   * The DEFAULT of its column: the @default the field had when the column was created
   * (rows older than an added column read it), converted along with the column's type.
   */
  readonly columnDefault?: Logical;
  /** Strings: what the load sends. */
  readonly domain?: StrDomain;
  /** Integers: the load sends 0-4 only (a group key). */
  readonly small?: boolean;
  /** Enum members the load never sends (so removing one loses nothing). */
  readonly reserved?: readonly string[];
}

export interface Model {
  readonly name: string;
  /** fields[0] is `id String @id`, never edited. */
  readonly fields: readonly Field[];
}

export interface ViewSpec {
  readonly name: string;
  /** Plain views add ORDER BY (so they are not incremental). */
  readonly plain: boolean;
  readonly key: string;
  readonly aggs: readonly { readonly fn: "sum" | "min" | "max"; readonly column: string; readonly alias: string }[];
}

const WORDS = ["red", "green", "blue", "amber", "teal", "plum", "gold", "sand", "rust", "mint"];
export const MODEL_NAME = "Reading";

export function fieldByColumn(model: Model, column: string): Field | undefined {
  return model.fields.find((f) => f.column === column);
}

export function fieldByName(model: Model, name: string): Field | undefined {
  return model.fields.find((f) => f.name === name);
}

function intRange(t: { bits: IntBits; signed: boolean }): { lo: bigint; hi: bigint } {
  const bits = BigInt(t.bits);
  return t.signed ? { lo: -(1n << (bits - 1n)), hi: (1n << (bits - 1n)) - 1n } : { lo: 0n, hi: (1n << bits) - 1n };
}

/** The ClickHouse column type the README's type table gives the field. */
export function columnType(field: Field): string {
  const t = field.type;
  let base: string;
  switch (t.kind) {
    case "int":
      base = `${t.signed ? "Int" : "UInt"}${t.bits}`;
      break;
    case "string":
      base = "String";
      break;
    case "bool":
      base = "Bool";
      break;
    case "datetime":
      base = `DateTime64(${t.precision}, 'UTC')`;
      break;
    case "decimal":
      base = `Decimal(${t.precision}, ${t.scale})`;
      break;
    case "enum":
      base = `Enum8(${t.values.map((v, i) => `'${v}' = ${i + 1}`).join(", ")})`;
      break;
  }
  if (field.optional) base = `Nullable(${base})`;
  if (t.kind === "string" && t.lc) base = `LowCardinality(${base})`;
  return base;
}

/** Column types compared as the plan should: spacing aside, and enums by their members, not their numbers. */
export function sameColumnType(a: string, b: string): boolean {
  const norm = (s: string) =>
    s.replace(/\s+/g, "").replace(/Enum(8|16)\(([^)]*)\)/g, (_m, _w, inner: string) => {
      const names = [...inner.matchAll(/'((?:[^'\\]|\\.)*)'=-?\d+/g)].map((m) => m[1]!).sort();
      return `Enum(${names.join(",")})`;
    });
  return norm(a) === norm(b);
}

function prismaLiteral(field: Field, value: Logical): string {
  const t = field.type;
  if (value === null) throw new Error("no null defaults");
  switch (t.kind) {
    case "int":
      return String(value);
    case "string":
      return JSON.stringify(value);
    case "bool":
      return String(value);
    case "enum":
      return String(value);
    case "decimal":
      return canonicalNumber(decimalText(value as bigint, t.scale))!;
    case "datetime":
      return JSON.stringify(isoText(value as bigint, t.precision));
  }
}

function prismaType(field: Field): string {
  const t = field.type;
  const q = field.optional ? "?" : "";
  switch (t.kind) {
    case "int":
      if (t.bits === 32 && t.signed) return `Int${q}`;
      if (t.bits === 64) return t.signed ? `BigInt${q}` : `BigInt${q} @db.UInt64`;
      return `Int${q} @db.${t.signed ? "Int" : "UInt"}${t.bits}`;
    case "string":
      return t.lc ? `String${q} @db.LowCardinality` : `String${q}`;
    case "bool":
      return `Boolean${q}`;
    case "datetime":
      return t.precision === 3 ? `DateTime${q}` : `DateTime${q} @db.DateTime64(${t.precision})`;
    case "decimal":
      return `Decimal${q} @db.Decimal(${t.precision}, ${t.scale})`;
    case "enum":
      return `${t.name}${q}`;
  }
}

export function renderPrisma(model: Model): string {
  const lines = [`/// Generated by the schema-evolution suite.`, `model ${model.name} {`];
  for (const field of model.fields) {
    if (field.name === "id") {
      lines.push("  id String @id");
      continue;
    }
    const attrs = [prismaType(field)];
    if (field.default !== undefined) attrs.push(`@default(${prismaLiteral(field, field.default)})`);
    if (field.column !== field.name) attrs.push(`@map("${field.column}")`);
    lines.push(`  ${field.name} ${attrs.join(" ")}`);
  }
  lines.push("}");
  for (const field of model.fields) {
    if (field.type.kind !== "enum") continue;
    lines.push("", `enum ${field.type.name} {`, ...field.type.values.map((v) => `  ${v}`), "}");
  }
  return lines.join("\n") + "\n";
}

export function viewSql(model: Model, view: ViewSpec): string {
  const parts = [view.key, "count() AS n", ...view.aggs.map((a) => `${a.fn}(${a.column}) AS ${a.alias}`)];
  return `SELECT ${parts.join(", ")}\nFROM ${model.name}\nGROUP BY ${view.key}${view.plain ? `\nORDER BY ${view.key}` : ""}\n`;
}

/** Columns the views read: they are not dropped, and aggregated ones stay numeric. */
export function viewColumns(views: readonly ViewSpec[]): { keys: Set<string>; aggregated: Set<string> } {
  return { keys: new Set(views.map((v) => v.key)), aggregated: new Set(views.flatMap((v) => v.aggs.map((a) => a.column))) };
}

// ---------------------------------------------------------------------------------------
// Random models

export class Names {
  #next = 1;
  constructor(start = 1) {
    this.#next = start;
  }
  field(): string {
    return `f${this.#next++}`;
  }
  enumName(): string {
    return `Kind${this.#next++}`;
  }
}

function randomIntType(rng: Rng): FType {
  return rng.pick<FType>([
    { kind: "int", bits: 8, signed: false },
    { kind: "int", bits: 8, signed: true },
    { kind: "int", bits: 16, signed: false },
    { kind: "int", bits: 16, signed: true },
    { kind: "int", bits: 32, signed: true },
    { kind: "int", bits: 32, signed: false },
    { kind: "int", bits: 64, signed: true },
    { kind: "int", bits: 64, signed: false },
  ]);
}

function randomDecimal(rng: Rng): FType {
  const scale = rng.pick([0, 2, 3, 4]);
  return { kind: "decimal", precision: rng.pick([9, 12, 18]) + scale, scale };
}

function randomEnum(rng: Rng, names: Names): FType {
  const values = rng.shuffle([...WORDS]).slice(0, rng.int(2, 4));
  return { kind: "enum", name: names.enumName(), values };
}

export type Role = "key" | "agg" | "any";

/** A field of a random documented type; `role` keeps group keys small and aggregated columns numeric. */
/**
 * `production`: only what the test's ClickHouse server (Debian's 18.16, README:
 * Production) holds and answers the way the README's table says: integers, String,
 * enums. Its Bool is a UInt8, DateTime64 a DateTime, and it takes no decimals as JSON
 * strings, so those stay on chDB.
 */
export interface Flavor {
  readonly production?: boolean;
}

export function randomField(rng: Rng, names: Names, role: Role, opts: { forAdd?: boolean } & Flavor = {}): Field {
  const name = names.field();
  let type: FType;
  let domain: StrDomain | undefined;
  let small = false;
  if (role === "key") {
    const pick = rng.int(0, 3);
    if (pick === 0) type = randomEnum(rng, names);
    else if (pick === 1) {
      type = { kind: "string", lc: rng.chance(0.5) };
      domain = { kind: "members", values: rng.shuffle([...WORDS]).slice(0, 3) };
    } else if (pick === 2) type = { kind: "bool" };
    else {
      type = rng.pick<FType>([{ kind: "int", bits: 8, signed: false }, { kind: "int", bits: 16, signed: true }, { kind: "int", bits: 32, signed: true }]);
      small = true;
    }
  } else if (role === "agg") {
    type = rng.chance(0.7) ? randomIntType(rng) : randomDecimal(rng);
  } else if (opts.production) {
    const pick = rng.int(0, 3);
    type = pick <= 1 ? randomIntType(rng) : pick === 2 ? { kind: "string", lc: false } : randomEnum(rng, names);
    if (type.kind === "string") domain = { kind: "free" };
  } else {
    const pick = rng.int(0, 6);
    type = pick <= 1 ? randomIntType(rng) : pick === 2 ? { kind: "string", lc: rng.chance(0.3) } : pick === 3 ? { kind: "bool" } : pick === 4 ? { kind: "datetime", precision: rng.pick([0, 3, 3, 6] as const) } : pick === 5 ? randomDecimal(rng) : randomEnum(rng, names);
    if (type.kind === "string") domain = { kind: "free" };
  }
  const reserved = type.kind === "enum" && type.values.length >= 3 && rng.chance(0.5) ? [type.values[type.values.length - 1]!] : undefined;
  let optional = rng.chance(0.35);
  let fallback: Logical | undefined;
  if (opts.forAdd) {
    // README: an added field is optional, or has a @default (else old rows could not have it).
    optional = rng.chance(0.6);
    if (!optional || rng.chance(0.15)) fallback = defaultValue(rng, type, domain, reserved);
  } else if (rng.chance(0.2)) {
    fallback = defaultValue(rng, type, domain, reserved);
  }
  return {
    name,
    column: rng.chance(0.2) ? `${name}_col` : name,
    type,
    optional,
    ...(fallback === undefined ? {} : { default: fallback, columnDefault: fallback }),
    ...(domain ? { domain } : {}),
    ...(small ? { small } : {}),
    ...(reserved ? { reserved } : {}),
  };
}

function defaultValue(rng: Rng, type: FType, domain: StrDomain | undefined, reserved: readonly string[] | undefined): Logical {
  const field: Field = { name: "d", column: "d", type, optional: false, ...(domain ? { domain } : {}), ...(reserved ? { reserved } : {}) };
  const value = genLogical(rng, field, [type]);
  // Keep defaults short and small: they end in DDL and Prisma literals.
  if (type.kind === "int") return BigInt(rng.int(0, 100));
  if (type.kind === "string") return rng.pick(domain?.kind === "members" ? domain.values : ["none", "n/a", "zero"]);
  return value;
}

export function randomModel(rng: Rng, names: Names, flavor: Flavor = {}): { model: Model; views: ViewSpec[] } {
  const id: Field = { name: "id", column: "id", type: { kind: "string", lc: false }, optional: false };
  if (flavor.production) {
    // No views: the 18.16 server cannot run them (README: Production).
    return { model: { name: MODEL_NAME, fields: [id, ...Array.from({ length: rng.int(3, 5) }, () => randomField(rng, names, "any", flavor))] }, views: [] };
  }
  const key = randomField(rng, names, "key");
  const key2 = rng.chance(0.5) ? key : randomField(rng, names, "key");
  const aggA = randomField(rng, names, "agg");
  const aggB = randomField(rng, names, "agg");
  const extra = Array.from({ length: rng.int(1, 3) }, () => randomField(rng, names, "any"));
  const fields = [key, ...(key2 === key ? [] : [key2]), aggA, aggB, ...extra];
  rng.shuffle(fields);
  const model: Model = { name: MODEL_NAME, fields: [id, ...fields] };
  const views: ViewSpec[] = [
    { name: "evo_incremental", plain: false, key: key.column, aggs: [{ fn: "sum", column: aggA.column, alias: "total" }, { fn: "min", column: aggA.column, alias: "lo" }, { fn: "max", column: aggB.column, alias: "hi" }] },
    { name: "evo_plain", plain: true, key: key2.column, aggs: [{ fn: "sum", column: aggB.column, alias: "total" }, { fn: "max", column: aggA.column, alias: "hi" }] },
  ];
  return { model, views };
}

// ---------------------------------------------------------------------------------------
// Values

const NS = 1_000_000_000n;
const DAY_MS = 86_400_000;
const FROM_MS = Date.UTC(2000, 0, 1);
const TO_MS = Date.UTC(2099, 11, 31);

export function decimalText(nano: bigint, scale: number): string {
  const negative = nano < 0n;
  const abs = negative ? -nano : nano;
  const whole = abs / NS;
  const frac = (abs % NS).toString().padStart(9, "0").slice(0, scale);
  const text = scale === 0 ? whole.toString() : `${whole}.${frac}`;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

export function isoText(ns: bigint, precision: number): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
  const frac = (((ns % NS) + NS) % NS).toString().padStart(9, "0").slice(0, precision);
  return precision === 0 ? `${base}Z` : `${base}.${frac}Z`;
}

/** ClickHouse's text form of a DateTime64 (what CAST(... AS String) gives). */
function chDateTimeText(ns: bigint, precision: number): string {
  return isoText(ns, precision).replace("T", " ").replace("Z", "");
}

function truncate(value: bigint, unit: bigint): bigint {
  return (value / unit) * unit; // bigint division truncates toward zero, like CAST
}

function wrap(value: bigint, t: { bits: IntBits; signed: boolean }): bigint {
  return t.signed ? BigInt.asIntN(t.bits, value) : BigInt.asUintN(t.bits, value);
}

/** The most integer digits a decimal of `type` holds. */
function decimalWhole(t: { precision: number; scale: number }): number {
  return t.precision - t.scale;
}

function digitsOf(v: bigint): number {
  return (v < 0n ? -v : v).toString().length;
}

/**
 * A logical value for `field` that every type in `also` (the field's type in the other
 * models ingest may be running) takes too, where their kinds agree.
 */
export function genLogical(rng: Rng, field: Field, also: readonly FType[]): Logical {
  const t = field.type;
  const same = also.filter((o) => o.kind === t.kind);
  switch (t.kind) {
    case "int": {
      let { lo, hi } = intRange(t);
      for (const o of same) {
        const r = intRange(o as { bits: IntBits; signed: boolean });
        if (r.lo > lo) lo = r.lo;
        if (r.hi < hi) hi = r.hi;
      }
      for (const o of also) {
        if (o.kind === "decimal") {
          const limit = 10n ** BigInt(Math.min(decimalWhole(o), 18)) - 1n;
          if (-limit > lo) lo = -limit;
          if (limit < hi) hi = limit;
        }
      }
      if (field.small) return BigInt(rng.int(0, 4));
      const smallLo = lo > -50n ? lo : -50n;
      const smallHi = hi < 100n ? hi : 100n;
      if (rng.chance(0.6) && smallLo <= smallHi) return rng.bigint(smallLo, smallHi);
      if (rng.chance(0.1)) return rng.chance(0.5) ? lo : hi;
      return rng.bigint(lo, hi);
    }
    case "decimal": {
      let scale = t.scale;
      let whole = Math.min(decimalWhole(t), 7);
      for (const o of same) {
        const d = o as { precision: number; scale: number };
        scale = Math.min(scale, d.scale);
        whole = Math.min(whole, decimalWhole(d));
      }
      if (same.length < also.length && also.some((o) => o.kind === "int")) scale = 0;
      const intPart = whole === 0 ? 0n : rng.bigint(0n, 10n ** BigInt(rng.int(1, whole)) - 1n);
      const frac = scale === 0 ? 0n : rng.bigint(0n, 10n ** BigInt(scale) - 1n) * 10n ** BigInt(9 - scale);
      const v = intPart * NS + frac;
      return rng.chance(0.3) ? -v : v;
    }
    case "datetime": {
      let precision: number = t.precision;
      for (const o of same) precision = Math.min(precision, (o as { precision: number }).precision);
      const ms = FROM_MS + Math.floor(rng.float() * ((TO_MS - FROM_MS) / DAY_MS)) * DAY_MS + rng.int(0, DAY_MS - 1);
      let ns = BigInt(Math.floor(ms / 1000)) * NS;
      if (precision >= 3) ns += BigInt(ms % 1000) * 1_000_000n;
      if (precision >= 6) ns += BigInt(rng.int(0, 999)) * 1000n;
      return ns;
    }
    case "bool":
      return rng.chance(0.5);
    case "enum": {
      let values = t.values.filter((v) => !(field.reserved ?? []).includes(v));
      for (const o of same) values = values.filter((v) => (o as { values: readonly string[] }).values.includes(v));
      if (values.length === 0) values = [...t.values];
      return rng.pick(values);
    }
    case "string": {
      const domain = field.domain ?? { kind: "free" };
      if (domain.kind === "members") return rng.pick(domain.values);
      if (domain.kind === "numeric") {
        let { lo, hi } = domain;
        for (const o of also) {
          if (o.kind === "int") {
            const r = intRange(o);
            if (r.lo > lo) lo = r.lo;
            if (r.hi < hi) hi = r.hi;
          }
        }
        return (rng.chance(0.6) && lo <= 0n && hi >= 100n ? rng.bigint(0n, 100n) : rng.bigint(lo, hi)).toString();
      }
      return `${rng.pick(WORDS)}-${rng.int(0, 9999)}`;
    }
  }
}

/** The JSON a producer sends for a logical value of `type`. */
export function toJson(rng: Rng, type: FType, value: Logical): unknown {
  if (value === null) return null;
  switch (type.kind) {
    case "int":
      if (type.bits === 64) {
        const v = value as bigint;
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) && rng.chance(0.5) ? Number(v) : v.toString();
      }
      return Number(value);
    case "decimal": {
      const text = decimalText(value as bigint, type.scale);
      const number = Number(text);
      return rng.chance(0.5) && String(number) === canonicalNumber(text) ? number : text;
    }
    case "datetime":
      return isoText(value as bigint, type.precision);
    default:
      return value;
  }
}

/** Zero of a type: what the engine gives a new non-nullable column's old rows, and NULLs made required without a @default. */
export function zeroOf(type: FType): Logical {
  switch (type.kind) {
    case "int":
    case "decimal":
    case "datetime":
      return 0n;
    case "string":
      return "";
    case "bool":
      return false;
    case "enum":
      return type.values[0]!;
  }
}

// ---------------------------------------------------------------------------------------
// The test's own validator (README: Type mapping; unknown fields are rejected)

export type Verdict = { ok: true; row: Map<string, Logical> } | { ok: false; why: string };

function checkValue(type: FType, v: unknown): { ok: true; value: Logical } | { ok: false } {
  switch (type.kind) {
    case "int": {
      const { lo, hi } = intRange(type);
      let b: bigint;
      if (typeof v === "number") {
        if (!Number.isInteger(v)) return { ok: false };
        if (type.bits === 64 && !Number.isSafeInteger(v)) return { ok: false };
        b = BigInt(v);
      } else if (type.bits === 64 && typeof v === "string" && /^-?\d+$/.test(v)) b = BigInt(v);
      else return { ok: false };
      return b >= lo && b <= hi ? { ok: true, value: b } : { ok: false };
    }
    case "string":
      return typeof v === "string" ? { ok: true, value: v } : { ok: false };
    case "bool":
      return typeof v === "boolean" ? { ok: true, value: v } : { ok: false };
    case "enum":
      return typeof v === "string" && type.values.includes(v) ? { ok: true, value: v } : { ok: false };
    case "decimal": {
      let text: string;
      if (typeof v === "number" && Number.isFinite(v) && !String(v).includes("e")) text = String(v);
      else if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v)) text = v;
      else return { ok: false };
      const negative = text.startsWith("-");
      const [w, f = ""] = text.replace("-", "").split(".");
      const frac = f.replace(/0+$/, "");
      const whole = w!.replace(/^0+/, "");
      if (frac.length > type.scale || whole.length > type.precision - type.scale) return { ok: false };
      const nano = BigInt(whole || "0") * NS + BigInt((frac || "0").padEnd(9, "0").slice(0, 9));
      return { ok: true, value: negative ? -nano : nano };
    }
    case "datetime": {
      if (typeof v !== "string") return { ok: false };
      const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(v);
      if (!m) return { ok: false };
      const frac = m[2] ?? "";
      if (/[1-9]/.test(frac.slice(type.precision))) return { ok: false };
      const seconds = BigInt(Date.parse(`${m[1]}Z`) / 1000);
      return { ok: true, value: seconds * NS + BigInt((frac || "0").padEnd(9, "0").slice(0, 9)) };
    }
  }
}

/** Whether `model` accepts `record`, and the row (by column) it stores. */
export function validate(model: Model, record: Record<string, unknown>): Verdict {
  const names = new Set(model.fields.map((f) => f.name));
  for (const key of Object.keys(record)) if (!names.has(key)) return { ok: false, why: `unknown field ${key}` };
  const row = new Map<string, Logical>();
  for (const field of model.fields) {
    const v = record[field.name];
    if (v === undefined) {
      if (field.default !== undefined) row.set(field.column, field.default);
      else if (field.optional) row.set(field.column, null);
      else return { ok: false, why: `missing ${field.name}` };
    } else if (v === null) {
      if (!field.optional) return { ok: false, why: `null ${field.name}` };
      row.set(field.column, null);
    } else {
      const checked = checkValue(field.type, v);
      if (!checked.ok) return { ok: false, why: `bad ${field.name}: ${JSON.stringify(v)}` };
      row.set(field.column, checked.value);
    }
  }
  return { ok: true, row };
}

/**
 * What column `column` gets under `model` when a record leaves out the field that holds
 * it there: its default, null, or "refused". A model without the column counts as what
 * the column, once added, gives old rows (the same thing).
 */
function fill(model: Model, column: string): string {
  const field = fieldByColumn(model, column);
  if (!field) return "absent";
  if (field.default !== undefined) return `d:${String(field.default)}`;
  return field.optional ? "null" : "refused";
}

/**
 * A record for `intended` (one of `possible`, the models ingest may be running), with
 * values the other possible models take too where the field's kind agrees. A field is
 * left out only when every possible model fills it in the same way, so that a record
 * accepted under any of them stores the same row.
 */
export function genRecord(rng: Rng, id: string, intended: Model, possible: readonly Model[]): Record<string, unknown> {
  const record: Record<string, unknown> = { id };
  for (const field of intended.fields) {
    if (field.name === "id") continue;
    // By column: a field renamed with @map fills the same column under another name.
    const fills = new Set(possible.map((m) => fill(m, field.column)).filter((f) => f !== "absent"));
    const omittable = (field.optional || field.default !== undefined) && fills.size === 1;
    if (omittable && rng.chance(0.15)) continue;
    if (field.optional && rng.chance(0.1)) {
      if (possible.every((m) => !fieldByName(m, field.name) || fieldByName(m, field.name)!.optional)) {
        record[field.name] = null;
        continue;
      }
    }
    const also = possible.map((m) => fieldByName(m, field.name)?.type).filter((t): t is FType => t !== undefined);
    record[field.name] = toJson(rng, field.type, genLogical(rng, field, also));
  }
  return record;
}

/** JSON text of test data, bigints included. */
export function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)) ?? "undefined";
}

/** Values a probe tries for a field: the edges of its types, other kinds, null, nothing. */
function probeValues(rng: Rng, fields: readonly Field[]): unknown[] {
  const out: unknown[] = [undefined, null];
  for (const field of fields) {
    const t = field.type;
    if (t.kind === "int") {
      const { lo, hi } = intRange(t);
      for (const v of [lo, hi, lo + 1n, hi - 1n, -1n, 200n, 300n, 40000n, 70000n, 3_000_000_000n]) out.push(toJson(rng, t, v));
    } else if (t.kind === "enum") out.push(...t.values);
    else if (t.kind === "decimal") out.push("1.5", "0.25", "1.125", "123456.5", 7);
    else if (t.kind === "datetime") out.push("2030-01-02T03:04:05Z", "2030-01-02T03:04:05.123Z", "2030-01-02T03:04:05.123456Z");
    else if (t.kind === "bool") out.push(true, false);
    else if (t.kind === "string") out.push("probe", "42", ...(field.domain?.kind === "members" ? field.domain.values : []));
    out.push(toJson(rng, t, genLogical(rng, field, [])));
  }
  return out;
}

/**
 * A record `yes` accepts and `no` refuses, if there is one: what a held change must not
 * let in early, or an applied one must let in. Found by trying edge values on the fields
 * the two models disagree about, from a record both take where possible.
 */
export function findProbe(rng: Rng, id: string, yes: Model, no: Model): Record<string, unknown> | undefined {
  const names = [...new Set([...yes.fields, ...no.fields].map((f) => f.name))].filter((n) => n !== "id");
  const differing = names.filter((n) => stable(fieldByName(yes, n)) !== stable(fieldByName(no, n)));
  if (differing.length === 0) return undefined;
  for (let attempt = 0; attempt < 400; attempt++) {
    const base = genRecord(rng, id, yes, [yes, no]);
    for (const name of differing) {
      const fields = [fieldByName(yes, name), fieldByName(no, name)].filter((f): f is Field => f !== undefined);
      const value = rng.pick(probeValues(rng, fields));
      if (value === undefined) delete base[name];
      else base[name] = value;
    }
    if (validate(yes, base).ok && !validate(no, base).ok) return base;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Plans and conversions

export interface ColumnChange {
  readonly kind: "add column" | "drop column" | "change";
  readonly column: string;
}

/** The table changes the README says a save from `a` to `b` makes, in the plan's words. */
export function expectedChanges(a: Model, b: Model): ColumnChange[] {
  const out: ColumnChange[] = [];
  for (const field of b.fields) {
    const before = fieldByColumn(a, field.column);
    if (!before) out.push({ kind: "add column", column: field.column });
    else if (!sameColumnType(columnType(before), columnType(field))) out.push({ kind: "change", column: field.column });
  }
  for (const field of a.fields) if (!fieldByColumn(b, field.column)) out.push({ kind: "drop column", column: field.column });
  return out;
}

export function isHeld(changes: readonly ColumnChange[]): boolean {
  return changes.some((c) => c.kind !== "add column");
}

/** A value of column type `from` as the engine's CAST to `to` gives it (see the header). */
export function convert(value: Logical, from: Field, to: Field): Logical {
  if (value === null) {
    if (to.optional) return null;
    // README (Schema changes): the column's DEFAULT, else the @default, else the zero value.
    return to.columnDefault ?? to.default ?? zeroOf(to.type);
  }
  const a = from.type;
  const b = to.type;
  if (b.kind === "int") {
    if (a.kind === "int") return wrap(value as bigint, b);
    if (a.kind === "decimal") return wrap((value as bigint) / NS, b);
    if (a.kind === "string") return wrap(BigInt(value as string), b);
    if (a.kind === "bool") return value ? 1n : 0n;
  }
  if (b.kind === "decimal") {
    if (a.kind === "decimal") return truncate(value as bigint, 10n ** BigInt(9 - b.scale));
    if (a.kind === "int") return (value as bigint) * NS;
  }
  if (b.kind === "datetime" && a.kind === "datetime") return truncate(value as bigint, 10n ** BigInt(9 - b.precision));
  if (b.kind === "string") {
    if (a.kind === "string" || a.kind === "enum") return value;
    if (a.kind === "int") return (value as bigint).toString();
    if (a.kind === "bool") return value ? "true" : "false";
    if (a.kind === "datetime") return chDateTimeText(value as bigint, a.precision);
    if (a.kind === "decimal") return decimalText(value as bigint, a.scale);
  }
  if (b.kind === "enum" && (a.kind === "enum" || a.kind === "string")) return value;
  if (b.kind === "bool" && a.kind === "bool") return value;
  throw new Error(`no conversion from ${a.kind} to ${b.kind}`);
}

/**
 * Whether every value of `row` (a row of `a`) converts to `b` the same way whether it is
 * already in the table (CAST) or still in the log when the change is applied (the writer
 * then parses it as the new type): false for an enum member `b` lacks, digits out of an
 * integer's range, a negative number for an unsigned type, a fraction for an integer.
 */
export function convertible(row: Map<string, Logical>, a: Model, b: Model): boolean {
  for (const field of b.fields) {
    const before = fieldByColumn(a, field.column);
    const value = row.get(field.column);
    if (!before || value === null || value === undefined || sameColumnType(columnType(before), columnType(field))) continue;
    const t = field.type;
    if (t.kind === "enum" && !t.values.includes(String(value))) return false;
    if (t.kind === "int") {
      const { lo, hi } = intRange(t);
      if (before.type.kind === "string" && !(/^-?\d+$/.test(String(value)) && BigInt(String(value)) >= lo && BigInt(String(value)) <= hi)) return false;
      if (before.type.kind === "decimal" && (value as bigint) % NS !== 0n) return false;
      if (before.type.kind === "int" && !t.signed && (value as bigint) < 0n) return false;
    }
  }
  return true;
}

/** The rows of model `a` after the confirmed move to `b` (README: Schema changes; see the header). */
export function migrateRow(row: Map<string, Logical>, a: Model, b: Model): Map<string, Logical> {
  const out = new Map<string, Logical>();
  for (const field of b.fields) {
    const before = fieldByColumn(a, field.column);
    if (!before) {
      // ADD COLUMN: old rows read the literal DEFAULT the column was added with, else NULL or the zero value.
      out.set(field.column, field.default ?? (field.optional ? null : zeroOf(field.type)));
    } else {
      const value = row.get(field.column) ?? null;
      out.set(field.column, sameColumnType(columnType(before), columnType(field)) ? value : convert(value, before, field));
    }
  }
  return out;
}

/** The JSON `/query` answers for a logical value in a column of the field's type (README: Type mapping). */
export function expectedJson(field: Field, value: Logical): unknown {
  if (value === null) return null;
  const t = field.type;
  switch (t.kind) {
    case "int":
      return t.bits >= 64 ? (value as bigint).toString() : Number(value);
    case "decimal":
      return decimalText(value as bigint, t.scale);
    case "datetime":
      return isoText(value as bigint, t.precision);
    default:
      return value;
  }
}

/** A number from a query (number or string, any trailing zeros) or a logical value, as canonical decimal text. */
export function canonicalNumber(v: unknown, decimal = false): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return decimal ? canonicalNumber(decimalText(v, 9)) : v.toString();
  const text = String(v);
  if (!text.includes(".")) return text === "-0" ? "0" : text;
  const trimmed = text.replace(/0+$/, "").replace(/\.$/, "");
  return trimmed === "-0" ? "0" : trimmed;
}

export function keyText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return String(v);
}

/** The view's rows as the reference computes them: by key, count and the aggregates as canonical numbers. */
export function expectedView(model: Model, view: ViewSpec, rows: Iterable<Map<string, Logical>>): Map<string | null, Record<string, string | null>> {
  const groups = new Map<string | null, { n: bigint; acc: Map<string, Logical[]> }>();
  const keyField = fieldByColumn(model, view.key)!;
  for (const row of rows) {
    const value = row.get(view.key) ?? null;
    const k = value === null ? null : keyText(expectedJson(keyField, value));
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { n: 0n, acc: new Map() }));
    g.n++;
    for (const agg of view.aggs) {
      const v = row.get(agg.column) ?? null;
      if (v === null) continue;
      const list = g.acc.get(agg.alias) ?? [];
      list.push(v);
      g.acc.set(agg.alias, list);
    }
  }
  const out = new Map<string | null, Record<string, string | null>>();
  for (const [k, g] of groups) {
    const rec: Record<string, string | null> = { n: g.n.toString() };
    for (const agg of view.aggs) {
      const field = fieldByColumn(model, agg.column)!;
      const decimal = field.type.kind === "decimal";
      const values = (g.acc.get(agg.alias) ?? []) as bigint[];
      if (values.length === 0) {
        // sum() over no non-NULL values is 0 for a non-Nullable column, NULL for a Nullable one.
        rec[agg.alias] = field.optional ? null : "0";
        continue;
      }
      let r: bigint;
      if (agg.fn === "sum") {
        r = values.reduce((s, v) => s + v, 0n);
        // sum() of an integer column is an Int64 or UInt64, which wraps.
        if (field.type.kind === "int") r = field.type.signed ? BigInt.asIntN(64, r) : BigInt.asUintN(64, r);
      }
      else if (agg.fn === "min") r = values.reduce((m, v) => (v < m ? v : m));
      else r = values.reduce((m, v) => (v > m ? v : m));
      rec[agg.alias] = canonicalNumber(r, decimal);
    }
    out.set(k, rec);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Edits

export interface Edit {
  /** One line for the failure report. */
  readonly description: string;
  readonly next: Model;
  /** Views rewritten (a step that repoints a view instead of changing the model). */
  readonly views?: readonly ViewSpec[];
  /**
   * Set on edits that hit a bug already reported (they are only generated with
   * IGLOO_EVOLUTION_KNOWN_BUGS=1): the name of the bug.
   */
  readonly known?: string;
  /**
   * Set on edits Igloo must refuse, naming nothing changed: values the table holds cannot
   * take the new type (runtime/plan/convertible.ts). The reason, for the failure report.
   */
  readonly refused?: string;
}

export interface EditContext {
  readonly rng: Rng;
  readonly names: Names;
  readonly model: Model;
  readonly views: readonly ViewSpec[];
  /** Values the reference holds in a column (for removing enum members nobody used). */
  readonly used: (column: string) => Set<string>;
  /** Generate edits that hit reported bugs too. */
  readonly knownBugs: boolean;
  readonly flavor?: Flavor;
}

type Proposal = Edit | undefined;

function replaceField(model: Model, column: string, next: Field | undefined): Model {
  return { ...model, fields: model.fields.flatMap((f) => (f.column === column ? (next ? [next] : []) : [f])) };
}

function describeType(field: Field): string {
  return `${prismaType(field).replace(/\s+/g, " ")}${field.default !== undefined ? ` @default(${prismaLiteral(field, field.default)})` : ""}`;
}

/** Candidates: fields of the model other than the id. */
function editable(ctx: EditContext): Field[] {
  return ctx.model.fields.filter((f) => f.name !== "id");
}

/** A default still valid for the field's new type, or none. */
function keepDefault(field: Field, type: FType): Logical | undefined {
  if (field.default === undefined || field.default === null) return undefined;
  const json = toJson(new Rng(1), field.type, field.default);
  const checked = checkValue(type, type.kind === "decimal" && typeof json === "number" ? String(json) : json);
  return checked.ok ? checked.value : undefined;
}

function retyped(field: Field, type: FType, extra: Partial<Field> = {}): Field {
  const fallback = keepDefault(field, type);
  const { default: _old, columnDefault, domain: _d, small: _s, reserved: _r, ...rest } = field;
  const next: Field = { ...rest, type, ...(fallback === undefined ? {} : { default: fallback }), ...extra };
  if (columnDefault === undefined || columnDefault === null) return next;
  return { ...next, columnDefault: defaultConverts(columnDefault, field, next) ? convert(columnDefault, field, next) : columnDefault };
}

/** Whether the column's DEFAULT converts to the new type (the engine checks it, and refuses the change if not). */
function defaultConverts(value: Logical, from: Field, to: Field): boolean {
  if (value === null) return true;
  const b = to.type;
  if (b.kind === "enum") return b.values.includes(String(value));
  if (b.kind === "int") {
    const { lo, hi } = intRange(b);
    if (from.type.kind === "string") return /^-?\d+$/.test(String(value)) && BigInt(String(value)) >= lo && BigInt(String(value)) <= hi;
    if (from.type.kind === "decimal") return false; // the DEFAULT is the text '1.5'
  }
  return true;
}

/** An edit whose column DEFAULT does not convert: fine on chDB (convertible.ts), blocked on 18.16. */
function defaultBlocks(model: Model, next: Model): boolean {
  return next.fields.some((f) => {
    const before = fieldByColumn(model, f.column);
    return before?.columnDefault !== undefined && !sameColumnType(columnType(before), columnType(f)) && !defaultConverts(before.columnDefault, before, f);
  });
}

const EDITS: Record<string, (ctx: EditContext) => Proposal> = {
  addField(ctx) {
    const field = randomField(ctx.rng, ctx.names, "any", { forAdd: true, ...ctx.flavor });
    const fields = [...ctx.model.fields];
    fields.splice(ctx.rng.int(1, fields.length), 0, field);
    return { description: `add field ${field.name}${field.column !== field.name ? ` @map("${field.column}")` : ""} ${describeType(field)}`, next: { ...ctx.model, fields } };
  },
  removeField(ctx) {
    const { keys, aggregated } = viewColumns(ctx.views);
    const candidates = editable(ctx).filter((f) => !keys.has(f.column) && !aggregated.has(f.column));
    if (candidates.length === 0) return undefined;
    const field = ctx.rng.pick(candidates);
    return { description: `remove field ${field.name} (column ${field.column})`, next: replaceField(ctx.model, field.column, undefined) };
  },
  renameMapped(ctx) {
    const field = ctx.rng.pick(editable(ctx));
    const name = ctx.names.field();
    return { description: `rename field ${field.name} to ${name} @map("${field.column}")`, next: replaceField(ctx.model, field.column, { ...field, name }) };
  },
  renameColumn(ctx) {
    // A rename without @map: the old column is dropped and a new one added (README).
    const { keys, aggregated } = viewColumns(ctx.views);
    const candidates = editable(ctx).filter((f) => !keys.has(f.column) && !aggregated.has(f.column));
    if (candidates.length === 0) return undefined;
    const field = ctx.rng.pick(candidates);
    const name = ctx.names.field();
    const { columnDefault: _c, ...rest } = field;
    const renamed: Field = { ...rest, name, column: name, ...(field.default === undefined ? {} : { columnDefault: field.default }) };
    return { description: `rename field ${field.name} to ${name} without @map (column ${field.column} dropped, ${name} added)`, next: replaceField(ctx.model, field.column, renamed) };
  },
  widenInt(ctx) {
    const candidates = editable(ctx).filter((f) => f.type.kind === "int" && f.type.bits < 64);
    if (candidates.length === 0) return undefined;
    const field = ctx.rng.pick(candidates);
    const t = field.type as { bits: IntBits; signed: boolean };
    const bits = ctx.rng.pick(([16, 32, 64] as const).filter((b) => b > t.bits));
    const signed = t.signed || ctx.rng.chance(0.4);
    const next = retyped(field, { kind: "int", bits, signed }, field.small ? { small: true } : {});
    return { description: `widen ${field.name} from ${describeType(field)} to ${describeType(next)}`, next: replaceField(ctx.model, field.column, next) };
  },
  narrowInt(ctx) {
    const candidates = editable(ctx).filter((f) => f.type.kind === "int" && f.type.bits > 8);
    if (candidates.length === 0) return undefined;
    const field = ctx.rng.pick(candidates);
    const t = field.type as { bits: IntBits; signed: boolean };
    const bits = ctx.rng.pick(([8, 16, 32] as const).filter((b) => b < t.bits));
    const signed = t.signed ? !ctx.rng.chance(0.3) : ctx.rng.chance(0.3);
    const next = retyped(field, { kind: "int", bits, signed }, field.small ? { small: true } : {});
    // Out-of-range values wrap (CAST), in the table and in the log alike: in dev the log is
    // written under the old types before the ALTER, in production the worker converts them.
    return { description: `narrow ${field.name} from ${describeType(field)} to ${describeType(next)}`, next: replaceField(ctx.model, field.column, next) };
  },
  retype(ctx) {
    const { keys, aggregated } = viewColumns(ctx.views);
    const options: (() => Proposal)[] = [];
    const production = ctx.flavor?.production === true;
    for (const field of editable(ctx)) {
      const t = field.type;
      const isAgg = aggregated.has(field.column);
      const isKey = keys.has(field.column);
      const change = (next: Field, what: string, known?: string, refused?: string): Proposal => ({
        description: `retype ${field.name}: ${describeType(field)} -> ${describeType(next)} (${what})`,
        next: replaceField(ctx.model, field.column, next),
        ...(known ? { known } : {}),
        ...(refused ? { refused } : {}),
      });
      // Text checked before the change with accurateCastOrNull, which 18.16 lacks: there the ALTER decides.
      const textRefused = (convertible: boolean): [string | undefined, string | undefined] =>
        convertible ? [undefined, undefined] : production ? ["18.16 cannot check text before the change", undefined] : [undefined, "a stored text is no value of the new type"];
      if (t.kind === "int") {
        const range = intRange(t);
        if (!isAgg) options.push(() => change(retyped(field, { kind: "string", lc: !production && ctx.rng.chance(0.3) }, { domain: field.small ? { kind: "members", values: ["0", "1", "2", "3", "4"] } : { kind: "numeric", lo: range.lo, hi: range.hi } }), "int to String"));
        const whole = digitsOf(range.hi > -range.lo ? range.hi : range.lo);
        const scale = ctx.rng.pick([0, 2, 3]);
        if (whole + scale <= 38 && !production) options.push(() => change(retyped(field, { kind: "decimal", precision: Math.min(38, whole + scale + ctx.rng.int(0, 2)), scale }), "int to Decimal"));
      }
      if (t.kind === "decimal") {
        const scale = ctx.rng.pick([0, 1, 2, 3, 4, 6].filter((s) => s !== t.scale));
        const precision = Math.max(decimalWhole(t), 9) + scale;
        options.push(() => change(retyped(field, { kind: "decimal", precision, scale }), "decimal scale"));
        // A value past Int64 makes the change refused (convertible.ts); others are truncated.
        const past = [...ctx.used(field.column)].some((v) => {
          const whole = BigInt(v) / 1_000_000_000n;
          return whole < -(2n ** 63n) || whole >= 2n ** 63n;
        });
        options.push(() => change(retyped(field, { kind: "int", bits: 64, signed: true }), "Decimal to BigInt, truncating", undefined, past ? "a stored value is past Int64" : undefined));
      }
      if (t.kind === "datetime" && !isAgg) {
        const precision = ctx.rng.pick(([0, 3, 6] as const).filter((p) => p !== t.precision));
        options.push(() => change(retyped(field, { kind: "datetime", precision }), "timestamp precision"));
        // Rows in the table become CAST's text ("2030-01-02 03:04:05.123"), rows still in the
        // log when y is typed the writer's ISO text ("2030-01-02T03:04:05.123Z"): reported.
        // Both models take a timestamp's text and store it two ways ("2030-01-02 03:04:05.123"
        // converted, "2030-01-02T03:04:05.123Z" as sent): the test cannot tell which model took
        // a record sent while `y` applies; in production, records the old build left in Kafka
        // that the new model takes as they are keep ingest's text (README: Production).
        if (!isKey) options.push(() => change(retyped(field, { kind: "string", lc: false }, { domain: { kind: "free" } }), "DateTime to String", production ? "log records the new model takes keep their text" : "a timestamp sent while y applies is stored as either model stores it"));
      }
      if (t.kind === "bool" && !isAgg) options.push(() => change(retyped(field, { kind: "string", lc: ctx.rng.chance(0.5) }, { domain: { kind: "members", values: ["true", "false"] } }), "Boolean to String"));
      if (t.kind === "enum" && !isAgg) options.push(() => change(retyped(field, { kind: "string", lc: !production && ctx.rng.chance(0.5) }, { domain: { kind: "members", values: t.values.filter((v) => !(field.reserved ?? []).includes(v)) } }), "enum to String"));
      if (t.kind === "string") {
        if (!production) options.push(() => change(retyped(field, { kind: "string", lc: !t.lc }, field.domain ? { domain: field.domain } : {}), "LowCardinality toggled"));
        const domain = field.domain ?? { kind: "free" };
        // Values the table holds (probes send other strings too) must convert, or the change is a reported bug.
        const used = [...ctx.used(field.column)];
        const member = (v: string) => /^[a-z]+$/.test(v) && !["true", "false", "null"].includes(v);
        if (domain.kind === "members" && domain.values.every(member)) {
          const values = ctx.rng.shuffle([...new Set([...domain.values, ...used.filter(member), ...ctx.rng.shuffle([...WORDS]).slice(0, ctx.rng.int(0, 2))])]);
          // Enum members are checked by name, on every engine.
          const refused = used.every(member) ? undefined : "a stored text is no member of the enum";
          options.push(() => change(retyped(field, { kind: "enum", name: ctx.names.enumName(), values }, { domain: { kind: "members", values: domain.values } }), "String to enum", undefined, refused));
        }
        if (domain.kind === "numeric") {
          const fits = ([8, 16, 32, 64] as const).flatMap((bits) => [true, false].map((signed) => ({ bits, signed }))).filter((c) => intRange(c).lo <= domain.lo && intRange(c).hi >= domain.hi);
          const holds = (c: { bits: IntBits; signed: boolean }) => used.every((v) => /^-?\d+$/.test(v) && BigInt(v) >= intRange(c).lo && BigInt(v) <= intRange(c).hi);
          if (fits.length > 0) {
            const target = ctx.rng.pick(fits);
            options.push(() => change(retyped(field, { kind: "int", ...target }), "numeric String to int", ...textRefused(holds(target))));
          }
        }
        if (domain.kind === "free" && used.length > 0) options.push(() => change(retyped(field, { kind: "int", bits: 32, signed: true }), "free String to Int", ...textRefused(false)));
      }
    }
    if (options.length === 0) return undefined;
    return ctx.rng.pick(options)();
  },
  toggleOptional(ctx) {
    const field = ctx.rng.pick(editable(ctx));
    let next: Field = { ...field, optional: !field.optional };
    // Made required, the column gets the DEFAULT its NULLs become (plan.ts), if it had none.
    if (!next.optional && next.columnDefault === undefined) next = { ...next, columnDefault: next.default ?? zeroOf(next.type) };
    // ClickHouse 18.16 refuses MODIFY COLUMN to a non-Nullable type while the column holds NULLs, DEFAULT or not.
    const known = ctx.flavor?.production && !next.optional ? "18.16 cannot make a column holding NULLs non-Nullable" : undefined;
    return { description: `make ${field.name} ${next.optional ? "optional" : "required"} (${describeType(field)} -> ${describeType(next)})`, next: replaceField(ctx.model, field.column, next), ...(known ? { known } : {}) };
  },
  enumAdd(ctx) {
    const candidates = editable(ctx).filter((f) => f.type.kind === "enum");
    if (candidates.length === 0) return undefined;
    const field = ctx.rng.pick(candidates);
    const t = field.type as { name: string; values: readonly string[] };
    const fresh = WORDS.filter((w) => !t.values.includes(w));
    if (fresh.length === 0) return undefined;
    const value = ctx.rng.pick(fresh);
    const values = [...t.values];
    const at = ctx.rng.int(0, values.length);
    values.splice(at, 0, value);
    const reserved = ctx.rng.chance(0.5) ? [...(field.reserved ?? []), value] : field.reserved;
    const next: Field = { ...field, type: { kind: "enum", name: t.name, values }, ...(reserved ? { reserved } : {}) };
    return { description: `add enum value ${value} to ${t.name} (field ${field.name}) at position ${at + 1} of ${values.length}`, next: replaceField(ctx.model, field.column, next) };
  },
  enumRemove(ctx) {
    const candidates = editable(ctx).filter((f) => f.type.kind === "enum" && f.type.values.length > 2);
    if (candidates.length === 0) return undefined;
    const field = ctx.rng.pick(candidates);
    const t = field.type as { name: string; values: readonly string[] };
    const used = ctx.used(field.column);
    const unused = t.values.filter((v) => !used.has(v) && v !== field.default && v !== field.columnDefault);
    const holds = unused.length === 0;
    const value = ctx.rng.pick(holds ? t.values.filter((v) => v !== field.default && v !== field.columnDefault) : unused);
    const values = t.values.filter((v) => v !== value);
    const reserved = (field.reserved ?? []).filter((v) => v !== value);
    const next: Field = { ...field, type: { kind: "enum", name: t.name, values }, reserved };
    return {
      description: `remove enum value ${value} from ${t.name} (field ${field.name}; ${used.has(value) ? "rows hold it" : "no row holds it"})`,
      next: replaceField(ctx.model, field.column, next),
      ...(used.has(value) ? { refused: "rows hold the removed value" } : {}),
    };
  },
  changeDefault(ctx) {
    const field = ctx.rng.pick(editable(ctx));
    const rng = ctx.rng;
    let next: Field;
    if (field.default !== undefined && rng.chance(0.4)) {
      const { default: _d, ...rest } = field;
      next = rest;
    } else {
      next = { ...field, default: defaultValue(rng, field.type, field.domain, field.reserved) };
    }
    if (JSON.stringify(next.default?.toString()) === JSON.stringify(field.default?.toString())) return undefined;
    return { description: `attribute: ${field.name} ${describeType(field)} -> ${describeType(next)}`, next: replaceField(ctx.model, field.column, next) };
  },
  repointView(ctx) {
    // Not a model edit: a view now reads another column (rebuilt and backfilled).
    const numeric = editable(ctx).filter((f) => f.type.kind === "int" || f.type.kind === "decimal");
    const keyish = editable(ctx).filter((f) => f.type.kind === "enum" || f.type.kind === "bool" || (f.type.kind === "int" && f.small) || (f.type.kind === "string" && f.domain?.kind === "members"));
    if (ctx.views.length === 0) return undefined;
    const index = ctx.rng.int(0, ctx.views.length - 1);
    const view = ctx.views[index]!;
    let next: ViewSpec;
    if (ctx.rng.chance(0.3) && keyish.length > 1) {
      const key = ctx.rng.pick(keyish.filter((f) => f.column !== view.key));
      next = { ...view, key: key.column };
    } else {
      if (numeric.length === 0) return undefined;
      const i = ctx.rng.int(0, view.aggs.length - 1);
      const column = ctx.rng.pick(numeric).column;
      next = { ...view, aggs: view.aggs.map((a, j) => (j === i ? { ...a, column } : a)) };
    }
    if (JSON.stringify(next) === JSON.stringify(view)) return undefined;
    const views = ctx.views.map((v, j) => (j === index ? next : v));
    return { description: `view ${view.name} now reads ${next.key} / ${next.aggs.map((a) => `${a.fn}(${a.column})`).join(", ")}`, next: ctx.model, views };
  },
};

const WEIGHTS: readonly (readonly [number, string])[] = [
  [3, "addField"],
  [2, "removeField"],
  [2, "renameMapped"],
  [1, "renameColumn"],
  [3, "widenInt"],
  [2, "narrowInt"],
  [4, "retype"],
  [2, "toggleOptional"],
  [2, "enumAdd"],
  [1, "enumRemove"],
  [2, "changeDefault"],
  [1, "repointView"],
];

function weighted(rng: Rng): string {
  const total = WEIGHTS.reduce((s, [w]) => s + w, 0);
  let r = rng.float() * total;
  for (const [w, name] of WEIGHTS) {
    r -= w;
    if (r < 0) return name;
  }
  return WEIGHTS[WEIGHTS.length - 1]![1];
}

/**
 * ClickHouse 18.16 converts the hidden value under each NULL too (0 for an enum, "" for a
 * String), so a Nullable enum cannot become a String ("Unexpected value 0") nor a Nullable
 * String an enum or an integer ("Unknown element ''") while the column holds NULLs.
 */
function nullsBlock(a: Model, b: Model): boolean {
  return b.fields.some((f) => {
    const before = fieldByColumn(a, f.column);
    if (!before || !before.optional || sameColumnType(columnType(before), columnType(f))) return false;
    return (before.type.kind === "enum" && f.type.kind !== "enum") || (before.type.kind === "string" && f.type.kind !== "string");
  });
}

/** One random edit; sometimes two model edits saved at once (every change of the table then waits together). */
export function proposeEdit(ctx: EditContext): Edit {
  for (let attempt = 0; attempt < 100; attempt++) {
    let edit = proposeAny(ctx);
    // 18.16 has no accurateCastOrNull, so Igloo cannot tell that the DEFAULT does not convert there.
    if (ctx.flavor?.production && !edit.known && defaultBlocks(ctx.model, edit.next)) edit = { ...edit, known: "on 18.16, a column's DEFAULT that does not convert blocks the change" };
    if (ctx.flavor?.production && !edit.known && nullsBlock(ctx.model, edit.next)) edit = { ...edit, known: "18.16 converts a Nullable column's NULL rows too" };
    if (!edit.known || ctx.knownBugs) return edit;
  }
  throw new Error("no applicable edit found");
}

function proposeAny(ctx: EditContext): Edit {
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = EDITS[weighted(ctx.rng)]!(ctx);
    if (!first || (first.known && !ctx.knownBugs)) continue;
    if (first.views || !ctx.rng.chance(0.2)) return first;
    const second = EDITS[ctx.rng.pick(["addField", "widenInt", "toggleOptional", "renameMapped", "changeDefault"])]!({ ...ctx, model: first.next });
    if (!second || second.views || (second.known && !ctx.knownBugs)) return first;
    const refused = first.refused ?? second.refused;
    return { description: `${first.description}; and ${second.description}`, next: second.next, ...(first.known || second.known ? { known: first.known ?? second.known } : {}), ...(refused ? { refused } : {}) };
  }
  throw new Error("no applicable edit found");
}
