/**
 * Idempotency that survives the process: a request sent with an `idempotency-key` gives
 * each accepted record an id, derived from the caller, the model, the key and the body,
 * that travels with the record as its first field (`_igloo_id`: the request's prefix and
 * the record's index in it). The table writer remembers the ids it stored in
 * `igloo_ingest_ids`, as ranges of indexes per prefix (a request's records arrive together,
 * so one row per request and batch), and drops records whose id is there,
 * so a resend stores nothing twice even when it reaches another ingest process, one that
 * restarted, or follows an append whose outcome was unknown (a Kafka produce that timed
 * out). The table ignores the field; functions never see it.
 */
import { createHash } from "node:crypto";
import { BUILTIN_SOURCE, builtinField } from "../../conventions/datamodels/builtin.ts";
import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import { quoteString } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import type { StreamRecord } from "../stream/stream.ts";

export const RECORD_ID_FIELD = "_igloo_id";
export const RECORD_IDS_TABLE = "igloo_ingest_ids";


/**
 * The ids the writers stored: per request prefix, a range of record indexes. Partitioned
 * by day so old ones can be dropped a day at a time.
 */
export const RECORD_IDS_MODEL: ModelIR = {
  name: RECORD_IDS_TABLE,
  table: RECORD_IDS_TABLE,
  fields: [
    builtinField("prefix", { kind: "string", lowCardinality: false }),
    builtinField("first", { kind: "int", bits: 32, signed: false }),
    builtinField("last", { kind: "int", bits: 32, signed: false }),
    builtinField("ts", { kind: "datetime", precision: 3 }),
  ],
  id: [],
  orderBy: ["prefix"],
  partitionBy: "toYYYYMMDD(ts)",
  engine: { kind: "MergeTree" },
  source: BUILTIN_SOURCE,
};

/**
 * The prefix of the ids of one request's records: 12 characters of [A-Za-z0-9_-] (72 bits;
 * two requests share one within the 2 days ids are kept with a chance of about 10^-6 at
 * 10^8 keyed requests a day). Every record carries it, so it is kept short.
 */
export function recordIdPrefix(scope: string, key: string, body: string): string {
  return createHash("sha256").update(scope).update("\u0000").update(key).update("\u0000").update(body).digest("base64url").slice(0, 12);
}

/** A record's JSON (an object) with its id as the first field. */
export function withRecordId(json: string, id: string): string {
  return json === "{}" ? `{"${RECORD_ID_FIELD}":"${id}"}` : `{"${RECORD_ID_FIELD}":"${id}",${json.slice(1)}`;
}

const PREFIX = new TextEncoder().encode(`{"${RECORD_ID_FIELD}":"`);
const QUOTE = 0x22;
const VALID_ID = /^[A-Za-z0-9_-]{1,64}:\d{1,9}$/;
const decoder = new TextDecoder();

/** The id a record carries, if it starts with one Igloo could have written. */
export function recordIdOf(value: Uint8Array): string | undefined {
  if (value.length < PREFIX.length + 3) return undefined;
  for (let i = 0; i < PREFIX.length; i++) if (value[i] !== PREFIX[i]) return undefined;
  const end = value.indexOf(QUOTE, PREFIX.length);
  if (end < 0 || end - PREFIX.length > 80) return undefined;
  const id = decoder.decode(value.subarray(PREFIX.length, end));
  return VALID_ID.test(id) ? id : undefined;
}

/** The ids among `records`, by position; undefined when none carries one (the common case). */
export function recordIds(records: readonly StreamRecord[]): (string | undefined)[] | undefined {
  let ids: (string | undefined)[] | undefined;
  for (let i = 0; i < records.length; i++) {
    const id = recordIdOf(records[i]!.value);
    if (id === undefined) continue;
    ids ??= new Array(records.length);
    ids[i] = id;
  }
  return ids;
}

/** A record's id in parts. */
export function splitId(id: string): { prefix: string; index: number } {
  const at = id.lastIndexOf(":");
  return { prefix: id.slice(0, at), index: Number(id.slice(at + 1)) };
}

/** The indexes of `ids`, by prefix. */
function byPrefix(ids: readonly string[]): Map<string, number[]> {
  const grouped = new Map<string, number[]>();
  for (const id of ids) {
    const { prefix, index } = splitId(id);
    let indexes = grouped.get(prefix);
    if (!indexes) grouped.set(prefix, (indexes = []));
    indexes.push(index);
  }
  return grouped;
}

/** Which of `ids` were stored already: asked per prefix, answered from the stored ranges. */
export async function storedIds(store: Store, ids: readonly string[]): Promise<Set<string>> {
  const wanted = byPrefix(ids);
  const ranges = new Map<string, [number, number][]>();
  const prefixes = [...wanted.keys()];
  for (let i = 0; i < prefixes.length; i += 5_000) {
    const chunk = prefixes.slice(i, i + 5_000);
    // The prefixes match VALID_ID's first part, and are quoted besides.
    const { rows } = await store.query<{ prefix: string; first: number; last: number }>(
      `SELECT prefix, first, last FROM ${RECORD_IDS_TABLE} WHERE prefix IN (${chunk.map(quoteString).join(", ")})`,
    );
    for (const row of rows) {
      let list = ranges.get(row.prefix);
      if (!list) ranges.set(row.prefix, (list = []));
      list.push([Number(row.first), Number(row.last)]);
    }
  }
  const stored = new Set<string>();
  for (const [prefix, indexes] of wanted) {
    const list = ranges.get(prefix);
    if (!list) continue;
    for (const index of indexes) if (list.some(([first, last]) => index >= first && index <= last)) stored.add(`${prefix}:${index}`);
  }
  return stored;
}

/** Rows for `igloo_ingest_ids` remembering `ids`: one per prefix and run of consecutive indexes. */
export function idRows(ids: readonly string[], ts: string): string[] {
  const rows: string[] = [];
  for (const [prefix, indexes] of byPrefix(ids)) {
    indexes.sort((a, b) => a - b);
    let first = indexes[0]!;
    let last = first;
    for (const index of indexes.slice(1)) {
      if (index === last + 1) {
        last = index;
        continue;
      }
      rows.push(JSON.stringify({ prefix, first, last, ts }));
      first = last = index;
    }
    rows.push(JSON.stringify({ prefix, first, last, ts }));
  }
  return rows;
}

/** Days of ids kept: a resend comes within minutes; one after this is stored again. */
export const RECORD_ID_DAYS = 2;

/** Drops the days of ids older than RECORD_ID_DAYS (whole partitions: no rewrite). Returns how many days were dropped. */
export async function forgetOldIds(store: Store, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - RECORD_ID_DAYS * 86_400_000);
  const oldest = Number(cutoff.toISOString().slice(0, 10).replaceAll("-", ""));
  const { rows } = await store.query<{ partition: string }>(
    `SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = ${quoteString(RECORD_IDS_TABLE)} AND active`,
  );
  const old = rows.map((r) => r.partition.replace(/'/g, "")).filter((p) => /^\d{8}$/.test(p) && Number(p) < oldest);
  for (const day of old) await store.exec(`ALTER TABLE ${RECORD_IDS_TABLE} DROP PARTITION ${day}`);
  return old.length;
}
