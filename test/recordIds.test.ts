/** Ingest ids (runtime/ingest/recordIds.ts): how they ride on records, and how long they are kept. */
import { expect, test } from "bun:test";
import { createTableSql } from "../runtime/store/clickhouseSql.ts";
import { forgetOldIds, RECORD_IDS_MODEL, RECORD_IDS_TABLE, recordIdOf, recordIdPrefix, storedIds, withRecordId } from "../runtime/ingest/recordIds.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";
import { random } from "./helpers/random.ts";

const encode = (text: string) => new TextEncoder().encode(text);

test("an id rides as the first field and is read back from the bytes; anything else is no id", () => {
  const next = random(11);
  for (let i = 0; i < 500; i++) {
    const prefix = recordIdPrefix(`client-${i}`, `key-${Math.floor(next() * 1e9)}`, `body ${i}`);
    expect(prefix).toMatch(/^[A-Za-z0-9_-]{22}$/);
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

test("ids are kept two days: older days are dropped whole, newer ones stay and are still found", async () => {
  const store = await sharedChdbStore();
  await store.exec(createTableSql(RECORD_IDS_MODEL, store.capabilities));
  const now = new Date("2026-11-30T12:00:00Z");
  const day = (offset: number) => new Date(now.getTime() - offset * 86_400_000).toISOString();
  const rows = [0, 1, 2, 3, 9].map((offset) => JSON.stringify({ id: `forget-${offset}:0`, ts: day(offset) }));
  await store.insertJsonEachRow(RECORD_IDS_TABLE, encode(rows.join("\n")));
  expect(await forgetOldIds(store, now)).toBe(2);
  const kept = await storedIds(store, [0, 1, 2, 3, 9].map((offset) => `forget-${offset}:0`));
  expect([...kept].sort()).toEqual(["forget-0:0", "forget-1:0", "forget-2:0"]);
  expect(await forgetOldIds(store, now)).toBe(0);
});
