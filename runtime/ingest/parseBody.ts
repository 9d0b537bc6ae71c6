/**
 * Turns an ingest request body (as runtime/server/body.ts read it) into candidate records. Whole-body problems (nothing
 * parseable, a content type we do not read) are `BodyError`s and become 4xx answers with
 * nothing stored; a bad NDJSON line is a problem of that one record only.
 */

import { MAX_JSON_DEPTH } from "../../conventions/datamodels/json-value.ts";
import { IglooError } from "../../conventions/errors.ts";

/** How the body holds its records: one JSON value, or one JSON value per line. */
export type BodyFormat = "json" | "ndjson";

/** A whole request body refused: unreadable, too large, too slow, or of a type we do not read. */
export class BodyError extends IglooError {
  constructor(kind: "bad_input" | "timeout" | "too_large" | "unsupported_media", message: string) {
    super("E_BODY", message, { kind });
    this.name = "BodyError";
  }
}

/** A record that could not even be parsed: rejected on its own, with its raw text kept. */
export interface UnparseableRecord {
  readonly unparseable: true;
  readonly text: string;
  readonly message: string;
}

export type Candidate = unknown;

export function isUnparseable(candidate: Candidate): candidate is UnparseableRecord {
  return typeof candidate === "object" && candidate !== null && (candidate as UnparseableRecord).unparseable === true && Object.getPrototypeOf(candidate) === UNPARSEABLE_PROTO;
}

// Unparseable markers get a private prototype so a client cannot forge one with JSON.
const UNPARSEABLE_PROTO = Object.freeze({});

function unparseable(text: string, message: string): UnparseableRecord {
  return Object.assign(Object.create(UNPARSEABLE_PROTO) as object, { unparseable: true as const, text, message });
}

function describeJsonError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function tooManyRecords(limit: number): BodyError {
  return new BodyError("too_large", `the request holds more than ${limit.toLocaleString("en-US")} records (IGLOO_MAX_RECORDS); nothing was stored, send smaller batches`);
}

/** The body's candidate records; more than `maxRecords` is a 413, found before they are all parsed. */
export function parseBody(text: string, format: BodyFormat, maxRecords = Number.POSITIVE_INFINITY): Candidate[] {
  if (text.trim().length === 0) throw new BodyError("bad_input", "the request body is empty; send a JSON object, a JSON array of objects, or NDJSON");
  if (format === "ndjson") return parseNdjson(text, maxRecords);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BodyError("bad_input", `the request body is not valid JSON (${describeJsonError(error)}); for one object per line, use content-type application/x-ndjson`);
  }
  if (Array.isArray(value)) {
    if (value.length > maxRecords) throw tooManyRecords(maxRecords);
    return value;
  }
  if (typeof value === "object" && value !== null) return [value];
  throw new BodyError("bad_input", `the request body must be a JSON object or an array of objects, got ${value === null ? "null" : typeof value}`);
}

function parseNdjson(text: string, maxRecords: number): Candidate[] {
  const records: Candidate[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line.length === 0) continue;
    if (records.length === maxRecords) throw tooManyRecords(maxRecords);
    try {
      records.push(JSON.parse(line));
    } catch (error) {
      records.push(unparseable(line, `line is not valid JSON (${describeJsonError(error)})`));
    }
  }
  if (records.length === 0) throw new BodyError("bad_input", "the NDJSON body holds no records");
  return records;
}

/**
 * Records deeper than this are refused whole: nothing legitimate nests so far. A valid
 * record may hold a Json value as deep as the validator takes (MAX_JSON_DEPTH) in a list
 * field, two levels below the record; one more level leaves room for a value the
 * validator refuses by a level, which is then rejected on its own, naming its field.
 */
export const MAX_DEPTH = MAX_JSON_DEPTH + 3;

/**
 * Finds a reason to refuse a body whole: a `__proto__` key (the classic prototype
 * pollution payload) or nesting deeper than MAX_DEPTH. Only rejected records are walked,
 * since the validator accepts neither in a valid record, so the hot path pays nothing.
 */
export function hostileShape(value: unknown, path = "$", depth = 0): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  if (depth >= MAX_DEPTH) return `${path} nests deeper than ${MAX_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = hostileShape(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (key === "__proto__") return `${path} has a \`__proto__\` key, which Igloo refuses`;
    const found = hostileShape((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}
