import { describe, expect, test } from "bun:test";
import { parseModels } from "../conventions/prisma/parse.ts";
import { planModels } from "../runtime/plan/plan.ts";
import type { StoreCapabilities } from "../runtime/store/store.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";

const caps: StoreCapabilities = {
  version: "26.7",
  supportsDateTime64: true,
  supportsDate32: true,
  supportsBool: true,
  supportsJsonType: true,
  supportsLowCardinality: true,
  supportsQueryParams: true,
  supportsInsertDeduplicationToken: true,
  supportsExplainAst: true,
  supportsTableTtl: true,
  supportsColumnTtl: true,
  supportsCodecs: true,
  supportsSkipIndexes: true,
  supportsProjections: true,
};

function model(body: string) {
  const { models, errors } = parseModels([{ path: "datamodels/E.prisma", text: `model E {\n${body}\n}` }]);
  expect(errors).toEqual([]);
  return models.models;
}

const live = (columns: [string, string][]) => new Map([["E", columns.map(([name, type]) => ({ name, type, defaultExpression: "", comment: "" }))]]);

describe("planModels", () => {
  test("a new model is a CREATE TABLE with the mapped types", () => {
    const [change] = planModels(model("id String @id\n ts DateTime\n tags String[]\n n Int? @db.UInt8"), new Map(), caps).changes;
    expect(change?.kind).toBe("create_table");
    expect(change?.destructive).toBe(false);
    expect(change?.sql).toContain("`ts` DateTime64(3, 'UTC')");
    expect(change?.sql).toContain("`tags` Array(String)");
    expect(change?.sql).toContain("`n` Nullable(UInt8)");
    expect(change?.sql).toContain("ORDER BY (`id`)");
    expect(change?.sql).toContain("non_replicated_deduplication_window");
  });

  test("an added field is a safe ADD COLUMN in place; unchanged columns are left alone", () => {
    const { changes } = planModels(model("id String @id\n extra Int @default(5)\n ts DateTime"), live([["id", "String"], ["ts", "DateTime64(3, 'UTC')"]]), caps);
    expect(changes).toEqual([expect.objectContaining({ kind: "add_column", column: "extra", destructive: false })]);
    expect(changes[0]!.sql).toBe("ALTER TABLE `E` ADD COLUMN `extra` Int32 DEFAULT 5 AFTER `id`");
  });

  test("type changes and removed fields are destructive and say what is lost", () => {
    const { changes } = planModels(model("id String @id\n n BigInt"), live([["id", "String"], ["n", "Int32"], ["gone", "String"]]), caps);
    expect(changes.map((c) => [c.kind, c.destructive])).toEqual([
      ["modify_column", true],
      ["drop_column", true],
    ]);
    expect(changes[1]!.summary).toContain('@map("gone")');
  });

  test("a renamed field that keeps its column through @map changes nothing", () => {
    expect(planModels(model('id String @id\n renamed String @map("old")'), live([["id", "String"], ["old", "String"]]), caps).changes).toEqual([]);
  });

  test("type spelling differences from the engine are not changes", () => {
    expect(planModels(model("id String @id\n d Decimal @db.Decimal(18, 4)"), live([["id", "String"], ["d", "Decimal(18,4)"]]), caps).changes).toEqual([]);
  });
});

/** Found by the schema-evolution suite (test/generative.evolution.test.ts): changes `y` could not apply, or applied wrongly. */
describe("planModels: enum values and required fields, on the engine", () => {
  const withEnum = (values: string, field = "c Color") => {
    const { models, errors } = parseModels([{ path: "datamodels/E.prisma", text: `model E {\n id String @id\n ${field}\n}\nenum Color {\n${values}\n}` }]);
    expect(errors).toEqual([]);
    return models.models;
  };

  test("an enum value added before others keeps the numbers the column has: rows keep their values", async () => {
    const { changes } = planModels(withEnum("a\nx\nb"), live([["id", "String"], ["c", "Enum8('a' = 1, 'b' = 2)"]]), caps);
    expect(changes.map((c) => c.sql)).toEqual(["ALTER TABLE `E` MODIFY COLUMN `c` Enum8('a' = 1, 'x' = 3, 'b' = 2)"]);
    // The same values under other numbers are the same type: nothing to change.
    expect(planModels(withEnum("b\na\nx"), live([["id", "String"], ["c", "Enum8('a' = 1, 'b' = 2, 'x' = 3)"]]), caps).changes).toEqual([]);
    // A removed value leaves the others' numbers alone; past 127 the column becomes an Enum16.
    expect(planModels(withEnum("a\nc"), live([["id", "String"], ["c", "Enum8('a' = 1, 'b' = 2, 'c' = 3)"]]), caps).changes[0]!.sql).toEndWith("`c` Enum8('a' = 1, 'c' = 3)");
    expect(planModels(withEnum("a\nz"), live([["id", "String"], ["c", "Enum8('a' = 127)"]]), caps).changes[0]!.sql).toEndWith("`c` Enum16('a' = 127, 'z' = 128)");

    const store = await sharedChdbStore();
    const table = `plan_enum_${process.pid}`;
    const [model] = withEnum("a\nb");
    await store.exec(`DROP TABLE IF EXISTS ${table}`);
    for (const change of planModels([{ ...model!, table }], new Map(), caps).changes) await store.exec(change.sql);
    await store.insertJsonEachRow(table, new TextEncoder().encode('{"id":"1","c":"a"}\n{"id":"2","c":"b"}'));
    for (const values of ["a\nx\nb", "y\na\nx\nb", "y\nb"]) {
      const [next] = withEnum(values);
      const columns = (await store.describeTable(table))!;
      for (const change of planModels([{ ...next!, table }], new Map([[table, columns]]), caps).changes) await store.exec(change.sql);
      const { rows } = await store.query<{ id: string; c: string }>(`SELECT id, c FROM ${table} WHERE id = '2'`);
      expect(rows).toEqual([{ id: "2", c: "b" }]);
    }
  });

  test("a field made required turns its NULLs into its column's DEFAULT, else its @default, else the type's zero value", async () => {
    const [required] = model("id String @id\n n Int @db.UInt8");
    const [withDefault] = model('id String @id\n n Int @db.UInt8 @default(7)\n s String @default("none")');
    const nullable = live([["id", "String"], ["n", "Nullable(UInt8)"], ["s", "LowCardinality(Nullable(String))"]]);
    expect(planModels([required!], live([["id", "String"], ["n", "Nullable(UInt8)"]]), caps).changes.map((c) => c.sql)).toEqual(["ALTER TABLE `E` MODIFY COLUMN `n` UInt8 DEFAULT CAST(0 AS UInt8)"]);
    const changes = planModels([withDefault!], nullable, caps).changes;
    expect(changes.map((c) => c.sql)).toEqual(["ALTER TABLE `E` MODIFY COLUMN `n` UInt8 DEFAULT CAST(7 AS UInt8)", "ALTER TABLE `E` MODIFY COLUMN `s` String DEFAULT CAST('none' AS String)"]);
    expect(changes[0]!.summary).toContain("NULLs become 7");
    // A column created with a DEFAULT keeps it (rows older than the column read it), typed: an
    // enum's plain 'b' made the engine's ifNull fail on the NULL rows and left the table unreadable.
    const [enumField] = parseModels([{ path: "datamodels/E.prisma", text: "model E {\n id String @id\n c Color @default(a)\n}\nenum Color {\n a\n b\n}" }]).models.models;
    const enumColumns = [{ name: "id", type: "String", defaultExpression: "", comment: "" }, { name: "c", type: "Nullable(Enum8('a' = 1, 'b' = 2))", defaultExpression: "'b'", comment: "" }];
    expect(planModels([enumField!], new Map([["E", enumColumns]]), caps).changes.map((c) => c.sql)).toEqual(["ALTER TABLE `E` MODIFY COLUMN `c` Enum8('a' = 1, 'b' = 2) DEFAULT CAST(('b') AS Enum8('a' = 1, 'b' = 2))"]);

    const store = await sharedChdbStore();
    const table = `plan_required_${process.pid}`;
    // An enum's NULLs too (a plain 'b' default there failed the engine's ifNull and left the table unreadable).
    const parse = (text: string) => parseModels([{ path: "datamodels/E.prisma", text: `${text}\nenum Color {\n a\n b\n}` }]).models.models;
    const [optional] = parse("model E {\n id String @id\n n Int? @db.UInt8\n d DateTime?\n c String? @db.LowCardinality\n e Color?\n f Color?\n}");
    const [made] = parse("model E {\n id String @id\n n Int @db.UInt8 @default(7)\n d DateTime\n c String @db.LowCardinality\n e Color @default(b)\n f Color\n g Color @default(b)\n}");
    await store.exec(`DROP TABLE IF EXISTS ${table}`);
    for (const change of planModels([{ ...optional!, table }], new Map(), caps).changes) await store.exec(change.sql);
    await store.insertJsonEachRow(table, new TextEncoder().encode('{"id":"0","n":1,"d":null,"c":null,"e":null,"f":null}'));
    // A column added with a DEFAULT: the row older than it reads 'a', and keeps it.
    await store.exec(`ALTER TABLE ${table} ADD COLUMN g Nullable(Enum8('a' = 1, 'b' = 2)) DEFAULT 'a'`);
    await store.insertJsonEachRow(table, new TextEncoder().encode('{"id":"1","n":3,"d":"2026-01-01 00:00:00","c":"x","e":"a","f":"b","g":"b"}\n{"id":"2","n":null,"d":null,"c":null,"e":null,"f":null,"g":null}'));
    const columns = (await store.describeTable(table))!;
    for (const change of planModels([{ ...made!, table }], new Map([[table, columns]]), caps).changes) await store.exec(change.sql);
    const { rows } = await store.query(`SELECT id, n, toString(d) AS d, c, e, f, g FROM ${table} ORDER BY id`);
    expect(rows).toEqual([
      { id: "0", n: 1, d: "1970-01-01 00:00:00.000", c: "", e: "b", f: "a", g: "a" },
      { id: "1", n: 3, d: "2026-01-01 00:00:00.000", c: "x", e: "a", f: "b", g: "b" },
      { id: "2", n: 7, d: "1970-01-01 00:00:00.000", c: "", e: "b", f: "a", g: "a" },
    ]);
  });
});

test("a Boolean? retyped to a required String: NULLs get its DEFAULT converted as its values are (\"false\", not \"0\"; found by the schema-evolution suite)", async () => {
  const store = await sharedChdbStore();
  const table = `plan_bool_${process.pid}`;
  const [optional] = model('id String @id\n b Boolean? @default(false)');
  const [made] = model("id String @id\n b String @db.LowCardinality");
  await store.exec(`DROP TABLE IF EXISTS ${table}`);
  for (const change of planModels([{ ...optional!, table }], new Map(), caps).changes) await store.exec(change.sql);
  await store.insertJsonEachRow(table, new TextEncoder().encode('{"id":"0","b":null}\n{"id":"1","b":false}\n{"id":"2","b":true}'));
  const columns = (await store.describeTable(table))!;
  for (const change of planModels([{ ...made!, table }], new Map([[table, columns]]), caps).changes) await store.exec(change.sql);
  const { rows } = await store.query(`SELECT id, b FROM ${table} ORDER BY id`);
  expect(rows).toEqual([
    { id: "0", b: "false" },
    { id: "1", b: "false" },
    { id: "2", b: "true" },
  ]);
  await store.exec(`DROP TABLE ${table}`);
});

describe("planModels: SQL every supported server parses", () => {
  test("columns are added and dropped without IF [NOT] EXISTS, which ClickHouse 18.16 rejects as a syntax error", () => {
    const { changes } = planModels(model("id String @id\n added Int?"), live([["id", "String"], ["gone", "String"]]), caps);
    expect(changes.map((c) => c.sql)).toEqual(["ALTER TABLE `E` ADD COLUMN `added` Nullable(Int32) AFTER `id`", "ALTER TABLE `E` DROP COLUMN `gone`"]);
  });
});
