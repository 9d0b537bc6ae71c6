/** Ingest ids (runtime/ingest/recordIds.ts): how they ride on records, and how long they are kept. */
import { expect, test } from "bun:test";
import { createTableSql } from "../runtime/store/clickhouseSql.ts";
import { forgetOldIds, idRows, RECORD_IDS_MODEL, RECORD_IDS_TABLE, recordIdOf, recordIdPrefix, storedIds, withRecordId } from "../runtime/ingest/recordIds.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";
import { random } from "./helpers/random.ts";

const encode = (text: string) => new TextEncoder().encode(text);

test("an id rides as the first field and is read back from the bytes; anything else is no id", () => {
  const next = random(11);
  for (let i = 0; i < 500; i++) {
    const prefix = recordIdPrefix(`client-${i}`, `key-${Math.floor(next() * 1e9)}`, `body ${i}`);
    expect(prefix).toMatch(/^[A-Za-z0-9_-]{12}$/);
    const row = i % 7 === 0 ? {} : { a: i, s: "x\"y\n", nested: [1, { b: 2 }] };
    const json = withRecordId(JSON.stringify(row), `${prefix}:${i}`);
    expect(JSON.parse(json)).toEqual({ _igloo_id: `${prefix}:${i}`, ...row });
    expect(recordIdOf(encode(json))).toBe(`${prefix}:${i}`);
  }
  // Written by someone else: not a shape Igloo writes, so not trusted as an id.
  for (const text of ['{"a":1}', '{"_igloo_id":"x\'; DROP TABLE t; --:1"}', '{"_igloo_id":"abc"}', '{"_igloo_id":1}', ' {"_igloo_id":"abc:1"}', `{"_igloo_id":"${"a".repeat(70)}:1"}`]) {
    expect({ text, id: recordIdOf(encode(text)) }).toEqual({ text, id: undefined });
  }
});

test("ids are remembered as ranges per request: one row per run of consecutive indexes", () => {
  expect(idRows(["p:0", "p:1", "p:2", "q:5", "p:7", "p:6", "q:4"], "T").map((r) => JSON.parse(r))).toEqual([
    { prefix: "p", first: 0, last: 2, ts: "T" },
    { prefix: "p", first: 6, last: 7, ts: "T" },
    { prefix: "q", first: 4, last: 5, ts: "T" },
  ]);
});

test("ids are kept two days: older days are dropped whole, newer ones stay and are still found", async () => {
  const store = await sharedChdbStore();
  await store.exec(createTableSql(RECORD_IDS_MODEL, store.capabilities));
  const now = new Date("2026-11-30T12:00:00Z");
  const day = (offset: number) => new Date(now.getTime() - offset * 86_400_000).toISOString();
  const rows = [0, 1, 2, 3, 9].flatMap((offset) => idRows([`forget-${offset}:0`, `forget-${offset}:1`], day(offset)));
  await store.insertJsonEachRow(RECORD_IDS_TABLE, encode(rows.join("\n")));
  expect(await forgetOldIds(store, now)).toBe(2);
  const kept = await storedIds(store, [0, 1, 2, 3, 9].map((offset) => `forget-${offset}:0`));
  expect([...kept].sort()).toEqual(["forget-0:0", "forget-1:0", "forget-2:0"]);
  expect([...(await storedIds(store, ["forget-0:1", "forget-0:2", "forget-3:1"]))]).toEqual(["forget-0:1"]);
  expect(await forgetOldIds(store, now)).toBe(0);
});
