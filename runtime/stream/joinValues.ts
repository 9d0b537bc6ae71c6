import type { StreamRecord } from "./stream.ts";

const NEWLINE = 0x0a;

/**
 * The values of `records` separated by newlines, in one allocation: the body of a
 * JSONEachRow insert. Values never hold a newline (the stream rejects them), so each
 * line is one record.
 */
export function joinValues(records: readonly Pick<StreamRecord, "value">[]): Uint8Array {
  let length = Math.max(0, records.length - 1);
  for (const record of records) length += record.value.byteLength;
  const body = new Uint8Array(length);
  let position = 0;
  for (const [i, record] of records.entries()) {
    if (i > 0) body[position++] = NEWLINE;
    body.set(record.value, position);
    position += record.value.byteLength;
  }
  return body;
}
