/**
 * Checks for numbers JavaScript can't hold exactly: 64-bit and wider integers and
 * decimals. Both come out as decimal strings so no digit is lost between the HTTP body
 * and the column; range and scale checks work on the digits, never through floats.
 */
import { type Invalid, invalid, preview } from "./messages.ts";

/** The largest finite Float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Integer bounds of a width, as exact numbers when they fit a double (<= 32 bits). */
export function smallIntRange(bits: number, signed: boolean): { min: number; max: number } {
  return signed ? { min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 } : { min: 0, max: 2 ** bits - 1 };
}

/** Bounds of a wide integer as digit strings, compared by length then lexically. */
export interface WideIntLimits {
  /** Largest magnitude of a positive value. */
  readonly positive: string;
  /** Largest magnitude of a negative value; absent for unsigned types. */
  readonly negative?: string;
  readonly expected: string;
}

export function wideIntLimits(bits: number, signed: boolean): WideIntLimits {
  const name = `${signed ? "Int" : "UInt"}${bits}`;
  const positive = (signed ? 2n ** BigInt(bits - 1) - 1n : 2n ** BigInt(bits) - 1n).toString();
  const negative = signed ? (2n ** BigInt(bits - 1)).toString() : undefined;
  // Spelling out 39- or 78-digit bounds would bury the message, so only 64 bits gets them.
  const range = bits === 64 ? `an integer from ${negative === undefined ? "0" : `-${negative}`} to ${positive}` : `${signed ? "an" : "a"} ${name} integer`;
  const expected = `expected ${range} (a number or a string of digits)`;
  return negative === undefined ? { positive, expected } : { positive, negative, expected };
}

const INTEGER_TEXT = /^-?\d+$/;

export function normalizeWideInt(value: unknown, limits: WideIntLimits): string | Invalid {
  let text: string;
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) {
      // Every safe integer fits 64 signed bits; only the sign can be out of range.
      if (value < 0 && limits.negative === undefined) return invalid(`${limits.expected}, got ${value}`);
      return String(value);
    }
    if (Number.isInteger(value)) {
      return invalid(`${limits.expected}, got ${value}, beyond 2^53 where JSON numbers lose digits; send it as a string`);
    }
    return invalid(`${limits.expected}, got ${preview(value)}`);
  } else if (typeof value === "string") {
    text = value;
  } else if (typeof value === "bigint") {
    text = value.toString();
  } else {
    return invalid(`${limits.expected}, got ${preview(value)}`);
  }
  if (!INTEGER_TEXT.test(text)) return invalid(`${limits.expected}, got ${preview(value)}`);
  const negative = text.charCodeAt(0) === 45; /* - */
  let digits = negative ? text.slice(1) : text;
  if (digits.length > 1 && digits.charCodeAt(0) === 48 /* 0 */) digits = digits.replace(/^0+(?=\d)/, "");
  if (digits === "0") return "0";
  const limit = negative ? limits.negative : limits.positive;
  if (limit === undefined || digits.length > limit.length || (digits.length === limit.length && digits > limit)) {
    return invalid(`${limits.expected}, got ${preview(value)}`);
  }
  return negative ? `-${digits}` : digits;
}

const DECIMAL_TEXT = /^-?\d+(?:\.\d+)?$/;

/** The distance from `value` to the next double away from zero. */
export function ulp(value: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(value));
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0) - Math.abs(value);
}

/**
 * Whether the double `value` stands for exactly one decimal with `fractionDigits`
 * fractional digits: its spacing to the next double is no wider than those digits. Else
 * several spellings parse to it (12345678901234567890 and 12345678901234567000 do), and
 * the digits read back from it may not be those the producer wrote.
 */
export function exactDecimalDigits(value: number, fractionDigits: number): boolean {
  return ulp(value) <= 10 ** -fractionDigits;
}

/** `String(n)` of a number below 1e-6 without its exponent: `5e-7` is `0.0000005`. */
function smallNumberText(text: string): string {
  const m = /^(-?)(\d)(?:\.(\d+))?e-(\d+)$/.exec(text);
  if (m === null) return text;
  const [, sign = "", lead = "", rest = "", exponent = "0"] = m;
  return `${sign}0.${"0".repeat(Number(exponent) - 1)}${lead}${rest}`;
}

/**
 * A Decimal(precision, scale) as a string with exactly `scale` fractional digits.
 * Extra digits are refused rather than rounded: silently changing money is worse than
 * a rejected record. Trailing fractional zeros don't count, they change nothing.
 */
export function normalizeDecimal(value: unknown, precision: number, scale: number): string | Invalid {
  const expected = `expected a Decimal(${precision}, ${scale}) value (a number or a string like "12.34")`;
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return invalid(`${expected}, got ${preview(value)}`);
    text = String(value);
    if (text.includes("e+")) {
      return invalid(`${expected}, got ${text}, which JavaScript writes with an exponent; send it as a plain decimal string`);
    }
    // A small number's exponent (5e-7) is only how JavaScript writes it: 0.0000005.
    text = smallNumberText(text);
  } else if (typeof value === "string") {
    if (!DECIMAL_TEXT.test(value)) return invalid(`${expected}, got ${preview(value)}`);
    text = value;
  } else {
    return invalid(`${expected}, got ${preview(value)}`);
  }
  const negative = text.charCodeAt(0) === 45; /* - */
  const dot = text.indexOf(".");
  let whole = text.slice(negative ? 1 : 0, dot === -1 ? text.length : dot).replace(/^0+/, "");
  const fraction = dot === -1 ? "" : text.slice(dot + 1).replace(/0+$/, "");
  if (fraction.length > scale) {
    return invalid(
      `expected at most ${scale} fractional digits (the scale of Decimal(${precision}, ${scale})), got ${preview(value)}; round it before sending`,
    );
  }
  if (whole.length > precision - scale) {
    return invalid(
      `expected at most ${precision - scale} integer digits (Decimal(${precision}, ${scale})), got ${preview(value)}`,
    );
  }
  // The shortest spelling of a double is the producer's JSON number only if the double holds
  // that many digits (about 15 significant): 12345678901234567890 reads as ...67000.
  if (typeof value === "number" && !exactDecimalDigits(value, dot === -1 ? 0 : text.length - dot - 1)) {
    return invalid(`${expected}, got ${preview(value)}, a JSON number with more digits than a double holds exactly (about 15 significant): the digits read may not be those sent; send it as a decimal string`);
  }
  if (whole === "") whole = "0";
  const sign = negative && (whole !== "0" || fraction !== "") ? "-" : "";
  return scale === 0 ? sign + whole : `${sign}${whole}.${fraction.padEnd(scale, "0")}`;
}
