/**
 * Random values and records for the generative round-trip suite, valid and invalid, each
 * valid one with the row the README says comes back (Data models: Type mapping), worked
 * out here from the README's rules and never by Igloo's code:
 *
 * - valid inputs cover the edges (each integer width's min and max, 64- to 256-bit as digit
 *   strings, numbers and bigints; Decimal(p, s) at p and s; unicode with astral and
 *   control characters and empty strings; timestamps at their precision and at the range
 *   ends) and every documented input form (numbers or strings for wide ints and decimals,
 *   ISO-8601 with `Z`, offsets or no zone, epoch milliseconds, UUIDs in any case, a JSON
 *   number spelled `1e2` or `5.0`, missing optional fields and lists, `@default`s);
 * - invalid inputs hold one fault each (out of range, wrong type, missing required, null
 *   for a required field, unknown field, unknown enum value, more digits than the scale or
 *   precision, epoch seconds, a year out of range...), with the field the error must name
 *   and whether the generated client's types already refuse it.
 */
import type { GenDefault, GenField, GenModel, GenScalar } from "./genModel.ts";
import { Rng } from "./genRandom.ts";
import {
  dateText,
  daysFromCivil,
  civilFromDays,
  END_INSTANT,
  FIRST_DAY,
  FIRST_INSTANT,
  fractionDigits,
  instantOf,
  isoUtc,
  LAST_DAY,
  lastInstant,
  NS_PER_MS,
  NS_PER_S,
  nsToEpochMsText,
  partsOf,
  floorDiv,
} from "./genTime.ts";

// ---------------------------------------------------------------------------------------
// Inputs and expectations

/** A JSON number sent with this exact spelling (`1e2`, `-0`, `5.0`, `12.50`): HTTP bodies only. */
export class RawNumber {
  constructor(readonly text: string) {}
  get value(): number {
    return Number(this.text);
  }
}

export type Input = null | boolean | number | string | bigint | RawNumber | readonly Input[] | { readonly [key: string]: Input };

/** An expected value that is a rule rather than one value (`now()`, `uuid()`, Float32, JSON text). */
export class Matcher {
  constructor(
    readonly description: string,
    readonly test: (got: unknown) => boolean,
    /** The value it stands for, when it stands for one (a Float32). */
    readonly value?: unknown,
  ) {}
  toJSON(): string {
    return `<${this.description}>`;
  }
}

export type Expect = null | boolean | number | string | Matcher | readonly Expect[] | { readonly [key: string]: Expect };

/** Where a record is sent from: an HTTP body (raw spellings allowed) or the typed client (bigints allowed). */
export type Route = "http" | "client";

export interface Valid {
  readonly input: Input;
  readonly expected: Expect;
}

export interface Invalid {
  readonly input: Input;
  /** What is wrong, for the failure report. */
  readonly why: string;
  /** The generated client's input type refuses it too (a compile error, checked with @ts-expect-error). */
  readonly typeLevel: boolean;
  /**
   * A record nesting deeper than 67 levels: the README refuses such a body whole (400,
   * nothing stored) rather than the one record, so these are sent on their own.
   */
  readonly wholeBody?: boolean;
}

/** Set by the suite: with `strict`, also what known deviations keep out of the bounded run. */
export const generation = { strict: false };

/** `now()` defaults are checked against the time the records were sent. */
export const ingestWindow = { startMs: 0, endMs: Number.POSITIVE_INFINITY };

// ---------------------------------------------------------------------------------------
// Serialisation

export function jsonText(value: Input): string {
  if (value instanceof RawNumber) return value.text;
  if (typeof value === "bigint") throw new Error("a bigint cannot go into an HTTP body; the generator sends digit strings there");
  if (Object.is(value, -0)) return "-0";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`;
  return `{${Object.entries(value as Record<string, Input>).map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(",")}}`;
}

/** A value as the client is given it (no raw spellings there). */
export function clientValue(value: Input): unknown {
  if (value instanceof RawNumber) return value.value;
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(clientValue);
  return Object.fromEntries(Object.entries(value as Record<string, Input>).map(([k, v]) => [k, clientValue(v)]));
}

/** A TypeScript expression for a value, for the type check of the generated client. */
export function tsLiteral(value: unknown): string {
  if (value instanceof RawNumber) return tsLiteral(value.value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return Number.isFinite(value) ? (Object.is(value, -0) ? "-0" : String(value)) : value > 0 ? "Infinity" : "-Infinity";
  // U+2028 and U+2029 end a line for TypeScript's line numbers (JSON leaves them raw).
  const quote = (text: string) => JSON.stringify(text).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
  if (typeof value === "string") return quote(value);
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(tsLiteral).join(", ")}]`;
  return `{ ${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${quote(k)}: ${tsLiteral(v)}`).join(", ")} }`;
}

/** A short readable form of an input or expected value for failure reports. */
export function show(value: unknown, max = 300): string {
  const text = (() => {
    if (value instanceof RawNumber) return `${value.text} (raw JSON number)`;
    if (value instanceof Matcher) return `<${value.description}>`;
    if (typeof value === "bigint") return `${value}n`;
    if (value === undefined) return "undefined";
    try {
      return JSON.stringify(value, (_k, v: unknown) =>
        v instanceof RawNumber ? `${v.text} (raw)` : v instanceof Matcher ? `<${v.description}>` : typeof v === "bigint" ? `${v}n` : Object.is(v, -0) ? "-0 (negative zero)" : v,
      );
    } catch {
      return String(value);
    }
  })();
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

// ---------------------------------------------------------------------------------------
// Number helpers

/** The distance from `x` to the next double away from zero. */
export function ulp(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0) - Math.abs(x);
}

/**
 * Whether a JSON number written as the decimal `text` reaches the server as exactly that
 * decimal: the double it parses to must be nearer to it than to any other decimal with as
 * many fractional digits (else the digits after parsing are not the ones written, and
 * "never rounded" can only be kept by refusing it).
 */
export function exactAsJsonNumber(text: string): boolean {
  const x = Number(text);
  if (!Number.isFinite(x)) return false;
  const fraction = /\.(\d*?)0*$/.exec(text)?.[1] ?? "";
  return ulp(x) <= 10 ** -fraction.length;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

// ---------------------------------------------------------------------------------------
// Strings

const PIECES = [
  "", "a", "hello", " ", "  spaced  ", "é", "ß", "Ωmega", "日本語", "中文", "한국어", "עברית", "العربية", "e\u0301", "\u00a0",
  "\ufeff", "\u2028", "\u2029", "\u200b", "\u200d", "😀", "👨‍👩‍👧‍👦", "𝔘𝔫𝔦", "\u{10ffff}", "\u{1f1eb}\u{1f1f7}", "\t", "\n", "\r\n",
  "\u0000", "\u0001", "\u001f", "\u007f", "\u0080", "\u009f", '"', "'", "\\", "\\N", "NULL", "null", "true", "0", "-1", "1e3",
  "'; DROP TABLE x; --", '{"a":1}', "[1]", "<script>", "%s%n", "${x}", "`", "\\u0000", "\uffff", "\ufffd", "\u{1d11e}",
];

function randomString(rng: Rng): string {
  if (rng.chance(0.03)) return rng.pick(PIECES).repeat(rng.int(100, 2000)) + "end";
  let text = "";
  for (let i = rng.int(0, 5); i > 0; i--) text += rng.pick(PIECES);
  return text;
}

/** A string of at most `bytes` UTF-8 bytes (often exactly), never ending in NUL (FixedString pads with it). */
function fixedString(rng: Rng, bytes: number): string {
  const target = rng.chance(0.5) ? bytes : rng.int(0, bytes);
  const pool = PIECES.flatMap((p) => [...p]).filter((c) => c !== "\u0000");
  let text = "";
  for (let tries = 0; tries < 200 && utf8Length(text) < target; tries++) {
    const c = rng.pick(pool);
    if (utf8Length(text + c) <= target) text += c;
  }
  while (utf8Length(text) < target) text += "x";
  return text;
}

// ---------------------------------------------------------------------------------------
// Scalars: valid values

function intRange(bits: number, signed: boolean): { min: bigint; max: bigint } {
  return signed ? { min: -(2n ** BigInt(bits - 1)), max: 2n ** BigInt(bits - 1) - 1n } : { min: 0n, max: 2n ** BigInt(bits) - 1n };
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function pickInt(rng: Rng, min: bigint, max: bigint): bigint {
  const edges = [min, max, 0n, 1n, -1n, min + 1n, max - 1n, SAFE, -SAFE, SAFE + 1n, -SAFE - 1n, 2n ** 31n, 2n ** 32n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 63n), -(2n ** 63n) - 1n, 255n, 256n, -128n, -129n];
  const within = edges.filter((v) => v >= min && v <= max);
  if (rng.chance(0.35)) return rng.pick(within);
  // A random width, so small values are as common as huge ones.
  const span = max - min;
  const width = rng.int(1, span.toString(2).length);
  const magnitude = rng.bits(width);
  const value = rng.chance(0.5) && min < 0n ? -magnitude : magnitude;
  return value < min ? min : value > max ? max : value;
}

function smallIntSpelling(rng: Rng, v: number, route: Route): Input {
  if (route === "client" || rng.chance(0.7)) return v;
  if (v === 0) return new RawNumber(rng.pick(["0", "-0", "0.0", "0e5", "-0.000"]));
  if (v % 100 === 0) return new RawNumber(`${v / 100}e2`);
  if (v % 10 === 0) return new RawNumber(`${v / 10}E+1`);
  return new RawNumber(rng.pick([`${v}.0`, `${v}.000`, `${v}0e-1`]));
}

function validInt(type: Extract<GenScalar, { kind: "int" }>, rng: Rng, route: Route): Valid {
  const { min, max } = intRange(type.bits, type.signed);
  const v = pickInt(rng, min, max);
  if (type.bits <= 32) return { input: smallIntSpelling(rng, Number(v), route), expected: Number(v) };
  const expected = v.toString();
  const safe = v >= -SAFE && v <= SAFE;
  const form = rng.weighted<string>([
    [5, "string"],
    [safe ? 3 : 0, "number"],
    [2, "padded"],
    [route === "client" ? 3 : 0, "bigint"],
  ]);
  switch (form) {
    case "number":
      return { input: route === "http" ? smallIntSpelling(rng, Number(v), route) : Number(v), expected };
    case "padded":
      // "a string of digits": leading zeros are digits too; -0 is zero.
      return { input: v === 0n ? rng.pick(["-0", "000", "-000"]) : v < 0n ? `-00${-v}` : `00${v}`, expected };
    case "bigint":
      return { input: v, expected };
    default:
      return { input: expected, expected };
  }
}

const FLOAT_EDGES = [0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 0.1, 0.30000000000000004, 1 / 3, 2 ** 53 + 2, 1e21, 1e-7, 123456.789, -1, 42];
const FLOAT32_EDGES = [0, 1.401298464324817e-45, -1.401298464324817e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1.1754943508222875e-38, 1e-46, 0.1, 16777217, 1 / 3, -2.5, 65504];

function randomDouble(rng: Rng): number {
  for (;;) {
    const view = new DataView(new ArrayBuffer(8));
    view.setBigUint64(0, rng.bits(64));
    const x = view.getFloat64(0);
    if (Number.isFinite(x)) return x;
  }
}

function floatSpelling(rng: Rng, x: number, route: Route): Input {
  if (route === "client" || rng.chance(0.6)) return x;
  if (Object.is(x, -0)) return new RawNumber("-0");
  // Other spellings of the same double: more digits, an exponent.
  return new RawNumber(rng.pick([x.toPrecision(21), x.toExponential(), x.toExponential().toUpperCase(), String(x)]).replace(/^(-?)0+(\d)/, "$1$2"));
}

export function float32Matcher(x: number): Matcher {
  const want = Math.fround(x);
  return new Matcher(`a Float32 equal to fround(${Object.is(x, -0) ? "-0" : x}) = ${Object.is(want, -0) ? "-0" : want}`, (got) => typeof got === "number" && Object.is(Math.fround(got), want), x);
}

function validFloat(type: Extract<GenScalar, { kind: "float" }>, rng: Rng, route: Route): Valid {
  if (type.bits === 64) {
    const x = rng.weighted<() => number>([
      [3, () => rng.pick(FLOAT_EDGES)],
      [3, () => randomDouble(rng)],
      [3, () => Number((rng.float() * 10 ** rng.int(0, 12) * (rng.chance(0.5) ? -1 : 1)).toFixed(rng.int(0, 6)))],
      [route === "http" ? 1 : 0, () => -0],
    ])();
    // JSON.stringify (the client's) writes -0 as 0.
    const sent = route === "client" && Object.is(x, -0) ? 0 : x;
    return { input: floatSpelling(rng, sent, route), expected: sent };
  }
  const x = rng.weighted<() => number>([
    [3, () => rng.pick(FLOAT32_EDGES)],
    [3, () => Math.fround(randomDouble(rng) % 3.4e38)],
    [3, () => Number((rng.float() * 10 ** rng.int(0, 8) * (rng.chance(0.5) ? -1 : 1)).toFixed(rng.int(0, 4)))],
  ])();
  const sent = route === "client" && Object.is(x, -0) ? 0 : x;
  return { input: floatSpelling(rng, sent, route), expected: float32Matcher(sent) };
}

function decimalText(rng: Rng, precision: number, scale: number): { sign: string; whole: string; fraction: string } {
  const wholeMax = precision - scale;
  const shape = rng.weighted<string>([[2, "max"], [1, "zero"], [2, "step"], [6, "random"]]);
  const sign = rng.chance(0.4) ? "-" : "";
  const nines = (n: number) => "9".repeat(n);
  if (shape === "max") return { sign, whole: wholeMax === 0 ? "0" : nines(wholeMax), fraction: nines(scale) };
  if (shape === "zero") return { sign, whole: "0", fraction: "" };
  if (shape === "step") return { sign, whole: "0", fraction: scale === 0 ? "" : `${"0".repeat(scale - 1)}1` };
  const wholeDigits = rng.int(0, wholeMax);
  const fractionDigits = rng.int(0, scale);
  const whole = wholeDigits === 0 ? "0" : `${rng.int(1, 9)}${rng.digits(wholeDigits - 1)}`;
  const fraction = fractionDigits === 0 ? "" : `${rng.digits(fractionDigits - 1)}${rng.int(1, 9)}`;
  return { sign, whole, fraction };
}

/** The README's row form of a decimal: exactly `scale` decimals, no sign on zero. */
export function canonicalDecimal(sign: string, whole: string, fraction: string, scale: number): string {
  const w = whole.replace(/^0+(?=\d)/, "");
  const f = fraction.replace(/0+$/, "");
  const zero = /^0*$/.test(w) && f === "";
  return `${zero ? "" : sign}${w === "" ? "0" : w}${scale === 0 ? "" : `.${f.padEnd(scale, "0")}`}`;
}

function validDecimal(type: Extract<GenScalar, { kind: "decimal" }>, rng: Rng, route: Route): Valid {
  const { sign, whole, fraction } = decimalText(rng, type.precision, type.scale);
  const expected = canonicalDecimal(sign, whole, fraction, type.scale);
  const plain = `${sign}${whole}${fraction === "" ? "" : `.${fraction}`}`;
  if (rng.chance(0.4) && exactAsJsonNumber(plain)) {
    const x = Number(plain);
    if (route === "client") return { input: x, expected };
    // Trailing zeros and exponents are spellings of the same JSON number.
    const spelled = rng.weighted<string>([[3, plain], [1, fraction === "" ? `${plain}.00` : `${plain}00`], [1, x.toExponential()]]);
    return { input: new RawNumber(spelled), expected };
  }
  const zeros = rng.chance(0.2) ? "0".repeat(rng.int(1, 3)) : "";
  const padded = `${sign}${rng.chance(0.15) ? "00" : ""}${whole}${fraction === "" && zeros === "" ? "" : `.${fraction}${zeros}`}`;
  return { input: padded, expected };
}

// Timestamps ------------------------------------------------------------------------------

const ISO_EDGES = [
  instantOf(1970, 1, 1),
  instantOf(1970, 1, 1, 0, 0, 0, 1_000_000n),
  instantOf(1969, 12, 31, 23, 59, 59, 999_999_999n),
  100_000_000_000n * NS_PER_MS, // 1e11 ms: the first epoch number that is not refused as seconds
  -100_000_000_000n * NS_PER_MS,
  instantOf(2038, 1, 19, 3, 14, 7),
  instantOf(2038, 1, 19, 3, 14, 8),
  instantOf(2106, 2, 7, 6, 28, 15),
  instantOf(2106, 2, 7, 6, 28, 16),
  instantOf(2000, 2, 29, 12),
  instantOf(1900, 2, 28, 23, 59, 59, 999_999_999n),
  instantOf(1900, 3, 1),
  instantOf(2100, 3, 1),
  instantOf(2262, 4, 11, 23, 47, 16, 854_775_807n),
  instantOf(2299, 12, 31, 23, 59, 59, 999_999_999n),
];

function pickInstant(rng: Rng, precision: number): bigint {
  const last = lastInstant(precision);
  let instant = rng.weighted<() => bigint>([
    [2, () => FIRST_INSTANT],
    [2, () => last],
    [3, () => rng.pick(ISO_EDGES)],
    [8, () => rng.bigint(FIRST_INSTANT, last)],
    [4, () => rng.bigint(instantOf(2000, 1, 1), instantOf(2040, 1, 1))],
  ])();
  // Keep 0..precision significant fractional digits.
  const digits = rng.weighted([[2, precision], [1, 0], [2, rng.int(0, precision)]]);
  const unit = 10n ** BigInt(9 - digits);
  instant = floorDiv(instant, unit) * unit;
  if (instant > last) instant = floorDiv(last, unit) * unit;
  return instant < FIRST_INSTANT ? FIRST_INSTANT : instant;
}

const OFFSETS = [60, -60, 330, -210, 840, -720, 0, 345, -570, 1439, -1439, 1];

function offsetText(minutes: number, rng: Rng, negativeZero = false): string {
  const sign = minutes < 0 || negativeZero ? "-" : "+";
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return rng.chance(0.8) ? `${sign}${hh}:${mm}` : `${sign}${hh}${mm}`;
}

/** An ISO-8601 spelling of `instant`: `Z`, an offset or no zone, `T`/`t`/space, extra trailing zeros. */
function isoText(instant: bigint, rng: Rng, options: { zone?: "Z" | "offset" | "none"; minDigits?: number } = {}): string {
  const zone = options.zone ?? rng.weighted<"Z" | "offset" | "none">([[5, "Z"], [4, "offset"], [1, "none"]]);
  const offset = zone === "offset" ? rng.pick(OFFSETS) : 0;
  const local = instant + BigInt(offset) * 60n * NS_PER_S;
  const p = partsOf(local);
  const significant = Math.max(fractionDigits(instant), options.minDigits ?? 0);
  const shown = rng.chance(0.3) ? rng.int(significant, 9) : significant;
  const fraction = shown === 0 ? (rng.chance(0.2) ? ".000" : "") : `.${p.ns.toString().padStart(9, "0").slice(0, shown)}`;
  const separator = rng.weighted([[8, "T"], [1, "t"], [1, " "]]);
  const zoneText = zone === "Z" ? (rng.chance(0.9) ? "Z" : "z") : zone === "none" ? "" : offsetText(offset, rng, offset === 0 && rng.chance(0.5));
  const pad = (n: number) => String(n).padStart(2, "0");
  if (fraction === "" && p.s === 0 && rng.chance(0.15)) {
    // Minutes only, and a bare date at midnight UTC.
    if (p.h === 0 && p.mi === 0 && zone !== "offset" && rng.chance(0.5)) return dateText(p);
    return `${dateText(p)}${separator}${pad(p.h)}:${pad(p.mi)}${zoneText}`;
  }
  return `${dateText(p)}${separator}${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}${fraction}${zoneText}`;
}

/** Epoch milliseconds of `instant`, when it is a number the README accepts and JSON carries exactly. */
function epochSpelling(instant: bigint, rng: Rng, route: Route): Input | undefined {
  const text = nsToEpochMsText(instant);
  const ms = Number(text);
  if (Math.abs(ms) < 1e11 || !exactAsJsonNumber(text)) return undefined;
  if (route === "client") return ms;
  if (!text.includes(".") && rng.chance(0.2)) return new RawNumber(ms.toExponential());
  return new RawNumber(text);
}

function validDateTime(type: Extract<GenScalar, { kind: "datetime" }>, rng: Rng, route: Route): Valid {
  const instant = pickInstant(rng, type.precision);
  const expected = isoUtc(instant, type.precision);
  if (rng.chance(0.3)) {
    const epoch = epochSpelling(instant, rng, route);
    if (epoch !== undefined) return { input: epoch, expected };
  }
  return { input: isoText(instant, rng), expected };
}

function validDate(rng: Rng): Valid {
  const day = rng.weighted<() => number>([
    [2, () => FIRST_DAY],
    [2, () => LAST_DAY],
    [2, () => rng.pick([daysFromCivil(2000, 2, 29), daysFromCivil(2024, 2, 29), daysFromCivil(1904, 2, 29), daysFromCivil(1970, 1, 1), daysFromCivil(1969, 12, 31), daysFromCivil(2149, 6, 6), daysFromCivil(2149, 6, 7)])],
    [6, () => rng.int(FIRST_DAY, LAST_DAY)],
  ])();
  const text = dateText({ ...civilFromDays(day), mo: civilFromDays(day).m });
  return { input: text, expected: text };
}

// JSON ---------------------------------------------------------------------------------

function randomJson(rng: Rng, depth: number, native: boolean): Input {
  const leaf = (): Input =>
    rng.weighted<() => Input>([
      [3, () => randomString(rng)],
      [native ? 1 : 2, () => rng.int(-1e6, 1e6)],
      [2, () => Number((rng.float() * 1000 - 500).toFixed(rng.int(1, 6))) || 0.5],
      [1, () => rng.chance(0.5)],
      [native ? 0 : 1, () => null],
      [native ? 0 : 1, () => rng.pick([12345678901234567890, 9007199254740993, 1e300, -0.0001, 5e-324])],
    ])();
  if (depth <= 0) return leaf();
  return rng.weighted<() => Input>([
    [3, leaf],
    [native ? 1 : 2, () => Array.from({ length: rng.int(0, 3) }, () => (native ? randomString(rng) : randomJson(rng, depth - 1, native)))],
    [2, () => jsonObject(rng, depth - 1, native)],
  ])();
}

function jsonObject(rng: Rng, depth: number, native: boolean): { [key: string]: Input } {
  const out: { [key: string]: Input } = {};
  for (let i = rng.int(0, 4); i > 0; i--) {
    // Native JSON splits dotted keys into paths, so those keys are plain words there.
    const key = native ? `${rng.pick(["a", "b", "name", "n", "list", "deep", "x_y", "Ü", "キー"])}${i}` : rng.weighted([[3, `k${i}`], [1, randomString(rng)], [1, String(i)]]);
    out[key] = randomJson(rng, depth, native);
  }
  return out;
}

/** `depth` arrays and objects around a number: the README allows nesting up to 64. */
function nested(depth: number): Input {
  let value: Input = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { d: value };
  return value;
}

/** JSON text: compared as JSON values (key order and spacing are the text's, not the value's). */
export function jsonTextMatcher(value: unknown): Matcher {
  const want = JSON.parse(JSON.stringify(value)) as unknown;
  return new Matcher(
    `JSON text of ${show(want, 120)}`,
    (got) => {
      if (typeof got !== "string") return false;
      try {
        return deepEqual(JSON.parse(got), want);
      } catch {
        return false;
      }
    },
    { jsonText: want },
  );
}

function validJson(type: Extract<GenScalar, { kind: "json" }>, rng: Rng, shallow: boolean): Valid {
  if (type.native) {
    const value = jsonObject(rng, rng.int(0, 2), true);
    return { input: value, expected: value as Expect };
  }
  let value = !shallow && rng.chance(0.05) ? nested(rng.pick([62, 63, 64])) : randomJson(rng, rng.int(0, 3), false);
  // A null field is the field's null (the `T?` row), not JSON text "null"; nested nulls are values.
  if (value === null) value = "null";
  return { input: value, expected: jsonTextMatcher(value) };
}

// Others ------------------------------------------------------------------------------

function randomUuid(rng: Rng): string {
  const hex = rng.bits(128).toString(16).padStart(32, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function validUuid(rng: Rng): Valid {
  const uuid = rng.weighted<() => string>([
    [1, () => "00000000-0000-0000-0000-000000000000"],
    [1, () => "ffffffff-ffff-ffff-ffff-ffffffffffff"],
    [6, () => randomUuid(rng)],
  ])();
  const spelled = rng.weighted<() => string>([
    [3, () => uuid],
    [1, () => uuid.toUpperCase()],
    [1, () => [...uuid].map((c) => (rng.chance(0.5) ? c.toUpperCase() : c)).join("")],
  ])();
  return { input: spelled, expected: uuid };
}

function validBytes(rng: Rng): Valid {
  const bytes = new Uint8Array(rng.weighted([[1, 0], [4, rng.int(1, 40)], [1, rng.int(100, 400)]]));
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
  const text = Buffer.from(bytes).toString("base64");
  return { input: text, expected: text };
}

/**
 * `shallow`: no Json nested near the limit. A rejected record is searched for hostile
 * nesting counted from the body's top (the array and the record add two levels), so a
 * 64-deep Json value in an otherwise rejected record would refuse the whole body.
 */
export function validScalar(type: GenScalar, rng: Rng, route: Route, shallow = false): Valid {
  switch (type.kind) {
    case "string": {
      const text = type.fixed === undefined ? randomString(rng) : fixedString(rng, type.fixed);
      return { input: text, expected: text };
    }
    case "uuid":
      return validUuid(rng);
    case "bool": {
      const b = rng.chance(0.5);
      return { input: b, expected: b };
    }
    case "int":
      return validInt(type, rng, route);
    case "float":
      return validFloat(type, rng, route);
    case "decimal":
      return validDecimal(type, rng, route);
    case "datetime":
      return validDateTime(type, rng, route);
    case "date":
      return validDate(rng);
    case "json":
      return validJson(type, rng, shallow);
    case "bytes":
      return validBytes(rng);
    case "enum": {
      const value = rng.pick(type.values);
      return { input: value, expected: value };
    }
  }
}

// ---------------------------------------------------------------------------------------
// Scalars: invalid values

type Maker = readonly [weight: number, make: () => Invalid | undefined];

const bad = (input: Input, why: string, typeLevel: boolean): Invalid => ({ input, why, typeLevel });

function invalidInt(type: Extract<GenScalar, { kind: "int" }>, rng: Rng, route: Route): Maker[] {
  const { min, max } = intRange(type.bits, type.signed);
  const wide = type.bits > 32;
  const asInput = (v: bigint): Input => (wide ? v.toString() : Number(v));
  return [
    [3, () => bad(asInput(max + 1n), `max + 1 of ${type.signed ? "" : "U"}Int${type.bits}`, false)],
    [3, () => bad(asInput(min - 1n), `min - 1 of ${type.signed ? "" : "U"}Int${type.bits}`, false)],
    [type.signed ? 0 : 1, () => bad(-1, "a negative number for an unsigned type", false)],
    [2, () => bad(rng.pick([1.5, -0.25, 1e-9]), "not an integer", false)],
    [wide ? 2 : 0, () => bad(9007199254740992, "a number beyond 2^53 (JSON numbers lose digits there)", false)],
    [wide ? 2 : 0, () => bad(rng.pick(["1.5", "", " 1", "1 ", "+1", "0x10", "1e3", "١٢", "1_000", "--1", "NaN"]), "not a string of digits", false)],
    [wide ? 0 : 2, () => bad(String(rng.int(0, 100)), "a string for an Int", true)],
    [wide ? 0 : 1, () => bad(2 ** 53, "far out of range", false)],
    [1, () => bad(rng.pick([true, false]), "a boolean", true)],
    [1, () => bad({ n: 1 }, "an object", true)],
    [route === "http" ? 1 : 0, () => bad(new RawNumber(rng.pick(["1e999", "-1e999"])), "a JSON number beyond double range (Infinity)", false)],
  ];
}

function invalidFloat(type: Extract<GenScalar, { kind: "float" }>, rng: Rng, route: Route): Maker[] {
  return [
    [type.bits === 32 ? 4 : 0, () => bad(rng.pick([3.5e38, -3.5e38, 1e39, 1.7976931348623157e308]), "beyond the Float32 range", false)],
    [2, () => bad(rng.pick(["1.5", "NaN", "Infinity", ""]), "a string", true)],
    [1, () => bad(true, "a boolean", true)],
    [1, () => bad([1.5], "an array", true)],
    [route === "http" ? 2 : 0, () => bad(new RawNumber(rng.pick(["1e999", "-1e999"])), "a JSON number beyond double range (Infinity)", false)],
  ];
}

function invalidDecimal(type: Extract<GenScalar, { kind: "decimal" }>, rng: Rng, route: Route): Maker[] {
  const { precision: p, scale: s } = type;
  const wholeMax = p - s;
  return [
    [4, () => bad(`${rng.chance(0.5) ? "-" : ""}${rng.int(0, 9)}.${rng.digits(s)}${rng.int(1, 9)}`, `${s + 1} fractional digits for scale ${s}`, false)],
    [3, () => bad(`${rng.chance(0.5) ? "-" : ""}${rng.int(1, 9)}${rng.digits(wholeMax)}`, `${wholeMax + 1} integer digits for Decimal(${p}, ${s})`, false)],
    [
      s < 9 ? 2 : 0,
      () => {
        const text = `${rng.int(0, 99)}.${rng.digits(s)}${rng.int(1, 9)}`;
        return exactAsJsonNumber(text) ? bad(route === "http" ? new RawNumber(text) : Number(text), `a number with ${s + 1} fractional digits`, false) : undefined;
      },
    ],
    [2, () => bad(route === "http" ? new RawNumber(rng.pick(["12345678901234567890", "0.30000000000000004", "1e25", "123456789012345678.5"])) : rng.pick([12345678901234567890, 0.1 + 0.2, 1e25]), "a JSON number whose digits a double cannot hold", false)],
    [3, () => bad(rng.pick(["abc", "1,5", "", " 1", "1 ", "+1", "--1", "0x10", "١٢", "Infinity", "NaN", "1.2.3", "-"]), "not a decimal string", false)],
    [1, () => bad(rng.pick([true, false]), "a boolean", true)],
    [1, () => bad({ v: "1" }, "an object", true)],
    [route === "http" ? 1 : 0, () => bad(new RawNumber("1e999"), "a JSON number beyond double range (Infinity)", false)],
  ];
}

function invalidDateTime(type: Extract<GenScalar, { kind: "datetime" }>, rng: Rng, route: Route): Maker[] {
  const p = type.precision;
  const unit = 10n ** BigInt(9 - p);
  const last = lastInstant(p);
  return [
    [
      3,
      () => {
        // One more significant digit than the column keeps.
        if (p === 9) return bad(`2026-03-04T05:06:07.${rng.digits(9)}${rng.int(1, 9)}Z`, "10 fractional digits", false);
        const finer = 10n ** BigInt(8 - p);
        const instant = rng.bigint(instantOf(1990, 1, 1), instantOf(2050, 1, 1)) / unit * unit + finer * BigInt(rng.int(1, 9));
        return bad(isoText(instant, rng, { minDigits: p + 1 }), `${p + 1} significant fractional digits for DateTime64(${p})`, false);
      },
    ],
    [
      p < 6 ? 2 : 0,
      () => {
        const ms = rng.int(1e12, 1.8e12);
        const text = `${ms}.${rng.digits(Math.max(0, p - 3))}${rng.int(1, 9)}`;
        return exactAsJsonNumber(text) ? bad(route === "http" ? new RawNumber(text) : Number(text), `epoch ms with more sub-millisecond digits than DateTime64(${p}) keeps`, false) : undefined;
      },
    ],
    [
      p >= 5 && route === "http" ? 2 : 0,
      () => {
        // Near 2299 a double holds about 2 fractional digits of a millisecond: 3 written
        // digits cannot all reach the server as written.
        const text = `${rng.int(9_000_000_000_000, 10_413_791_999_999)}.${rng.digits(2)}${rng.int(1, 9)}`;
        return exactAsJsonNumber(text) ? undefined : bad(new RawNumber(text), "epoch ms with sub-millisecond digits a double cannot hold", false);
      },
    ],
    [3, () => bad(isoText(FIRST_INSTANT - unit, rng), "the instant before 1900-01-01", false)],
    [3, () => bad(isoText(last + unit, rng), `the instant after the last one DateTime64(${p}) holds`, false)],
    [p === 9 ? 2 : 0, () => bad(isoText(rng.bigint(last + 1n, END_INSTANT - 1n), rng), "after 2262-04-11T23:47:16.854775807Z, beyond Int64 nanoseconds", false)],
    [
      3,
      () => {
        const n = rng.pick([0, 1, -1, 1767225600, 1767225600.5, 99_999_999_999, -99_999_999_999, rng.int(-1e11 + 1, 1e11 - 1)]);
        return bad(n, "epoch seconds (a number within 1e11 of 0)", false);
      },
    ],
    [1, () => bad(rng.pick([-2208988800001, 10413792000000, 1e15, -1e15]), "epoch milliseconds outside 1900-2299", false)],
    [2, () => bad(rng.pick(["2023-02-29T00:00:00Z", "2100-02-29T12:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-01-00T00:00:00Z"]), "not a calendar date", false)],
    [2, () => bad(rng.pick(["2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-12-31T23:59:60Z", "2024-01-01T12:00:00+24:00", "2024-01-01T12:00:00+05:60"]), "a time of day or offset out of range", false)],
    [2, () => bad(rng.pick(["", "now", "2024-01-01T", "2024-01-01T10", "2024-01-01T10:00:00ZZ", " 2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z ", "1767225600000", "2024-01-01T10:00:00.Z", "2024/01/01 10:00:00", "01/02/2024"]), "not an ISO-8601 timestamp", false)],
    [2, () => bad(rng.pick(["0050-06-01T00:00:00+01:00", "0099-12-31T23:00:00-02:00", "0001-01-01T00:00:00+00:30", "0000-03-01T00:00:00-00:01"]), "a year before 1900 (written with an offset)", false)],
    [2, () => bad(rng.pick(["1899-12-31T23:30:00+00:00", "1900-01-01T00:30:00+01:00", "2299-12-31T23:30:00-01:00", "2300-01-01T00:00:00+00:00"]), "an offset that moves the instant out of 1900-2299", false)],
    [1, () => bad(rng.pick([true, false]), "a boolean", true)],
    [1, () => bad({ at: "2024-01-01T00:00:00Z" }, "an object", true)],
    [route === "http" ? 1 : 0, () => bad(new RawNumber("1e999"), "a JSON number beyond double range (Infinity)", false)],
  ];
}

function invalidDate(rng: Rng): Maker[] {
  return [
    [3, () => bad(rng.pick(["1899-12-31", "2300-01-01", "0050-06-01", "9999-12-31"]), "a date outside 1900-2299", false)],
    [3, () => bad(rng.pick(["2023-02-29", "1900-02-29", "2100-02-29", "2024-13-01", "2024-04-31", "2024-00-01"]), "not a calendar date", false)],
    [3, () => bad(rng.pick(["2024-1-01", "20240101", "2024-01-01T00:00:00Z", "2024-01-01 ", "", "01/01/2024", "2024-01-01Z"]), "not YYYY-MM-DD", false)],
    [1, () => bad(rng.pick([1704067200000, 20240101]), "a number", true)],
    [1, () => bad(true, "a boolean", true)],
  ];
}

function invalidString(type: Extract<GenScalar, { kind: "string" }>, rng: Rng): Maker[] {
  const n = type.fixed ?? 0;
  return [
    [type.fixed === undefined ? 0 : 4, () => bad(rng.pick(["x".repeat(n + 1), `${"x".repeat(Math.max(0, n - 1))}é`, `${"x".repeat(Math.max(0, n - 1))}😀`, "é".repeat(Math.ceil((n + 1) / 2))]), `more than ${n} UTF-8 bytes`, false)],
    [2, () => bad(rng.pick([42, 0, -1.5]), "a number", true)],
    [1, () => bad(rng.pick([true, false]), "a boolean", true)],
    [1, () => bad({ s: "x" }, "an object", true)],
    [2, () => bad(rng.pick(["lone \ud800 high surrogate", "\udfff", "a\udc00b"]), "a lone surrogate (not Unicode text, cannot be UTF-8)", false)],
  ];
}

function invalidScalarMakers(type: GenScalar, rng: Rng, route: Route): Maker[] {
  switch (type.kind) {
    case "string":
      return invalidString(type, rng);
    case "uuid":
      return [
        [4, () => bad(rng.pick(["", "0f8fad5bd9cb469fa16570867728950e", "{0f8fad5b-d9cb-469f-a165-70867728950e}", "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950g", "0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5b-d9cb-469f-a165-70867728950e0", " 0f8fad5b-d9cb-469f-a165-70867728950e"]), "not a canonical UUID", false)],
        [1, () => bad(42, "a number", true)],
        [1, () => bad(true, "a boolean", true)],
      ];
    case "bool":
      return [
        [3, () => bad(rng.pick(["true", "false", "yes", "1", ""]), "a string", true)],
        [2, () => bad(rng.pick([0, 1]), "a number", true)],
        [1, () => bad({}, "an object", true)],
      ];
    case "int":
      return invalidInt(type, rng, route);
    case "float":
      return invalidFloat(type, rng, route);
    case "decimal":
      return invalidDecimal(type, rng, route);
    case "datetime":
      return invalidDateTime(type, rng, route);
    case "date":
      return invalidDate(rng);
    case "json":
      return type.native
        ? [
            [3, () => bad(rng.pick(["text", 42, true]), "not an object", true)],
            [1, () => bad([{ a: "x" }], "an array", false)],
            [1, () => ({ ...bad({ deep: nested(70) }, "nested deeper than 67 in the record", false), wholeBody: true })],
            [1, () => bad({ deep: nested(64) }, "nested deeper than 64", false)],
          ]
        : [
            [2, () => bad(nested(65), "nested deeper than 64", false)],
            [2, () => ({ ...bad(nested(rng.pick([70, 80])), "nested deeper than 67 in the record", false), wholeBody: true })],
            [route === "http" ? 1 : 0, () => bad({ n: new RawNumber("1e999") }, "a number beyond double range inside", false)],
          ];
    case "bytes":
      return [
        [4, () => bad(rng.pick(["abc", "ab=c", "Zm9v\n", "Zm9v YmFy", "Zm9v_-8=", "====", "Zm9vYg", "Zm9v!"]), "not base64", false)],
        [1, () => bad(42, "a number", true)],
        [1, () => bad([1, 2], "an array", true)],
      ];
    case "enum": {
      const value = type.values[0]!;
      const variants = [`${value}x`, value.toUpperCase() === value ? value.toLowerCase() : value.toUpperCase(), "", ` ${value}`, "unknown_value"].filter((v) => !type.values.includes(v));
      return [
        [4, () => bad(rng.pick(variants), "not one of the enum's values", true)],
        [1, () => bad(1, "a number (an enum's index)", true)],
        [1, () => bad(true, "a boolean", true)],
      ];
    }
  }
}

export function invalidScalar(type: GenScalar, rng: Rng, route: Route): Invalid {
  const makers = invalidScalarMakers(type, rng, route);
  for (let attempt = 0; attempt < 20; attempt++) {
    const made = rng.weighted(makers.filter(([w]) => w > 0).map(([w, make]) => [w, make] as const))();
    if (made !== undefined) return made;
  }
  return bad({ wrong: "type" }, "an object", type.kind !== "json" || type.native);
}

// ---------------------------------------------------------------------------------------
// Defaults

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A literal `@default(...)` for a field of this type, with the value it stands for. */
export function defaultLiteral(type: GenScalar, list: boolean, rng: Rng): GenDefault | undefined {
  if (list) {
    // `@default([])`, or a few literals of the kinds Prisma writes in lists.
    if (type.kind === "json") {
      // Each item is JSON text in a string, as for a single Json default.
      const items = rng.pick<Input[]>([[], [{}], [[1, "two"], "text"], [{ a: "x" }]]).filter((v) => !type.native || (typeof v === "object" && v !== null && !Array.isArray(v)));
      return { kind: "literal", prisma: `[${items.map((v) => JSON.stringify(JSON.stringify(v))).join(", ")}]`, expected: items.map((v) => (type.native ? (v as Expect) : jsonTextMatcher(v))) };
    }
    if (type.kind === "bytes" || type.kind === "uuid") return rng.chance(0.5) ? undefined : { kind: "literal", prisma: "[]", expected: [] };
    if (rng.chance(0.4)) return { kind: "literal", prisma: "[]", expected: [] };
    const items = Array.from({ length: rng.int(1, 3) }, () => defaultLiteral(type, false, rng)).filter((d): d is Extract<GenDefault, { kind: "literal" }> => d?.kind === "literal");
    return { kind: "literal", prisma: `[${items.map((d) => d.prisma).join(", ")}]`, expected: items.map((d) => d.expected) };
  }
  switch (type.kind) {
    case "string": {
      if (type.fixed === undefined && rng.chance(0.2)) return { kind: "uuid" };
      const text = type.fixed === undefined ? rng.pick(["fallback", "", "é ☃ 😀", 'q"uote', "back\\slash", "tab\there", "line\nbreak", "\u0001ctl"]) : fixedString(rng, type.fixed);
      return { kind: "literal", prisma: JSON.stringify(text), expected: text };
    }
    case "uuid":
      return { kind: "uuid" };
    case "bool": {
      const b = rng.chance(0.5);
      return { kind: "literal", prisma: String(b), expected: b };
    }
    case "int": {
      const { min, max } = intRange(type.bits, type.signed);
      const v = rng.pick([min, max, 0n, 7n].filter((x) => x >= min && x <= max));
      return { kind: "literal", prisma: v.toString(), expected: type.bits <= 32 ? Number(v) : v.toString() };
    }
    case "float": {
      const text = rng.pick(["1.5", "-0.25", "0", "1e3", "0.1", "-2"]);
      return { kind: "literal", prisma: text, expected: type.bits === 32 ? float32Matcher(Number(text)) : Number(text) };
    }
    case "decimal": {
      const { sign, whole, fraction } = decimalText(rng, type.precision, type.scale);
      return { kind: "literal", prisma: `${sign}${whole}${fraction === "" ? "" : `.${fraction}`}`, expected: canonicalDecimal(sign, whole, fraction, type.scale) };
    }
    case "datetime": {
      if (rng.chance(0.5)) return { kind: "now" };
      const instant = pickInstant(rng, type.precision);
      // Every spelling the validator takes (a lowercase `t` or `z` once stopped `igloo dev`).
      return { kind: "literal", prisma: JSON.stringify(isoText(instant, rng)), expected: isoUtc(instant, type.precision) };
    }
    case "date": {
      if (rng.chance(0.5)) return { kind: "now" };
      const { input } = validDate(rng);
      return { kind: "literal", prisma: JSON.stringify(input), expected: input as string };
    }
    case "json": {
      const value = type.native ? { a: "x", n: { b: true } } : rng.pick<Input>([{}, [1, "two"], { a: { b: [true, null] } }, "text", 42]);
      return { kind: "literal", prisma: JSON.stringify(JSON.stringify(value)), expected: type.native ? (value as Expect) : jsonTextMatcher(value) };
    }
    case "bytes": {
      const { input } = validBytes(rng);
      return { kind: "literal", prisma: JSON.stringify(input), expected: input as string };
    }
    case "enum": {
      const value = rng.pick(type.values);
      return { kind: "literal", prisma: value, expected: value };
    }
  }
}

/** What a missing field with this default holds in its row. */
export function defaultExpectation(field: GenField): Expect {
  const d = field.default!;
  if (d.kind === "literal") return d.expected;
  if (d.kind === "uuid") return new Matcher("a new lowercase UUID (uuid())", (got) => typeof got === "string" && UUID_TEXT.test(got));
  const type = field.type;
  if (type.kind === "date") {
    return new Matcher("today's UTC date (now())", (got) => {
      const days = (ms: number) => new Date(ms).toISOString().slice(0, 10);
      return typeof got === "string" && got >= days(ingestWindow.startMs) && got <= days(ingestWindow.endMs);
    });
  }
  const precision = type.kind === "datetime" ? type.precision : 3;
  return new Matcher(`the ingest time at precision ${precision} (now())`, (got) => {
    if (typeof got !== "string") return false;
    const pattern = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d${precision === 0 ? "" : `\\.\\d{${precision}}`}Z$`);
    const ms = Date.parse(got);
    return pattern.test(got) && ms >= Math.floor(ingestWindow.startMs / 1000) * 1000 - 1000 && ms <= ingestWindow.endMs + 1000;
  });
}

// ---------------------------------------------------------------------------------------
// Records

export interface GenRecord {
  /** The key field's value: rows are matched by it. */
  readonly key: string;
  /** The record as sent (or, for a record that is not an object, that value). */
  readonly input: Input;
  readonly route: Route;
  /** Valid records: the row /query answers, by column. */
  readonly expected?: { readonly [column: string]: Expect };
  /** Invalid records: the one fault, and the name the error message must give. */
  readonly fault?: { readonly names: string | undefined; readonly why: string; readonly typeLevel: boolean; readonly wholeBody?: boolean };
}

function listOf(field: GenField, rng: Rng, route: Route, shallow = false): Valid {
  const items = Array.from({ length: rng.weighted([[1, 0], [4, rng.int(1, 3)], [1, rng.int(4, 8)]]) }, () => validScalar(field.type, rng, route, shallow));
  return { input: items.map((i) => i.input), expected: items.map((i) => i.expected) };
}

export function validRecord(model: GenModel, rng: Rng, key: string, route: Route, shallow = false): GenRecord {
  const input: Record<string, Input> = {};
  const expected: Record<string, Expect> = {};
  for (const field of model.fields) {
    if (field.name === model.keyField) {
      input[field.name] = key;
      expected[field.column] = key;
      continue;
    }
    const missing = (): void => {
      expected[field.column] = field.default !== undefined ? defaultExpectation(field) : field.list ? [] : null;
    };
    if (field.optional && rng.chance(0.2)) {
      input[field.name] = null;
      expected[field.column] = null;
    } else if ((field.optional || field.list) && rng.chance(0.2)) missing();
    else if (field.default !== undefined && rng.chance(0.3)) missing();
    else {
      const value = field.list ? listOf(field, rng, route, shallow) : validScalar(field.type, rng, route, shallow);
      input[field.name] = value.input;
      expected[field.column] = value.expected;
    }
  }
  return { key, input: shuffled(input, rng), route, expected };
}

function shuffled(record: Record<string, Input>, rng: Rng): Record<string, Input> {
  return Object.fromEntries(rng.shuffle(Object.entries(record)));
}

/** Json text's input type is `unknown`: null and anything else already fit it (but not its list, `unknown[]`). */
function elementAdmitsAnything(field: GenField): boolean {
  return field.type.kind === "json" && !field.type.native;
}

function admitsAnything(field: GenField): boolean {
  return elementAdmitsAnything(field) && !field.list;
}

export function invalidRecord(model: GenModel, rng: Rng, key: string, route: Route): GenRecord {
  // Rejected records may hold a 64-deep Json value too (that once made the whole body a 400).
  const base = validRecord(model, rng, key, route);
  const input = { ...(base.input as Record<string, Input>) };
  const fields = model.fields.filter((f) => f.name !== model.keyField);
  const required = fields.filter((f) => !f.optional && !f.list && f.default === undefined);
  const nonOptional = model.fields.filter((f) => !f.optional);
  const lists = fields.filter((f) => f.list);
  const kind = rng.weighted<string>([
    [fields.length > 0 ? 12 : 0, "value"],
    [required.length > 0 ? 2 : 0, "missing"],
    [2, "null"],
    [2, "unknown"],
    [lists.length > 0 ? 2 : 0, "listNull"],
    [lists.length > 0 ? 1 : 0, "notList"],
    [0.3, "notObject"],
  ]);
  const fault = (names: string | undefined, why: string, typeLevel: boolean, wholeBody = false) => ({
    key,
    input: shuffled(input, rng),
    route,
    fault: { names, why, typeLevel, ...(wholeBody ? { wholeBody } : {}) },
  });
  switch (kind) {
    case "value": {
      const field = rng.pick(fields);
      const wrong = invalidScalar(field.type, rng, route);
      if (!field.list) {
        input[field.name] = wrong.input;
        return fault(field.name, wrong.why, wrong.typeLevel, wrong.wholeBody);
      }
      const items = listOf(field, rng, route, true).input as Input[];
      const at = rng.int(0, items.length);
      items.splice(at, 0, wrong.input);
      input[field.name] = items;
      return fault(`${field.name}[${at}]`, `element ${at}: ${wrong.why}`, wrong.typeLevel, wrong.wholeBody);
    }
    case "missing": {
      const field = rng.pick(required);
      delete input[field.name];
      // TypeScript sees Object.prototype's member of that name on any object literal, and
      // an inherited function fits `unknown` (Json text): that omission compiles.
      return fault(field.name, "a required field is missing", !(field.name in Object.prototype && admitsAnything(field)));
    }
    case "null": {
      const field = rng.pick(nonOptional);
      input[field.name] = null;
      return fault(field.name, "null for a field that is not optional", !admitsAnything(field));
    }
    case "unknown": {
      const near = rng.pick(model.fields).name;
      const name = rng.pick([`${near}x`, `${near}_`, "extraField", "Id", near.toUpperCase() === near ? `${near}s` : near.toUpperCase()]);
      if (model.fields.some((f) => f.name === name)) return invalidRecord(model, rng, key, route);
      input[name] = rng.pick<Input>(["x", 1, null, { a: 1 }]);
      return fault(name, "a field the model does not have", true);
    }
    case "listNull": {
      const field = rng.pick(lists);
      const items = listOf(field, rng, route, true).input as Input[];
      const at = rng.int(0, items.length);
      items.splice(at, 0, null);
      input[field.name] = items;
      return fault(`${field.name}[${at}]`, "a null inside a list", !elementAdmitsAnything(field));
    }
    case "notList": {
      const field = rng.pick(lists);
      // A Json value may itself be an array, which would be a valid list: use a string.
      const single = validScalar(field.type, rng, route, true).input;
      input[field.name] = Array.isArray(single) ? "not a list" : single;
      return fault(field.name, "a single value for a list field", true);
    }
    default:
      return { key, input: rng.pick<Input>(["a string", 42, [1, 2], true]), route, fault: { names: undefined, why: "the record is not a JSON object", typeLevel: true } };
  }
}

// ---------------------------------------------------------------------------------------
// Comparison

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Matcher);
}

/** Equality of a row value with an expectation: numbers by Object.is, objects in any key order. */
export function deepEqual(got: unknown, want: unknown): boolean {
  if (want instanceof Matcher) return want.test(got);
  if (typeof want === "number") return typeof got === "number" && Object.is(got, want);
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => deepEqual(got[i], w));
  if (isPlainObject(want)) {
    if (!isPlainObject(got)) return false;
    const keys = Object.keys(want);
    return keys.length === Object.keys(got).length && keys.every((k) => Object.hasOwn(got, k) && deepEqual(got[k], want[k]));
  }
  return Object.is(got, want);
}
