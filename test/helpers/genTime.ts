/**
 * Calendar arithmetic for the generative suites, on exact bigint nanoseconds and without
 * JS Date (whose Date.UTC reads years 0-99 as 1900-1999): the expected form of every
 * timestamp is computed here, from the README's rules, never by Igloo's own code.
 */

export const NS_PER_MS = 1_000_000n;
export const NS_PER_S = 1_000_000_000n;
export const NS_PER_DAY = 86_400n * NS_PER_S;

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(days: number): { y: number; m: number; d: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return { y: era * 400 + yoe + (m <= 2 ? 1 : 0), m, d };
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

export interface Parts {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  /** Nanoseconds within the second, 0..999999999. */
  ns: bigint;
}

export function partsOf(instant: bigint): Parts {
  const day = floorDiv(instant, NS_PER_DAY);
  const inDay = instant - day * NS_PER_DAY;
  const { y, m, d } = civilFromDays(Number(day));
  const seconds = Number(inDay / NS_PER_S);
  return { y, mo: m, d, h: Math.floor(seconds / 3600), mi: Math.floor((seconds % 3600) / 60), s: seconds % 60, ns: inDay % NS_PER_S };
}

export function instantOf(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ns = 0n): bigint {
  return BigInt(daysFromCivil(y, mo, d)) * NS_PER_DAY + BigInt(h * 3600 + mi * 60 + s) * NS_PER_S + ns;
}

export function dateText(p: { y: number; mo: number; d: number }): string {
  return `${pad(p.y, 4)}-${pad(p.mo, 2)}-${pad(p.d, 2)}`;
}

/** The README's row form: ISO-8601 UTC with exactly `precision` decimals. */
export function isoUtc(instant: bigint, precision: number): string {
  const p = partsOf(instant);
  const fraction = precision === 0 ? "" : `.${p.ns.toString().padStart(9, "0").slice(0, precision)}`;
  return `${dateText(p)}T${pad(p.h, 2)}:${pad(p.mi, 2)}:${pad(p.s, 2)}${fraction}Z`;
}

/** Significant fractional digits of an instant (0..9): 3 means whole milliseconds. */
export function fractionDigits(instant: bigint): number {
  let ns = partsOf(instant).ns;
  if (ns === 0n) return 0;
  let digits = 9;
  while (ns % 10n === 0n) {
    ns /= 10n;
    digits--;
  }
  return digits;
}

/**
 * Column ranges: DateTime64 and Date32 hold 1900-01-01 to 2299-12-31 (README: "accepted
 * from 1900 to 2299"); DateTime64(9) counts nanoseconds in an Int64, so it ends at
 * 2262-04-11T23:47:16.854775807Z (ClickHouse's documentation of DateTime64).
 */
export const FIRST_INSTANT = instantOf(1900, 1, 1);
export const END_INSTANT = instantOf(2300, 1, 1);
export const LAST_NS_INT64 = 2n ** 63n - 1n;

export function lastInstant(precision: number): bigint {
  const unit = 10n ** BigInt(9 - precision);
  const last = precision === 9 ? LAST_NS_INT64 : END_INSTANT - 1n;
  return last - (((last % unit) + unit) % unit);
}

export const FIRST_DAY = daysFromCivil(1900, 1, 1);
export const LAST_DAY = daysFromCivil(2299, 12, 31);

/** Epoch milliseconds of an instant as decimal text (sub-millisecond digits as a fraction). */
export function nsToEpochMsText(instant: bigint): string {
  const negative = instant < 0n;
  const abs = negative ? -instant : instant;
  const whole = abs / NS_PER_MS;
  const fraction = (abs % NS_PER_MS).toString().padStart(6, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction === "" ? "" : `.${fraction}`}`;
}
