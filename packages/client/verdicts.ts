/**
 * The server's answer to one request, split back into the calls that shared it. Pure:
 * the server names rejected records by their index in the request; these functions say
 * which call each belongs to and its index there, and how a request refused whole is
 * taken apart. settle.ts hands the results to the callers.
 */
import { isRun, utf8Length, type Call, type Run } from "./packing.js";

/** A rejected record: its index in its own call (or, for a run, its place in the run), and why. */
export interface Rejection {
  readonly index: number;
  readonly message: string;
}

/** A 200's body as this client understands it: the reasons by index in the request, and the token. */
export interface Answer {
  readonly reasons: ReadonlyMap<number, string>;
  readonly token: string;
}

/** Reads a 200's parsed body; undefined when it is not an answer this client understands. */
export function readAnswer(json: unknown): Answer | undefined {
  const answer = (json !== null && typeof json === "object" ? json : {}) as { errors?: unknown; token?: unknown };
  const { errors, token } = answer;
  if (!Array.isArray(errors) || typeof token !== "string") return undefined;
  const reasons = new Map<number, string>();
  for (const e of errors as unknown[]) {
    const { index, message } = (typeof e === "object" && e !== null ? e : {}) as { index?: unknown; message?: unknown };
    if (typeof index === "number") reasons.set(index, String(message));
  }
  return { reasons, token };
}

/**
 * For each segment of a request (`from[i]` its first record's index in its own item,
 * `counts[i]` how many records follow), the rejections among its records, indexed in
 * that item; undefined for a segment with none. Undefined as a whole when nothing was
 * rejected: the common case costs nothing per record.
 */
export function rejectionsBySegment(from: readonly number[], counts: readonly number[], reasons: ReadonlyMap<number, string>): (Rejection[] | undefined)[] | undefined {
  if (reasons.size === 0) return undefined;
  const out = new Array<Rejection[] | undefined>(counts.length);
  let offset = 0;
  for (let s = 0; s < counts.length; s++) {
    const count = counts[s]!;
    const first = from[s]!;
    let found: Rejection[] | undefined;
    for (let i = 0; i < count; i++) {
      const reason = reasons.get(offset + i);
      if (reason !== undefined) (found ??= []).push({ index: first + i, message: reason });
    }
    out[s] = found;
    offset += count;
  }
  return out;
}

/**
 * Whether a request refused whole (400) holds records of more than one call, so it is
 * worth taking apart to fail only the call at fault (send() records are each their own).
 */
export function severalCalls(segments: readonly (Run | Call)[], records: number): boolean {
  if (records < 2) return false;
  const [first] = segments;
  return segments.length > 1 || (first !== undefined && isRun(first));
}

/**
 * The most records the next request may hold while one refused whole is taken apart:
 * each refusal halves it, so the record at fault ends up alone.
 */
export function halved(records: number): number {
  return Math.max(1, Math.floor(records / 2));
}

/** 413: the server takes smaller bodies than configured; the limits for what follows. */
export function smallerLimits(body: string, records: number): { maxBytes: number; maxRecords: number } {
  return { maxBytes: Math.max(1, Math.floor(utf8Length(body) / 2)), maxRecords: halved(records) };
}
