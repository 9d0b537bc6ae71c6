/**
 * A call's records as the JSON that goes into requests, written once when the call is
 * made: a record that cannot be written fails its call at once, before anything is sent.
 */
import { IglooError } from "./errors.js";
import { toJson } from "./http.js";

/** One record's JSON, or why it has none (`index` is its place in its call). */
export function recordJson(model: string, record: unknown, index: number): string | IglooError {
  try {
    const text = toJson(record) as string | undefined;
    if (text === undefined) throw new TypeError(`${typeof record} is not a JSON value`);
    return text;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return new IglooError("E_SERIALIZE", `ingest ${model}: record ${index} cannot be written as JSON (${why}); nothing of this call was sent`, { cause: error });
  }
}

/** Every record's JSON and their total UTF-16 length, or the first record that has none. */
export function callJson(model: string, records: readonly unknown[]): { texts: string[]; chars: number } | IglooError {
  const texts = new Array<string>(records.length);
  let chars = 0;
  for (let i = 0; i < records.length; i++) {
    const text = recordJson(model, records[i], i);
    if (text instanceof IglooError) return text;
    texts[i] = text;
    chars += text.length;
  }
  return { texts, chars };
}

/** The UTF-16 length of texts[from..to). */
export function charsOf(texts: readonly string[], from: number, to: number): number {
  let total = 0;
  for (let i = from; i < to; i++) total += texts[i]!.length;
  return total;
}

export function closedError(model: string): IglooError {
  return new IglooError("E_CLOSED", `ingest ${model}: the client is closed; create a new one to send more`);
}
