/**
 * Table options as model attributes (`@@ttl`, `@ttl`, `@codec`, `@@skipIndex`,
 * `@@projection`, `@@settings`): what they parse to, what is refused without an engine
 * (at file:line:column), and that a model using none keeps the IR it always had.
 */
import { describe, expect, test } from "bun:test";
import { parseModels } from "../conventions/prisma/parse.ts";
import { parseCodec } from "../conventions/prisma/tableOptions.ts";

const FILE = "datamodels/T.prisma";

function parse(text: string) {
  return parseModels([{ path: FILE, text }]);
}

/** A model `T` with an id, a timestamp, `fields` and then `attributes`, one a line. */
function withOptions(fields: string, ...attributes: string[]): string {
  return `model T {\n  id String @id\n  ts DateTime\n${fields
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => `  ${l}\n`)
    .join("")}${attributes.map((a) => `  ${a}\n`).join("")}}\n`;
}

function errorsOf(text: string): string[] {
  return parse(text).errors.map((e) => e.message);
}

function only(text: string) {
  const { models, errors } = parse(text);
  expect(errors.map((e) => e.message)).toEqual([]);
  return models.models[0]!;
}

describe("table options parse into the IR", () => {
  test("every option, with where it was written", () => {
    const model = only(
      withOptions(
        'userId String @codec("ZSTD(3)")\nn Int @codec("Delta,  ZSTD") @ttl("ts + INTERVAL 1 DAY")',
        '@@ttl("ts + INTERVAL 30 DAY")',
        '@@skipIndex(name: "idx_user", expr: "userId", type: "bloom_filter(0.01)", granularity: 4)',
        '@@skipIndex(name: "idx_n", expr: "n", type: "minmax")',
        '@@projection(name: "by_user", select: "SELECT userId, count() GROUP BY userId")',
        '@@settings(index_granularity: 4096, ttl_only_drop_parts: true, storage_policy: "default", merge_with_ttl_timeout: 3600)',
      ),
    );
    expect(model.ttl).toEqual({ text: "ts + INTERVAL 30 DAY", source: { file: FILE, line: 6, column: 3 } });
    expect(model.fields.find((f) => f.name === "userId")?.codec).toEqual({ text: "ZSTD(3)", source: { file: FILE, line: 4, column: 17 } });
    const n = model.fields.find((f) => f.name === "n")!;
    expect(n.codec?.text).toBe("Delta, ZSTD");
    expect(n.ttl).toEqual({ text: "ts + INTERVAL 1 DAY", source: { file: FILE, line: 5, column: 32 } });
    expect(model.skipIndexes).toEqual([
      { name: "idx_user", expression: "userId", type: "bloom_filter(0.01)", granularity: 4, source: { file: FILE, line: 7, column: 3 } },
      { name: "idx_n", expression: "n", type: "minmax", granularity: 1, source: { file: FILE, line: 8, column: 3 } },
    ]);
    expect(model.projections).toEqual([{ name: "by_user", select: "SELECT userId, count() GROUP BY userId", source: { file: FILE, line: 9, column: 3 } }]);
    expect(model.settings?.map((s) => [s.name, s.value])).toEqual([
      ["index_granularity", 4096],
      ["ttl_only_drop_parts", true],
      ["storage_policy", "default"],
      ["merge_with_ttl_timeout", 3600],
    ]);
  });

  test("a model without options has exactly the IR keys it had before (the pipeline compares IR signatures)", () => {
    const model = only(withOptions("n Int @default(3)", "@@partitionBy(\"toYYYYMM(ts)\")"));
    expect(Object.keys(model).sort()).toEqual(["engine", "fields", "id", "key", "name", "orderBy", "partitionBy", "source", "table"]);
    for (const field of model.fields) expect(Object.keys(field).every((k) => ["name", "column", "type", "optional", "list", "default", "id", "doc", "source"].includes(k))).toBe(true);
  });

  test("codec lists: known names as ClickHouse spells them, preparation before compression", () => {
    expect(parseCodec("ZSTD")).toEqual({ codec: "ZSTD" });
    expect(parseCodec(" Delta(4) , DoubleDelta, LZ4HC(9) ")).toEqual({ codec: "Delta(4), DoubleDelta, LZ4HC(9)" });
    expect(parseCodec("FPC(12, 4), ZSTD")).toEqual({ codec: "FPC(12,4), ZSTD" });
    expect(parseCodec("ZSTD, AES_128_GCM_SIV")).toEqual({ codec: "ZSTD, AES_128_GCM_SIV" });
    expect(parseCodec("NONE")).toEqual({ codec: "NONE" });
    expect(parseCodec("zstd")).toMatchObject({ problem: "`@codec`: unknown codec `zstd`", hint: expect.stringContaining("Did you mean ZSTD?") });
    expect(parseCodec("ZSTD, Delta")).toMatchObject({ problem: expect.stringContaining("`Delta` comes after the compression `ZSTD`") });
    expect(parseCodec("LZ4, ZSTD")).toMatchObject({ problem: expect.stringContaining("`ZSTD` comes after the compression `LZ4`") });
    expect(parseCodec("NONE, ZSTD")).toMatchObject({ problem: expect.stringContaining("NONE stores values uncompressed") });
    expect(parseCodec("AES_128_GCM_SIV, ZSTD")).toMatchObject({ problem: "`@codec`: an encryption codec comes last" });
    expect(parseCodec("ZSTD(x)")).toMatchObject({ problem: "`@codec`: `ZSTD(x)` is not a codec" });
    expect(parseCodec("ZSTD(3")).toMatchObject({ problem: "`@codec`: its `(` is not closed" });
    expect(parseCodec("")).toMatchObject({ problem: "`@codec`: it is empty" });
  });
});

describe("what is refused without an engine, at file:line:column", () => {
  test("TTL expressions", () => {
    expect(errorsOf(withOptions("", "@@ttl(ts)"))).toEqual([
      `${FILE}:4:3: model \`T\`: \`@@ttl\` takes a ClickHouse TTL expression in a string. Write it as e.g. @@ttl("ts + INTERVAL 30 DAY").`,
    ]);
    expect(errorsOf(withOptions("", '@@ttl("")'))).toEqual([`${FILE}:4:3: model \`T\`: \`@@ttl\`: it is empty. Write one TTL expression, e.g. @@ttl("ts + INTERVAL 30 DAY").`]);
    expect(errorsOf(withOptions("", '@@ttl("ts + INTERVAL 1 DAY) SETTINGS x = 1")'))[0]).toStartWith(`${FILE}:4:3: model \`T\`: \`@@ttl\`: its \`)\` has no opening bracket.`);
    expect(errorsOf(withOptions("", '@@ttl("ts + INTERVAL 1 DAY; DROP TABLE T")'))[0]).toContain("it holds a `;`");
    expect(errorsOf(withOptions("", "@@ttl(\"toDate('2020)\")"))[0]).toContain("its quote ' is not closed");
    expect(errorsOf(withOptions("", '@@ttl("ts + INTERVAL 1 DAY")', '@@ttl("ts + INTERVAL 2 DAY")'))).toEqual([`${FILE}:5:3: model \`T\` has \`@@ttl\` twice`]);
    expect(errorsOf(withOptions('note String @ttl("")'))).toEqual([`${FILE}:4:15: field \`note\` of model \`T\`: \`@ttl\`: it is empty. Write one TTL expression, e.g. @ttl("ts + INTERVAL 30 DAY").`]);
    expect(errorsOf(withOptions('note String @ttl(1, 2)'))[0]).toContain("`@ttl` takes a ClickHouse TTL expression in a string");
  });

  test("a column TTL on a sort key column, which the engine keeps", () => {
    expect(errorsOf(withOptions('k String @ttl("ts + INTERVAL 1 DAY")', "@@orderBy([k, id])"))).toEqual([
      `${FILE}:4:12: model \`T\`: field \`k\` is in the table's sort key, which the engine keeps: it takes no @ttl. Remove @ttl from it, or take it out of @@orderBy/@id.`,
    ]);
    expect(errorsOf(`model T {\n  id String @id @ttl("now()")\n}`)[0]).toContain("field `id` is in the table's sort key");
  });

  test("codecs", () => {
    expect(errorsOf(withOptions('n Int @codec("Zstd")'))).toEqual([`${FILE}:4:9: field \`n\` of model \`T\`: \`@codec\`: unknown codec \`Zstd\`. Did you mean ZSTD? ClickHouse spells codec names exactly.`]);
    expect(errorsOf(withOptions('n Int @codec("ZSTD, Delta")'))[0]).toStartWith(`${FILE}:4:9: field \`n\` of model \`T\`: \`@codec\`: \`Delta\` comes after the compression \`ZSTD\``);
    expect(errorsOf(withOptions("n Int @codec(ZSTD)"))[0]).toContain("`@codec` takes the codecs in a string");
  });

  test("data-skipping indexes", () => {
    const at = (attr: string) => errorsOf(withOptions("userId String", attr));
    expect(at('@@skipIndex(name: "i", expr: "userId")')).toEqual([
      `${FILE}:5:3: model \`T\`: \`@@skipIndex\` needs \`name\`, \`expr\` and \`type\`, each a string. Write @@skipIndex(name: "idx_user", expr: "userId", type: "bloom_filter(0.01)", granularity: 4); granularity is optional (1).`,
    ]);
    expect(at('@@skipIndex("i", "userId", "minmax")')[0]).toContain("`@@skipIndex` takes named arguments only");
    expect(at('@@skipIndex(name: "i", expr: "userId", type: "minmax", size: 3)')[0]).toContain("has no argument `size` (it takes name, expr, type, granularity)");
    expect(at('@@skipIndex(name: "i", name: "j", expr: "userId", type: "minmax")')[0]).toContain("names `name` twice");
    expect(at('@@skipIndex(name: "my index", expr: "userId", type: "minmax")')[0]).toContain("name `my index` must be letters, digits and _ only");
    expect(at('@@skipIndex(name: "i", expr: "lower(userId", type: "minmax")')[0]).toContain("`expr`: its `(` is not closed");
    expect(at('@@skipIndex(name: "i", expr: "userId", type: "minmax GRANULARITY 3")')[0]).toContain("`type`: it is not an index type");
    expect(at('@@skipIndex(name: "i", expr: "userId", type: "minmax", granularity: 0)')[0]).toContain("`granularity` is a whole number from 1");
    expect(at('@@skipIndex(name: "i", expr: "userId", type: "minmax", granularity: "4")')[0]).toContain("`granularity` is a whole number from 1");
    expect(errorsOf(withOptions("userId String", '@@skipIndex(name: "i", expr: "userId", type: "minmax")', '@@projection(name: "i", select: "SELECT userId ORDER BY userId")'))).toEqual([
      `${FILE}:6:3: model \`T\`: projection name \`i\` is already the name of an index. Give each @@skipIndex and @@projection its own name.`,
    ]);
  });

  test("@@index is Prisma's B-tree, refused with a pointer to @@skipIndex", () => {
    expect(errorsOf(withOptions("userId String", "@@index([userId])"))).toEqual([
      `${FILE}:5:3: model \`T\`: \`@@index\` is not supported; OLAP tables keep no secondary indexes that find single rows. @@orderBy chooses the sort key queries use; for a data-skipping index, which lets the engine skip blocks of rows, write @@skipIndex(name: "idx_a", expr: "a", type: "minmax").`,
    ]);
  });

  test("projections", () => {
    const at = (attr: string) => errorsOf(withOptions("userId String", attr));
    expect(at('@@projection(name: "p")')[0]).toContain("`@@projection` needs `name` and `select`, each a string");
    expect(at('@@projection(name: "p", select: "userId, count()")')[0]).toBe(
      `${FILE}:5:3: model \`T\`: \`@@projection\` \`select\` is a SELECT. Write @@projection(name: "by_user", select: "SELECT userId, count() GROUP BY userId").`,
    );
    expect(at('@@projection(name: "p", select: "SELECT userId, count() FROM T GROUP BY userId")')[0]).toBe(
      `${FILE}:5:3: model \`T\`: \`@@projection\` \`select\` has a FROM; a projection reads its own table. Leave FROM out: SELECT columns [GROUP BY ...] [ORDER BY ...].`,
    );
    // FROM inside a function call or a string is not the SELECT's own.
    expect(at("@@projection(name: \"p\", select: \"SELECT userId, count() GROUP BY userId, extract(userId, 'FROM')\")")).toEqual([]);
  });

  test("settings", () => {
    const at = (attr: string) => errorsOf(withOptions("", attr));
    expect(at('@@settings("index_granularity = 4096")')[0]).toBe(
      `${FILE}:4:3: model \`T\`: \`@@settings\` takes \`name: value\` pairs. Write @@settings(index_granularity: 4096, ttl_only_drop_parts: true, storage_policy: "hot"): names as ClickHouse spells them, values numbers, strings or true/false.`,
    );
    expect(at("@@settings()")[0]).toContain("`@@settings` is empty");
    expect(at("@@settings(non_replicated_deduplication_window: 10)")[0]).toBe(
      `${FILE}:4:3: model \`T\`: \`@@settings\`: Igloo sets \`non_replicated_deduplication_window\` itself (it keeps retried batches from being stored twice). Remove it from @@settings.`,
    );
    expect(at("@@settings(a: 1, a: 2)")[0]).toContain("names `a` twice");
    expect(at("@@settings(a: [1])")[0]).toContain("the value of `a` must be a number, a string or true/false");
    expect(at("@@settings(a: 123456789012345678901)")[0]).toContain("the value of `a` must be a number");
  });

  test("a stream-only model has no table to hold options", () => {
    expect(errorsOf(withOptions("", "@@streamOnly", '@@ttl("ts + INTERVAL 1 DAY")'))).toEqual([
      `${FILE}:5:3: model \`T\` is \`@@streamOnly\`: it has no table, so no table options. Remove the option, or @@streamOnly.`,
    ]);
  });
});
