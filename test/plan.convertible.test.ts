/** runtime/plan/convertible.ts on chDB: found by the schema-evolution suite (a String -> Int change with "n/a" left the table unreadable). */
import { expect, test } from "bun:test";
import { prepareTypeChanges } from "../runtime/plan/convertible.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";
test("a type change some stored value cannot take is refused before anything changes, naming one; lossy casts the README documents pass", async () => {
  const store = await sharedChdbStore();
  await store.exec(`CREATE TABLE cv_${process.pid} (s String, e Enum8('a' = 1, 'b' = 2), n UInt16, ls LowCardinality(Nullable(String))) ENGINE = MergeTree ORDER BY tuple()`);
  await store.exec(`INSERT INTO cv_${process.pid} VALUES ('12', 'a', 300, NULL), ('n/a', 'b', 5, 'x')`);
  const mod = (column: string, from: string, to: string) => ({ kind: "modify_column" as const, table: `cv_${process.pid}`, column, from, to, sql: "", destructive: true as const, summary: `change cv.${column} from ${from} to ${to} (x)` });
  await expect(prepareTypeChanges(store, [mod("s", "String", "Int32")])).rejects.toThrow(/1 row holds a value Int32 cannot hold, e.g. "n\/a"/);
  await expect(prepareTypeChanges(store, [mod("e", "Enum8('a' = 1, 'b' = 2)", "Enum8('a' = 1)")])).rejects.toThrow(/e.g. "b"/);
  await prepareTypeChanges(store, [mod("n", "UInt16", "UInt8")]); // wraps, as documented
  await expect(prepareTypeChanges(store, [mod("ls", "LowCardinality(Nullable(String))", "Nullable(Int64)")])).rejects.toThrow(/e.g. "x"/);
  await prepareTypeChanges(store, [mod("s", "String", "String")]);
});

test("a decimal past the new integer type's range is refused (the engine fails the ALTER instead of wrapping)", async () => {
  const store = await sharedChdbStore();
  const table = `cvd_${process.pid}`;
  await store.exec(`CREATE TABLE ${table} (d Decimal(24, 2)) ENGINE = MergeTree ORDER BY tuple()`);
  await store.exec(`INSERT INTO ${table} VALUES (12.34), (18446744073709551615)`);
  const mod = (to: string) => ({ kind: "modify_column" as const, table, column: "d", from: "Decimal(24, 2)", to, sql: "", destructive: true as const, summary: `change ${table}.d from Decimal(24, 2) to ${to} (x)` });
  await expect(prepareTypeChanges(store, [mod("Int64")])).rejects.toThrow(/1 row holds a value Int64 cannot hold, e\.g\. "18446744073709551615/);
  await prepareTypeChanges(store, [mod("UInt64")]);
});
