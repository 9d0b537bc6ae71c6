/**
 * What one ingest request carries: the queued calls of one model, taken in order while
 * they fit the record and byte limits. Pure: `pack` reads the queue and says what the
 * next request would take; the batcher applies that (moves its head, marks how far each
 * call has gone), so packing is tested on tables of cases, without a server.
 */
import type { IglooError } from "./errors.js";
import type { IglooIngestVerdict } from "./ingestTypes.js";

/**
 * A call with an array of records, queued as it came: the queue holds calls, not
 * records, so a call costs one object however it is batched. Its records go out in
 * order, possibly over several batches (`next` is the first one not yet taken).
 */
export interface Call {
  /** The JSON of each record. */
  readonly texts: readonly string[];
  next: number;
  unanswered: number;
  accepted: number;
  rejected: number;
  errors: { index: number; message: string }[] | undefined;
  token: string;
  settled: boolean;
  /** Unset for `send()` calls, whose outcomes go to the onRejected and onError handlers. */
  readonly resolve: ((verdict: IglooIngestVerdict) => void) | undefined;
  readonly reject: ((error: IglooError) => void) | undefined;
}

/** A call with one record: always wholly in one batch, so it needs little keeping. */
export class One {
  readonly text: string;
  readonly resolve: (verdict: IglooIngestVerdict) => void;
  readonly reject: (error: IglooError) => void;

  constructor(text: string, resolve: (verdict: IglooIngestVerdict) => void, reject: (error: IglooError) => void) {
    this.text = text;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/**
 * What the queue holds: a call, a one-record call, or, for the commonest case of all,
 * `send()` of one record: nothing but that record's JSON, no object, no promise.
 */
export type Item = Call | One | string;

/** Consecutive one-record items, taken together. */
export type Run = readonly (One | string)[];

export interface PackLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

/** What the next request takes from the queue, starting at `start`. */
export interface Packed {
  readonly body: string;
  /** In order: runs of one-record items, and calls (whole or in part). */
  readonly segments: (Run | Call)[];
  /** For each segment: the index (in its item) of its first record here, and how many follow. */
  readonly from: number[];
  readonly counts: number[];
  readonly records: number;
  /** How many of its records are one-record calls with a promise to resolve. */
  readonly ones: number;
  /** The UTF-16 length of its records: what taking it removes from the queue's size estimate. */
  readonly chars: number;
  /** The queue index after the last item it took whole (or passed, settled). */
  readonly end: number;
  /** Whether its last call goes on in a later request. */
  readonly cutShort: boolean;
  /** Settled (failed) calls passed on the way, whose records not yet taken are to be dropped. */
  readonly dropped: Call[];
}

/** UTF-8 length of a string, without encoding it. */
const NON_ASCII = /[^\x00-\x7f]/;

export function utf8Length(text: string): number {
  // Most records are ASCII: one native scan instead of a loop over every character.
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 2; // a surrogate pair: two units, 4 bytes
      i++;
    }    else if (c > 0x7ff) bytes += 2;
    else if (c > 0x7f) bytes += 1;
  }
  return bytes;
}

export function isRun(segment: Run | Call | One | string): segment is Run {
  return Array.isArray(segment);
}

/** Whether a queued item still waits to be sent (a failed call's remaining records do not). */
function waiting(item: Item): boolean {
  return typeof item === "string" || item instanceof One || !item.settled;
}

/**
 * The next request: whole items while they fit, and the first records of the one that
 * does not. Sizes are first taken as UTF-16 lengths, which are the UTF-8 ones for ASCII
 * text; only a body that could be over the limit is scanned, and only one that is not
 * ASCII and over the limit is packed again, measuring each record.
 */
export function pack(queue: readonly Item[], start: number, limits: PackLimits): Packed {
  const packed = packOnce(queue, start, limits, false);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most bodies cannot be over, unscanned.
  const { body, records } = packed;
  if (records > 1 && body.length * 3 > limits.maxBytes && NON_ASCII.test(body) && utf8Length(body) > limits.maxBytes) return packOnce(queue, start, limits, true);
  return packed;
}

function packOnce(queue: readonly Item[], start: number, limits: PackLimits, exact: boolean): Packed {
  const { maxRecords } = limits;
  const parts: string[] = [];
  const segments: (Run | Call)[] = [];
  const from: number[] = [];
  const counts: number[] = [];
  const dropped: Call[] = [];
  // The body's bytes: brackets, the records, a comma before each but the first. A
  // request's first record goes even when it alone is over the limit.
  const room = limits.maxBytes - 1;
  let head = start;
  let records = 0;
  let recordBytes = 0;
  let chars = 0;
  let ones = 0;
  let cutShort = false;
  const peek = (): Item | undefined => {
    for (; head < queue.length; head++) {
      const item = queue[head]!;
      if (waiting(item)) return item;
      dropped.push(item as Call);
    }
    return undefined;
  };
  for (let item = peek(); item !== undefined && records < maxRecords; item = peek()) {
    if (typeof item === "string" || item instanceof One) {
      // A run of one-record items: measured one by one, copied and joined at once.
      const onesBefore = ones;
      let end = head;
      let full = false;
      for (; end < queue.length && records < maxRecords; end++) {
        const next = queue[end]!;
        let text: string;
        if (typeof next === "string") text = next;
        else if (next instanceof One) {
          text = next.text;
          ones++;
        } else break;
        const bytes = exact ? utf8Length(text) : text.length;
        if (records > 0 && recordBytes + records + bytes >= room) {
          if (next instanceof One) ones--;
          full = true;
          break;
        }
        records++;
        recordBytes += bytes;
        chars += text.length;
      }
      if (end === head) break;
      const run = queue.slice(head, end) as (One | string)[];
      segments.push(run);
      from.push(0);
      counts.push(run.length);
      parts.push(ones === onesBefore ? run.join(",") : run.map(textOf).join(","));
      head = end;
      if (full) break;
      continue;
    }
    const first = item.next;
    const texts = item.texts;
    let count = 0;
    for (let i = first; i < texts.length && records + count < maxRecords; i++, count++) {
      const text = texts[i]!;
      const bytes = exact ? utf8Length(text) : text.length;
      const before = records + count;
      if (before > 0 && recordBytes + before + bytes >= room) break;
      recordBytes += bytes;
      chars += text.length;
    }
    if (count === 0) break;
    parts.push(count === texts.length ? texts.join(",") : texts.slice(first, first + count).join(","));
    segments.push(item);
    from.push(first);
    counts.push(count);
    records += count;
    if (first + count < texts.length) {
      cutShort = true; // the request is full; the rest of this call goes next
      break;
    }
    head++;
  }
  return { body: `[${parts.join(",")}]`, segments, from, counts, records, ones, chars, end: head, cutShort, dropped };
}

function textOf(item: One | string): string {
  return typeof item === "string" ? item : item.text;
}
