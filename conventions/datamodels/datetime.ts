/**
 * Timestamps and dates at ingest. Output is always UTC ISO text with exactly the
 * column's fractional digits, so every producer's spelling of an instant lands as the
 * same value. Fractions are handled as digit strings: JS `Date` keeps only milliseconds
 * and would silently drop the micro- and nanoseconds a DateTime64(6|9) column holds.
 * Parsing is done by character codes instead of a regex because it runs on every event.
 */
import { type Invalid, invalid, preview } from "./messages.ts";
import { exactDecimalDigits, ulp } from "./numeric.ts";

/** ClickHouse DateTime64 and Date32 span 1900-01-01 to 2299-12-31. */
const FIRST_YEAR = 1900;
const LAST_YEAR = 2299;
const MIN_MS = Date.UTC(FIRST_YEAR, 0, 1);
const END_MS = Date.UTC(LAST_YEAR + 1, 0, 1);
const yearRange = ` (outside the years ${FIRST_YEAR}-${LAST_YEAR} the column holds)`;

const EXPECTED_DATETIME = "expected an ISO-8601 timestamp or epoch milliseconds";

/**
 * Epoch numbers closer to 1970 than this many milliseconds (1966-10-31 to 1973-03-03) are
 * refused as ambiguous: epoch *seconds* of any date since 1973 fall in this range, and
 * read as milliseconds they would be stored as a day of January 1970, silently.
 */
const AMBIGUOUS_EPOCH = 1e11;
const EXPECTED_DATE = 'expected a date "YYYY-MM-DD"';

/**
 * DateTime64(9) counts nanoseconds in an Int64, so it ends here (ClickHouse's
 * documentation of DateTime64); precisions 0-8 reach 2299-12-31.
 */
const LAST_DATETIME64_9 = "2262-04-11T23:47:16.854775807Z";

export function normalizeDateTime(value: unknown, precision: number): string | Invalid {
  const out = typeof value === "string" ? fromText(value, precision) : typeof value === "number" ? fromEpochMs(value, precision) : invalid(`${EXPECTED_DATETIME}, got ${preview(value)}`);
  // Outputs share one fixed-width form, so they compare as text.
  if (precision === 9 && typeof out === "string" && out > LAST_DATETIME64_9) {
    return invalid(`${EXPECTED_DATETIME}, got ${preview(value)} (after ${LAST_DATETIME64_9}, the last instant DateTime64(9) holds)`);
  }
  return out;
}

/** A server's 32-bit DateTime: whole seconds from 1970 to 2106-02-07T06:28:15Z. */
const LEGACY_FIRST = "1970-01-01T00:00:00";
const LEGACY_LAST = "2106-02-07T06:28:15";
/** A server's 16-bit Date: 1970-01-01 to 2149-06-06. */
const LEGACY_LAST_DATE = "2149-06-06";

/**
 * The first and last instants (epoch ms) a timestamp field holds, as normalizeDateTime and
 * normalizeLegacyDateTime check them: what sample() draws from.
 */
export function instantRange(precision: number, legacy: boolean): readonly [number, number] {
  if (legacy) return [Date.parse(`${LEGACY_FIRST}Z`), Date.parse(`${LEGACY_LAST}Z`)];
  return [MIN_MS, precision === 9 ? Date.parse(LAST_DATETIME64_9) : END_MS - 1];
}

/** The first and last days (epoch ms at midnight) a date field holds. */
export function dayRange(legacy: boolean): readonly [number, number] {
  return legacy ? [Date.UTC(1970, 0, 1), Date.parse(LEGACY_LAST_DATE)] : [MIN_MS, END_MS - 86_400_000];
}

/**
 * For a server's 32-bit DateTime column (servers without DateTime64): what it holds
 * exactly, else a refusal naming the limit (the column would clamp or wrap the instant,
 * or drop its fraction, silently).
 */
export function normalizeLegacyDateTime(value: unknown, precision: number): string | Invalid {
  const out = normalizeDateTime(value, precision);
  if (typeof out !== "string") return out;
  const seconds = out.slice(0, 19);
  if (seconds < LEGACY_FIRST || seconds > LEGACY_LAST) {
    return invalid(`${EXPECTED_DATETIME}, got ${preview(value)} (outside 1970-01-01T00:00:00Z to ${LEGACY_LAST}Z, what this ClickHouse server's DateTime column holds)`);
  }
  if (/[1-9]/.test(out.slice(20, -1))) {
    return invalid(`${EXPECTED_DATETIME} in whole seconds, got ${preview(value)} (this ClickHouse server's DateTime column holds no fraction of a second)`);
  }
  return out;
}

/** For a server's 16-bit Date column (servers without Date32). */
export function normalizeLegacyDate(value: unknown): string | Invalid {
  const out = normalizeDate(value);
  if (typeof out === "string" && (out < "1970-01-01" || out > LEGACY_LAST_DATE)) {
    return invalid(`${EXPECTED_DATE}, got ${preview(value)} (outside 1970-01-01 to ${LEGACY_LAST_DATE}, what this ClickHouse server's Date column holds)`);
  }
  return out;
}

export function normalizeDate(value: unknown): string | Invalid {
  if (typeof value !== "string" || value.length !== 10) return invalid(`${EXPECTED_DATE}, got ${preview(value)}`);
  const problem = checkDatePart(value) ?? yearProblem(fourDigits(value, 0));
  return problem === undefined ? value : invalid(`${EXPECTED_DATE}, got ${preview(value)}${problem}`);
}

/** The current instant at the column's precision (sub-millisecond digits are zeros). */
export function nowDateTime(precision: number, ms: number = Date.now()): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 19) + fractionText(iso.slice(20, 23), precision) + "Z";
}

export function today(ms: number = Date.now()): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function fromText(text: string, precision: number): string | Invalid {
  const length = text.length;
  if (length < 10) return badText(text);
  const dateProblem = checkDatePart(text);
  if (dateProblem !== undefined) return badText(text, dateProblem);
  let hour = 0;
  let minute = 0;
  let second = 0;
  let fractionStart = 0;
  let fractionEnd = 0;
  let offsetMinutes = 0;
  let canonical = false;
  if (length > 10) {
    const separator = text.charCodeAt(10);
    if (separator !== 84 /* T */ && separator !== 116 /* t */ && separator !== 32 /* space */) return badText(text);
    hour = twoDigits(text, 11);
    minute = twoDigits(text, 14);
    if (hour < 0 || minute < 0 || text.charCodeAt(13) !== 58 /* : */) return badText(text);
    let i = 16;
    if (text.charCodeAt(i) === 58 /* : */) {
      second = twoDigits(text, i + 1);
      if (second < 0) return badText(text);
      i += 3;
      if (text.charCodeAt(i) === 46 /* . */) {
        fractionStart = ++i;
        while (isDigit(text.charCodeAt(i))) i++;
        if (i === fractionStart) return badText(text);
        fractionEnd = i;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return badText(text, " (time of day out of range)");
    if (i < length) {
      const sign = text.charCodeAt(i);
      if (sign === 90 /* Z */ || sign === 122 /* z */) {
        if (i + 1 !== length) return badText(text);
        // Most producers already send exactly the output form; then the input is the output.
        canonical = sign === 90 && separator === 84 && i === (precision === 0 ? 19 : 20 + precision);
      } else if (sign === 43 /* + */ || sign === 45 /* - */) {
        const offsetHours = twoDigits(text, i + 1);
        let j = i + 3;
        if (text.charCodeAt(j) === 58 /* : */) j++;
        const offsetMins = twoDigits(text, j);
        if (offsetHours < 0 || offsetMins < 0 || j + 2 !== length) return badText(text);
        if (offsetHours > 23 || offsetMins > 59) return badText(text, " (offset out of range)");
        offsetMinutes = (sign === 45 ? -1 : 1) * (offsetHours * 60 + offsetMins);
      } else {
        return badText(text);
      }
    }
  }
  const year = fourDigits(text, 0);
  if (offsetMinutes === 0) {
    const problem = yearProblem(year);
    if (problem !== undefined) return badText(text, problem);
    if (canonical) return text;
  } else if (year < FIRST_YEAR - 1 || year > LAST_YEAR + 1) {
    // An offset moves an instant by less than a day, so these years are out of range
    // whatever it is; and Date.UTC below would read years 0-99 as 1900-1999.
    return badText(text, yearRange);
  }
  const digits = fitFraction(text.slice(fractionStart, fractionEnd), precision);
  if (digits === undefined) return badText(text, tooPrecise(precision));
  if (offsetMinutes === 0) {
    // Already UTC: reuse the validated digits rather than round-tripping through Date.
    const time = length > 10 ? text.slice(11, 16) : "00:00";
    const seconds = second < 10 ? `0${second}` : String(second);
    return `${text.slice(0, 10)}T${time}:${seconds}${digits}Z`;
  }
  const ms = Date.UTC(year, twoDigits(text, 5) - 1, twoDigits(text, 8), hour, minute, second) - offsetMinutes * 60_000;
  if (ms < MIN_MS || ms >= END_MS) return badText(text, yearRange);
  return new Date(ms).toISOString().slice(0, 19) + digits + "Z";
}

function badText(text: string, why = ""): Invalid {
  return invalid(`${EXPECTED_DATETIME}, got ${preview(text)}${why}`);
}

function fromEpochMs(value: number, precision: number): string | Invalid {
  const bad = (why = ""): Invalid => invalid(`${EXPECTED_DATETIME}, got ${preview(value)}${why}`);
  if (!Number.isFinite(value)) return bad();
  if (Math.abs(value) < AMBIGUOUS_EPOCH) {
    const seconds = Number.isInteger(value) && value > 0 ? `; as epoch seconds it would be ${new Date(value * 1000).toISOString()}: multiply by 1000` : "";
    return bad(` (a number this close to 1970 reads like epoch seconds${seconds}; epoch numbers are milliseconds, and dates from 1966-10-31 to 1973-03-03 are sent as ISO-8601 text)`);
  }
  const ms = Math.floor(value);
  if (ms < MIN_MS || ms >= END_MS) return bad(yearRange);
  let subMs = "";
  let exact = true;
  if (ms !== value) {
    // The shortest decimal spelling is what the producer wrote in its JSON, when a double
    // can tell that spelling from its neighbours at this many digits.
    const text = String(value);
    // Exponent form only happens below 1e-6 ms, i.e. finer than nanoseconds.
    if (text.includes("e")) return bad(tooPrecise(precision));
    const digits = text.slice(text.indexOf(".") + 1);
    exact = exactDecimalDigits(value, digits.length);
    // floor() moved a negative value down a whole ms; the fraction counts up from there.
    subMs = value < 0 ? (10n ** BigInt(digits.length) - BigInt(digits)).toString().padStart(digits.length, "0") : digits;
  }
  const iso = new Date(ms).toISOString();
  const digits = fitFraction(iso.slice(20, 23) + subMs, precision);
  if (digits === undefined) return bad(tooPrecise(precision));
  if (!exact) {
    return bad(` (near ${ms} a JSON number keeps about ${significantFractionDigits(value)} fractional digits, fewer than sent: the sub-millisecond digits read may not be those written; send ISO-8601 text)`);
  }
  return iso.slice(0, 19) + digits + "Z";
}

function significantFractionDigits(value: number): number {
  return Math.max(0, Math.floor(-Math.log10(ulp(value))));
}

function tooPrecise(precision: number): string {
  return ` (more than ${precision} fractional second digits, the precision of DateTime64(${precision}); round it before sending)`;
}

/**
 * `.` plus exactly `precision` digits (nothing at precision 0), or undefined when
 * digits beyond the precision are not zeros: cutting them would change the instant.
 */
function fitFraction(fraction: string, precision: number): string | undefined {
  if (fraction.length > precision) {
    for (let i = precision; i < fraction.length; i++) if (fraction.charCodeAt(i) !== 48 /* 0 */) return undefined;
    return fractionText(fraction.slice(0, precision), precision);
  }
  return fractionText(fraction, precision);
}

function fractionText(fraction: string, precision: number): string {
  if (precision === 0) return "";
  return `.${fraction.length === precision ? fraction : fraction.padEnd(precision, "0").slice(0, precision)}`;
}

/** Checks the calendar of `YYYY-MM-DD` at the start of `text`; returns a reason suffix when wrong. */
function checkDatePart(text: string): string | undefined {
  const year = fourDigits(text, 0);
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  if (year < 0 || month < 0 || day < 0 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return "";
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return " (not a calendar date)";
  return undefined;
}

/** Checked on the UTC date: an offset can move a timestamp across the boundary. */
function yearProblem(year: number): string | undefined {
  return year < FIRST_YEAR || year > LAST_YEAR ? yearRange : undefined;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The two-digit number at `i`, or -1 when those are not two digits. */
function twoDigits(text: string, i: number): number {
  const a = text.charCodeAt(i) - 48;
  const b = text.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function fourDigits(text: string, i: number): number {
  const high = twoDigits(text, i);
  const low = twoDigits(text, i + 2);
  return high < 0 || low < 0 ? -1 : high * 100 + low;
}
