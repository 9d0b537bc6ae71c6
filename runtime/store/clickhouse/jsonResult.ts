/**
 * Reads a `FORMAT JSON` answer into rows, keeping the promise of OUTPUT_SETTINGS on
 * servers that do not know some of those settings (they are dropped there, see
 * clickhouseStore.ts):
 * - without `output_format_json_quote_decimals` (or `..._64bit_integers`) the server
 *   prints decimals (or 64-bit integers) as bare JSON numbers, written with every digit
 *   and the full scale. Their source text is kept (JSON.parse's reviver `context.source`,
 *   TC39 "JSON.parse source text access") so no digit is lost to a double;
 * - without `date_time_output_format` a DateTime is printed `YYYY-MM-DD hh:mm:ss` in the
 *   column's time zone (or the server's); it is rewritten as ISO-8601 in UTC, as `iso`
 *   prints it.
 */

export interface OutputEmulation {
  readonly decimalsAsText: boolean;
  readonly int64AsText: boolean;
  readonly isoDateTimes: boolean;
  /** `timezone()`: the zone of DateTime columns declared without one. */
  readonly serverTimezone: string;
}

export interface Column {
  readonly name: string;
  readonly type: string;
}

interface JsonAnswer<Row> {
  readonly meta?: Column[];
  readonly data?: Row[];
}

/** A bare JSON number with the text it was written as. */
class SourceNumber {
  constructor(
    readonly source: string,
    readonly value: number,
  ) {}
}

type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown;

const keepSource: Reviver = (_key, value, context) =>
  typeof value === "number" && context?.source !== undefined ? new SourceNumber(context.source, value) : value;

const BIG_INT = /\b(U?Int(64|128|256))\b/;

/** Numbers of this column keep their text, or all become plain numbers again. */
function restoreNumbers(value: unknown, asText: boolean): unknown {
  if (value instanceof SourceNumber) return asText ? value.source : value.value;
  if (Array.isArray(value)) return value.map((v) => restoreNumbers(v, asText));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, restoreNumbers(v, asText)]));
  }
  return value;
}

const WALL_TIME = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/;
const UTC_ZONES = new Set(["UTC", "Etc/UTC", "GMT", "Etc/GMT", "Etc/Universal", "Universal", "Zulu", "UCT", "Etc/UCT", "Etc/Zulu", "Etc/GMT0", "GMT0"]);
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** Milliseconds the zone is ahead of UTC at the instant `utcMs`. */
function zoneOffsetMs(zone: string, utcMs: number): number {
  let format = zoneFormats.get(zone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    zoneFormats.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(utcMs)).map((p) => [p.type, Number(p.value)]));
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

function toIsoUtc(text: string, zone: string): string {
  // Old servers print the DateTime 0 (the epoch) as all zeros.
  if (text === "0000-00-00 00:00:00") return "1970-01-01T00:00:00Z";
  const m = WALL_TIME.exec(text);
  if (!m) return text;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  let utc = wall;
  if (!UTC_ZONES.has(zone)) {
    try {
      utc = wall - zoneOffsetMs(zone, wall);
      utc = wall - zoneOffsetMs(zone, utc); // once more, in case a DST change lies between
    } catch {
      return text; // a zone this runtime does not know: leave the server's text
    }
  }
  return new Date(utc).toISOString().replace(".000Z", "Z");
}

function rewriteDateTimes(value: unknown, zone: string): unknown {
  if (typeof value === "string") return toIsoUtc(value, zone);
  if (Array.isArray(value)) return value.map((v) => rewriteDateTimes(v, zone));
  return value;
}

/** The zone of a `DateTime` / `DateTime('Zone')` type, possibly wrapped; undefined if none. */
function dateTimeZone(type: string, serverTimezone: string): string | undefined {
  const m = /\bDateTime(?!64)(?:\('([^']+)'\))?/.exec(type);
  if (!m) return undefined;
  return m[1] ?? serverTimezone;
}

interface ColumnRewrites {
  /** Columns whose bare numbers must keep their text. */
  readonly textNumbers: ReadonlySet<string>;
  /** DateTime columns and the zone their wall times are in. */
  readonly zones: ReadonlyMap<string, string>;
}

function columnRewrites(columns: readonly Column[], emulation: OutputEmulation): ColumnRewrites {
  const textNumbers = new Set(
    columns
      .filter((c) => (emulation.decimalsAsText && c.type.includes("Decimal")) || (emulation.int64AsText && BIG_INT.test(c.type)))
      .map((c) => c.name),
  );
  const zones = new Map<string, string>();
  if (emulation.isoDateTimes) {
    for (const c of columns) {
      const zone = dateTimeZone(c.type, emulation.serverTimezone);
      if (zone !== undefined) zones.set(c.name, zone);
    }
  }
  return { textNumbers, zones };
}

/**
 * The same rewrites for a streamed answer (compactJson.ts): per column, from one value's
 * JSON text to the JSON text the output settings would have printed.
 */
export function valueRewrites(columns: readonly Column[], emulation: OutputEmulation): Map<string, (text: string) => string> {
  const { textNumbers, zones } = columnRewrites(columns, emulation);
  const rewrites = new Map<string, (text: string) => string>();
  for (const name of textNumbers) {
    rewrites.set(name, (text) => JSON.stringify(restoreNumbers(JSON.parse(text, keepSource as Parameters<typeof JSON.parse>[1]), true)));
  }
  for (const [name, zone] of zones) rewrites.set(name, (text) => JSON.stringify(rewriteDateTimes(JSON.parse(text), zone)));
  return rewrites;
}

export function parseJsonResult<Row>(text: string, emulation: OutputEmulation): { rows: Row[]; columns: Column[] } {
  let answer = JSON.parse(text) as JsonAnswer<Record<string, unknown>>;
  const columns = answer.meta ?? [];
  const { textNumbers, zones } = columnRewrites(columns, emulation);
  if (textNumbers.size === 0 && zones.size === 0) return { rows: (answer.data ?? []) as Row[], columns };

  if (textNumbers.size > 0) answer = JSON.parse(text, keepSource as Parameters<typeof JSON.parse>[1]) as JsonAnswer<Record<string, unknown>>;
  const rows = (answer.data ?? []).map((row) => {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(row)) {
      let v = textNumbers.size > 0 ? restoreNumbers(value, textNumbers.has(name)) : value;
      const zone = zones.get(name);
      if (zone !== undefined) v = rewriteDateTimes(v, zone);
      out[name] = v;
    }
    return out as Row;
  });
  return { rows, columns };
}
