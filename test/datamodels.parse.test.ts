import { describe, expect, test } from "bun:test";
import type { FieldIR, ModelIR } from "../conventions/datamodels/ir.ts";
import { parseModels } from "../conventions/prisma/parse.ts";
import { modelTypes } from "../src/generate/modelTypes.ts";

const FILE = "datamodels/T.prisma";

function parse(text: string) {
  return parseModels([{ path: FILE, text }]);
}

/** Error messages for one file. */
function errorsOf(text: string): string[] {
  return parse(text).errors.map((error) => error.message);
}

/** The single model of a file that must parse cleanly. */
function modelOf(text: string): ModelIR {
  const { models, errors } = parse(text);
  expect(errors.map((error) => error.message)).toEqual([]);
  const [model] = models.models;
  if (model === undefined) throw new Error("no model");
  return model;
}

function fieldOf(text: string, name: string): FieldIR {
  const found = modelOf(text).fields.find((field) => field.name === name);
  if (found === undefined) throw new Error(`no field ${name}`);
  return found;
}

/** A model `T` with the given field lines (line 2 onwards). */
function withFields(...lines: string[]): string {
  return `model T {\n${lines.map((line) => `  ${line}`).join("\n")}\n}\n`;
}

describe("scalar types", () => {
  test("each Prisma scalar maps to its default OLAP type", () => {
    const model = modelOf(
      withFields("s String", "b Boolean", "i Int", "l BigInt", "f Float", "d Decimal", "t DateTime", "j Json", "y Bytes"),
    );
    expect(Object.fromEntries(model.fields.map((field) => [field.name, field.type]))).toEqual({
      s: { kind: "string", lowCardinality: false },
      b: { kind: "bool" },
      i: { kind: "int", bits: 32, signed: true },
      l: { kind: "int", bits: 64, signed: true },
      f: { kind: "float", bits: 64 },
      d: { kind: "decimal", precision: 38, scale: 9 },
      t: { kind: "datetime", precision: 3 },
      j: { kind: "json", native: false },
      y: { kind: "bytes" },
    });
  });

  test("full field shape: column, flags and source", () => {
    expect(fieldOf(withFields("a String", "b Int?", "c Float[]"), "b")).toEqual({
      name: "b",
      column: "b",
      type: { kind: "int", bits: 32, signed: true },
      optional: true,
      list: false,
      id: false,
      source: { file: FILE, line: 3, column: 3 },
    });
    const c = fieldOf(withFields("c Float[]"), "c");
    expect([c.optional, c.list]).toEqual([false, true]);
  });

  test("an optional list is a syntax Prisma forbids, reported at the token", () => {
    expect(errorsOf(withFields("a String", "b String?[]"))).toEqual([
      `${FILE}:3:12: a field cannot be both optional and a list. Write Type[]: a missing list is stored as an empty list.`,
    ]);
    expect(errorsOf(withFields("b String[]?"))).toEqual([
      `${FILE}:2:13: a field cannot be both optional and a list. Write Type[]: a missing list is stored as an empty list.`,
    ]);
  });
});

describe("@db native types", () => {
  test("integer widths on Int and BigInt", () => {
    for (const base of ["Int", "BigInt"]) {
      for (const bits of [8, 16, 32, 64, 128, 256] as const) {
        expect(fieldOf(withFields(`v ${base} @db.Int${bits}`), "v").type).toEqual({ kind: "int", bits, signed: true });
        expect(fieldOf(withFields(`v ${base} @db.UInt${bits}`), "v").type).toEqual({ kind: "int", bits, signed: false });
      }
    }
  });

  test("floats, decimals, datetimes, dates", () => {
    expect(fieldOf(withFields("v Float @db.Float32"), "v").type).toEqual({ kind: "float", bits: 32 });
    expect(fieldOf(withFields("v Float @db.Float64"), "v").type).toEqual({ kind: "float", bits: 64 });
    expect(fieldOf(withFields("v Decimal @db.Decimal(10, 2)"), "v").type).toEqual({ kind: "decimal", precision: 10, scale: 2 });
    expect(fieldOf(withFields("v Decimal @db.Decimal(76, 76)"), "v").type).toEqual({ kind: "decimal", precision: 76, scale: 76 });
    expect(fieldOf(withFields("v Decimal @db.Decimal(1, 0)"), "v").type).toEqual({ kind: "decimal", precision: 1, scale: 0 });
    expect(fieldOf(withFields("v DateTime @db.DateTime64(6)"), "v").type).toEqual({ kind: "datetime", precision: 6 });
    expect(fieldOf(withFields("v DateTime @db.DateTime64(0)"), "v").type).toEqual({ kind: "datetime", precision: 0 });
    expect(fieldOf(withFields("v DateTime @db.DateTime64(9)"), "v").type).toEqual({ kind: "datetime", precision: 9 });
    expect(fieldOf(withFields("v DateTime @db.Date"), "v").type).toEqual({ kind: "date" });
  });

  test("string refinements", () => {
    expect(fieldOf(withFields("v String @db.LowCardinality"), "v").type).toEqual({ kind: "string", lowCardinality: true });
    const list = fieldOf(withFields("v String[] @db.LowCardinality"), "v");
    expect([list.type, list.list]).toEqual([{ kind: "string", lowCardinality: true }, true]);
    const optional = fieldOf(withFields("v String? @db.LowCardinality"), "v");
    expect([optional.type, optional.optional]).toEqual([{ kind: "string", lowCardinality: true }, true]);
    expect(fieldOf(withFields("v String @db.FixedString(16)"), "v").type).toEqual({ kind: "string", lowCardinality: false, fixedLength: 16 });
    expect(fieldOf(withFields("v String @db.LowCardinality @db.FixedString(2)"), "v").type).toEqual({
      kind: "string",
      lowCardinality: true,
      fixedLength: 2,
    });
    expect(fieldOf(withFields("v String @db.Uuid"), "v").type).toEqual({ kind: "uuid" });
    expect(fieldOf(withFields("v String @db.UUID"), "v").type).toEqual({ kind: "uuid" });
    expect(fieldOf(withFields("v Json @db.JSON"), "v").type).toEqual({ kind: "json", native: true });
  });

  test("wrong base type names the attribute and what fits", () => {
    expect(errorsOf(withFields("v String @db.UInt8"))).toEqual([
      `${FILE}:2:12: field \`v\` of model \`T\`: \`@db.UInt8\` applies to Int or BigInt fields, not String. @db attributes are ClickHouse column types; for String: @db.LowCardinality, @db.FixedString(length), @db.Uuid, @db.UUID.`,
    ]);
    expect(errorsOf(withFields("v Boolean @db.Float32"))).toEqual([
      `${FILE}:2:13: field \`v\` of model \`T\`: \`@db.Float32\` applies to Float fields, not Boolean. Boolean fields take no @db attribute.`,
    ]);
    expect(errorsOf(withFields("v DateTime @db.LowCardinality"))[0]).toContain("`@db.LowCardinality` applies to String fields, not DateTime");
  });

  test("bad arguments", () => {
    const one = (line: string) => errorsOf(withFields(line))[0];
    expect(one("v Decimal @db.Decimal(77, 2)")).toBe(`${FILE}:2:13: field \`v\` of model \`T\`: \`@db.Decimal(precision, scale)\`: precision must be from 1 to 76`);
    expect(one("v Decimal @db.Decimal(0, 0)")).toContain("precision must be from 1 to 76");
    expect(one("v Decimal @db.Decimal(10, 11)")).toContain("scale must be from 0 to the precision");
    expect(one("v Decimal @db.Decimal(10)")).toBe(`${FILE}:2:13: field \`v\` of model \`T\`: \`@db.Decimal\` takes two whole numbers: write @db.Decimal(precision, scale)`);
    expect(one("v Decimal @db.Decimal(-1, 2)")).toContain("takes two whole numbers");
    expect(one("v DateTime @db.DateTime64(10)")).toContain("precision (fractional second digits) must be from 0 to 9");
    expect(one("v DateTime @db.DateTime64")).toContain("`@db.DateTime64` takes one whole number: write @db.DateTime64(precision)");
    expect(one("v String @db.FixedString(0)")).toContain("the length (in bytes) must be from 1 to 256");
    // Found by test/types.test.ts: the engine refuses FixedString(257) and longer ("suspicious").
    expect(one("v String @db.FixedString(257)")).toContain("the length (in bytes) must be from 1 to 256 (for longer text use String)");
    expect(one("v String @db.Uuid(4)")).toContain("`@db.Uuid` takes no arguments: write @db.Uuid");
  });

  test("unknown @db attributes and conflicting pairs", () => {
    expect(errorsOf(withFields("v String @db.VarChar(200)"))).toEqual([
      `${FILE}:2:12: field \`v\` of model \`T\`: unknown attribute \`@db.VarChar\`. @db attributes are ClickHouse column types; for String: @db.LowCardinality, @db.FixedString(length), @db.Uuid, @db.UUID.`,
    ]);
    expect(errorsOf(withFields("v Int @db.UInt8 @db.Int16"))).toEqual([
      `${FILE}:2:19: field \`v\` of model \`T\` has both \`@db.UInt8\` and \`@db.Int16\`. Keep one @db attribute (only LowCardinality combines, with FixedString).`,
    ]);
    expect(errorsOf(withFields("v String @db.Uuid @db.Uuid"))[0]).toContain("has `@db.Uuid` twice");
  });
});

describe("ids", () => {
  test("@id on a field", () => {
    const model = modelOf(withFields("id String @id", "ts DateTime"));
    expect(model.id).toEqual(["id"]);
    expect(model.fields.map((field) => field.id)).toEqual([true, false]);
    expect(model.orderBy).toEqual(["id"]);
    expect(model.key).toBe("id");
  });

  test("@@id on the model, in either spelling", () => {
    for (const attr of ["@@id([user, ts])", "@@id(fields: [user, ts])"]) {
      const model = modelOf(withFields("ts DateTime", "user String", "n Int", attr));
      expect(model.id).toEqual(["user", "ts"]);
      expect(model.fields.map((field) => field.id)).toEqual([true, true, false]);
      expect(model.orderBy).toEqual(["user", "ts"]);
      expect(model.key).toBeUndefined();
    }
  });

  test("no id: empty id, ORDER BY tuple(), no key", () => {
    const model = modelOf(withFields("a String"));
    expect([model.id, model.orderBy, model.key, model.engine]).toEqual([[], [], undefined, { kind: "MergeTree" }]);
  });

  test("id fields must be required scalars", () => {
    expect(errorsOf(withFields("id String? @id"))).toEqual([`${FILE}:2:14: field \`id\` of model \`T\` is an id and so cannot be optional`]);
    expect(errorsOf(withFields("id String[] @id"))).toEqual([`${FILE}:2:15: field \`id\` of model \`T\` is an id and so cannot be a list`]);
    expect(errorsOf(withFields("a String?", "b Int", "@@id([a, b])"))).toEqual([`${FILE}:4:3: model \`T\`: id field \`a\` cannot be optional`]);
  });

  test("one way of declaring the id", () => {
    expect(errorsOf(withFields("a String @id", "b String @id"))).toEqual([
      `${FILE}:3:3: model \`T\` has \`@id\` on more than one field. Use @@id([a, b]) for a compound id.`,
    ]);
    expect(errorsOf(withFields("a String @id", "b String", "@@id([a, b])"))).toEqual([
      `${FILE}:4:3: model \`T\` has both \`@id\` and \`@@id\`. Declare the id once: @id on one field, or @@id([...]) for several.`,
    ]);
    expect(errorsOf(withFields("a String", "@@id([a, nope])"))).toEqual([`${FILE}:3:3: model \`T\`: \`@@id\` names \`nope\`, which is not a field of the model`]);
    expect(errorsOf(withFields("a String", "@@id([a, a])"))[0]).toContain("`@@id` names `a` twice");
    expect(errorsOf(withFields("a String", "@@id(a: 1)"))[0]).toContain("`@@id` takes a list of field names");
    expect(errorsOf(withFields("a String @id(map: \"pk\")"))[0]).toContain("`@id` takes no arguments here");
  });
});

describe("defaults", () => {
  const defaultOf = (line: string) => fieldOf(withFields(line), "v").default;

  test("literals of every kind", () => {
    expect(defaultOf('v String @default("a \\"quoted\\" \\\\ \\n")')).toEqual({ kind: "literal", value: 'a "quoted" \\ \n' });
    expect(defaultOf('v String @default("tab\there, \\v \\u00e9 \\/")')).toEqual({ kind: "literal", value: "tab\there, \v é /" });
    expect(defaultOf("v Int @default(-5)")).toEqual({ kind: "literal", value: -5 });
    expect(defaultOf("v Int @default(0) @db.UInt8")).toEqual({ kind: "literal", value: 0 });
    expect(defaultOf("v Float @default(1.5e3)")).toEqual({ kind: "literal", value: 1500 });
    expect(defaultOf("v BigInt @default(9223372036854775807)")).toEqual({ kind: "literal", value: "9223372036854775807" });
    expect(defaultOf("v Decimal @default(0.10) @db.Decimal(10, 2)")).toEqual({ kind: "literal", value: "0.10" });
    expect(defaultOf("v Boolean @default(true)")).toEqual({ kind: "literal", value: true });
    expect(defaultOf("v Boolean @default(false)")).toEqual({ kind: "literal", value: false });
    expect(defaultOf('v DateTime @default("2024-01-01T00:00:00Z")')).toEqual({ kind: "literal", value: "2024-01-01T00:00:00Z" });
    expect(defaultOf('v Json @default("{\\"a\\": 1}")')).toEqual({ kind: "literal", value: '{"a": 1}' });
    expect(defaultOf('v Json @default("{}") @db.JSON')).toEqual({ kind: "literal", value: "{}" });
    expect(defaultOf('v Bytes @default("aGk=")')).toEqual({ kind: "literal", value: "aGk=" });
  });

  test("lists", () => {
    expect(defaultOf("v String[] @default([])")).toEqual({ kind: "literal", value: [] });
    expect(defaultOf('v String[] @default(["a", "b"])')).toEqual({ kind: "literal", value: ["a", "b"] });
    expect(defaultOf("v Int[] @default([1, -2])")).toEqual({ kind: "literal", value: [1, -2] });
    expect(errorsOf(withFields('v String @default(["a"])'))[0]).toContain("a list default on a field that is not a list");
    expect(errorsOf(withFields('v String[] @default("a")'))[0]).toContain("a list field needs a list default, e.g. @default([])");
    expect(errorsOf(withFields('v Int[] @default([1, "x"])'))[0]).toContain("element 1: expected an integer");
  });

  test("enum values", () => {
    const text = `${withFields("v Color @default(GREEN)")}enum Color {\n  RED\n  GREEN\n}\n`;
    expect(fieldOf(text, "v").default).toEqual({ kind: "literal", value: "GREEN" });
    const bad = parse(`${withFields("v Color @default(BLUE)")}enum Color {\n  RED\n}\n`);
    expect(bad.errors.map((error) => error.message)).toEqual([
      `${FILE}:2:11: field \`v\` of model \`T\`: the default is not valid for the field: expected "RED", got "BLUE"`,
    ]);
  });

  test("now() and uuid()", () => {
    expect(defaultOf("v DateTime @default(now())")).toEqual({ kind: "now" });
    expect(defaultOf("v DateTime @default(now()) @db.Date")).toEqual({ kind: "now" });
    expect(defaultOf("v String @default(uuid())")).toEqual({ kind: "uuid" });
    expect(defaultOf("v String @default(uuid()) @db.Uuid")).toEqual({ kind: "uuid" });
    expect(errorsOf(withFields("v String @default(now())"))).toEqual([
      `${FILE}:2:12: field \`v\` of model \`T\`: \`now()\` is a default for DateTime fields only`,
    ]);
    expect(errorsOf(withFields("v DateTime[] @default(now())"))[0]).toContain("`now()` is a default for DateTime fields only");
    expect(errorsOf(withFields("v Int @default(uuid())"))[0]).toContain("`uuid()` is a default for String fields");
    expect(errorsOf(withFields("v String @default(uuid()) @db.FixedString(16)"))[0]).toContain("`uuid()` is a default for String fields");
    expect(errorsOf(withFields("v String @default(uuid(7))"))[0]).toContain("unknown default function `uuid(...)`");
  });

  test("sequences and generated values are rejected with a hint", () => {
    expect(errorsOf(withFields("id Int @id @default(autoincrement())"))).toEqual([
      `${FILE}:2:14: field \`id\` of model \`T\`: \`@default(autoincrement())\` is not supported; OLAP tables have no sequences or database-generated values. Use @default(uuid()) or send the id with each record.`,
    ]);
    expect(errorsOf(withFields("id String @default(cuid())"))[0]).toContain("`@default(cuid())` is not supported");
    expect(errorsOf(withFields('id String @default(dbgenerated("gen_random_uuid()"))'))[0]).toContain("`@default(dbgenerated(...))` is not supported");
    expect(errorsOf(withFields("id String @default(foo())"))).toEqual([
      `${FILE}:2:13: field \`id\` of model \`T\`: unknown default function \`foo()\`. Defaults are literals, now() or uuid().`,
    ]);
  });

  test("literals must be valid for the field", () => {
    expect(errorsOf(withFields("v Int @default(300) @db.UInt8"))).toEqual([
      `${FILE}:2:9: field \`v\` of model \`T\`: the default is not valid for the field: expected an integer from 0 to 255, got 300`,
    ]);
    expect(errorsOf(withFields("v String @default(5)"))[0]).toContain("expected a string, got 5");
    expect(errorsOf(withFields("v String @default(abc)"))[0]).toContain('`abc` is not a literal; write strings in quotes, e.g. @default("a")');
    expect(errorsOf(withFields("v Decimal @default(1.234) @db.Decimal(10, 2)"))[0]).toContain("at most 2 fractional digits");
    expect(errorsOf(withFields('v DateTime @default("2023-02-29")'))[0]).toContain("not a calendar date");
    expect(errorsOf(withFields('v Json @default("{")'))[0]).toContain('expected JSON text, got "{"');
    expect(errorsOf(withFields("v Json @default(1)"))[0]).toContain("a Json default is JSON text in a string");
    expect(errorsOf(withFields('v Json @default("[1]") @db.JSON'))[0]).toContain("expected a JSON object, got an array");
    expect(errorsOf(withFields("v String? @default(null)"))).toEqual([
      `${FILE}:2:13: field \`v\` of model \`T\`: \`@default(null)\` is not needed. A missing optional field is stored as null; remove the default.`,
    ]);
    expect(errorsOf(withFields("v String @default()"))[0]).toContain("`@default` takes one value");
    expect(errorsOf(withFields('v String @default(value: "a")'))[0]).toContain("`@default` takes one value");
  });
});

describe("names: @map and @@map", () => {
  test("@map sets the column, @@map the table", () => {
    const model = modelOf(withFields('userId String @map("user_id")', "b String @map(name: \"bee\")", '@@map("page_views")'));
    expect(model.table).toBe("page_views");
    expect(model.fields.map((field) => [field.name, field.column])).toEqual([
      ["userId", "user_id"],
      ["b", "bee"],
    ]);
    expect(modelOf(withFields("a String")).table).toBe("T");
  });

  test("id, order by, engine version and key refer to fields, not columns", () => {
    const model = modelOf(
      withFields('id String @id @map("event_id")', 'v Int @map("ver")', "@@engine(ReplacingMergeTree, version: v)"),
    );
    expect([model.id, model.orderBy, model.key]).toEqual([["id"], ["id"], "id"]);
    expect(model.engine).toEqual({ kind: "ReplacingMergeTree", version: "v" });
  });

  test("bad and clashing names", () => {
    expect(errorsOf(withFields('a String @map("a-b")'))[0]).toContain("`@map` takes the column name as a string");
    expect(errorsOf(withFields("a String @map(1)"))[0]).toContain("`@map` takes the column name as a string");
    expect(errorsOf(withFields("a String", '@@map("")'))[0]).toContain("`@@map` takes the table name as a string");
    expect(errorsOf(withFields('a String @map("b")', "b String"))).toEqual([
      `${FILE}:3:3: fields \`a\` and \`b\` of model \`T\` both map to column \`b\`. Give one of them another @map name.`,
    ]);
  });

  test("igloo_ tables are reserved", () => {
    expect(errorsOf(withFields("a String", '@@map("igloo_events")'))).toEqual([
      `${FILE}:3:3: model \`T\`: table name \`igloo_events\` starts with \`igloo_\`, which is reserved for Igloo's own tables. Rename the model or choose another name with @@map("...").`,
    ]);
    expect(errorsOf("model Igloo_x {\n  a String\n}\n")[0]).toStartWith(`${FILE}:1:1: model \`Igloo_x\`: table name`);
  });

  test("two models cannot share a table", () => {
    const result = parse('model A {\n  a String\n  @@map("t")\n}\nmodel B {\n  a String\n  @@map("t")\n}\n');
    expect(result.models.models.map((model) => model.name)).toEqual(["A"]);
    expect(result.errors.map((error) => error.message)).toEqual([
      `${FILE}:5:1: models \`A\` and \`B\` both use table \`t\`. Give one of them another name with @@map("...").`,
    ]);
  });
});

describe("table attributes", () => {
  test("@@orderBy", () => {
    expect(modelOf(withFields("id String @id", "ts DateTime", "@@orderBy([ts, id])")).orderBy).toEqual(["ts", "id"]);
    expect(modelOf(withFields("ts DateTime", "@@orderBy(ts)")).orderBy).toEqual(["ts"]);
    expect(modelOf(withFields("ts DateTime", "@@orderBy([])")).orderBy).toEqual([]);
    expect(errorsOf(withFields("ts DateTime", "@@orderBy([ts, nope])"))).toEqual([
      `${FILE}:3:3: model \`T\`: \`@@orderBy\` names \`nope\`, which is not a field of the model`,
    ]);
    expect(errorsOf(withFields("ts DateTime?", "@@orderBy([ts])"))).toEqual([
      `${FILE}:3:3: model \`T\`: \`@@orderBy\` field \`ts\` is optional; ORDER BY columns cannot be null. Make it required, with a @default if needed.`,
    ]);
    expect(errorsOf(withFields("ts DateTime", '@@orderBy(["ts"])'))[0]).toContain("`@@orderBy` takes a list of field names");
    expect(errorsOf(withFields("ts DateTime", "@@orderBy([ts(sort: Desc)])"))[0]).toContain("`@@orderBy` takes a list of field names");
  });

  test("@@partitionBy keeps the expression verbatim", () => {
    expect(modelOf(withFields("ts DateTime", '@@partitionBy("toYYYYMM(ts)")')).partitionBy).toBe("toYYYYMM(ts)");
    expect(modelOf(withFields("ts DateTime", '@@partitionBy("(toDate(ts), \\"x\\")")')).partitionBy).toBe('(toDate(ts), "x")');
    expect(modelOf(withFields("ts DateTime")).partitionBy).toBeUndefined();
    expect(errorsOf(withFields("ts DateTime", "@@partitionBy(ts)"))[0]).toContain("`@@partitionBy` takes a ClickHouse expression in a string");
    expect(errorsOf(withFields("ts DateTime", '@@partitionBy(" ")'))[0]).toContain("`@@partitionBy` takes a ClickHouse expression");
  });

  test("@@engine", () => {
    expect(modelOf(withFields("id String @id", "@@engine(MergeTree)")).engine).toEqual({ kind: "MergeTree" });
    expect(modelOf(withFields("id String @id", "@@engine(ReplacingMergeTree)")).engine).toEqual({ kind: "ReplacingMergeTree" });
    for (const version of ["Int", "BigInt @db.UInt64", "DateTime", "DateTime @db.Date", "Int @db.UInt8"]) {
      const model = modelOf(withFields("id String @id", `v ${version}`, "@@engine(ReplacingMergeTree, version: v)"));
      expect(model.engine).toEqual({ kind: "ReplacingMergeTree", version: "v" });
    }
  });

  test("@@engine errors", () => {
    const usage = "write @@engine(MergeTree), @@engine(ReplacingMergeTree) or @@engine(ReplacingMergeTree, version: field)";
    expect(errorsOf(withFields("id String @id", "@@engine(Log)"))).toEqual([`${FILE}:3:3: model \`T\`: unknown table engine; ${usage}`]);
    expect(errorsOf(withFields("id String @id", "v Int", "@@engine(MergeTree, version: v)"))[0]).toContain(`unexpected engine argument; ${usage}`);
    expect(errorsOf(withFields("id String @id", "@@engine(ReplacingMergeTree, version: nope)"))[0]).toContain(
      "the engine `version:` must name a field of the model",
    );
    for (const bad of ["String", "Int?", "Float", "Int[]"]) {
      expect(errorsOf(withFields("id String @id", `v ${bad}`, "@@engine(ReplacingMergeTree, version: v)"))).toEqual([
        `${FILE}:4:3: model \`T\`: version field \`v\` must be a required integer, DateTime or Date field; ReplacingMergeTree keeps the row with the highest version`,
      ]);
    }
    expect(errorsOf(withFields("a String", "@@engine(ReplacingMergeTree)"))).toEqual([
      `${FILE}:3:3: model \`T\`: ReplacingMergeTree needs a non-empty ORDER BY, it replaces rows with equal sort keys. Add @id to the identifying field or @@orderBy([...]).`,
    ]);
    expect(modelOf(withFields("a String", "@@orderBy([a])", "@@engine(ReplacingMergeTree)")).engine).toEqual({ kind: "ReplacingMergeTree" });
  });

  test("@@key", () => {
    expect(modelOf(withFields("id String @id", "user String", "@@key(user)")).key).toBe("user");
    expect(modelOf(withFields("a String", "b String", "@@id([a, b])", "@@key(b)")).key).toBe("b");
    expect(errorsOf(withFields("a String", "@@key(nope)"))).toEqual([`${FILE}:3:3: model \`T\`: \`@@key\` takes the name of one field, e.g. @@key(userId)`]);
    expect(errorsOf(withFields("a String?", "@@key(a)"))[0]).toContain("`@@key` field `a` cannot be optional; every record needs one key");
    expect(errorsOf(withFields("a String[]", "@@key(a)"))[0]).toContain("`@@key` field `a` cannot be a list");
    expect(errorsOf(withFields("a String", "@@key([a])"))[0]).toContain("`@@key` takes the name of one field");
  });

  test("each model attribute once", () => {
    expect(errorsOf(withFields("a String", "@@orderBy([a])", "@@orderBy([a])"))).toEqual([`${FILE}:4:3: model \`T\` has \`@@orderBy\` twice`]);
  });
});

describe("rejected Prisma features", () => {
  test("relations", () => {
    const text = `${withFields("id String @id", "tags Tag[]", "author User", "authorId String")}model Tag {\n  id String @id\n}\nmodel User {\n  id String @id\n}\n`;
    const result = parse(text);
    expect(result.errors.map((error) => error.message)).toEqual([
      `${FILE}:3:3: field \`tags\` of model \`T\` has type \`Tag[]\`, a relation; OLAP tables hold scalars and lists of scalars. Use String[] or a Json field.`,
      `${FILE}:4:3: field \`author\` of model \`T\` has type \`User\`, a relation; OLAP tables hold scalars and lists of scalars. Store the related id instead (e.g. userId String).`,
    ]);
    expect(result.models.models.map((model) => model.name)).toEqual(["Tag", "User"]);
    expect(errorsOf(withFields("a String @relation(fields: [a], references: [id])"))[0]).toBe(
      `${FILE}:2:12: field \`a\` of model \`T\`: relations are not supported; OLAP tables hold scalars and lists of scalars. Store the related id as a scalar field.`,
    );
  });

  test("Unsupported, unknown and composite types", () => {
    expect(errorsOf(withFields('p Unsupported("point")'))).toEqual([
      `${FILE}:2:5: field \`p\` of model \`T\` has type \`Unsupported(...)\`, which cannot be stored. Use a Prisma scalar type (String, Int, Float, DateTime, Json...) with a @db attribute if needed.`,
    ]);
    expect(errorsOf(withFields("a string"))).toEqual([`${FILE}:2:3: field \`a\` of model \`T\` has unknown type \`string\`. Did you mean String?`]);
    expect(errorsOf(withFields("a Strin"))[0]).toContain("Did you mean String?");
    expect(errorsOf(withFields("a Whatever"))[0]).toBe(
      `${FILE}:2:3: field \`a\` of model \`T\` has unknown type \`Whatever\`. Use one of String, Boolean, Int, BigInt, Float, Decimal, DateTime, Json, Bytes or an enum.`,
    );
    expect(errorsOf(`type Address {\n  city String\n}\n${withFields("a Address")}`)).toEqual([
      `${FILE}:1:1: composite type \`Address\` is not supported; OLAP tables hold scalars and lists of scalars. Use a Json field for nested data.`,
      `${FILE}:5:3: field \`a\` of model \`T\` has type \`Address\`, a composite type, which is not supported. Use a Json field.`,
    ]);
  });

  test("uniqueness, indexes, @updatedAt, @ignore", () => {
    expect(errorsOf(withFields("a String @unique"))).toEqual([
      `${FILE}:2:12: field \`a\` of model \`T\`: OLAP tables don't enforce uniqueness, so \`@unique\` can't be honoured. Remove it; to keep one row per id, use @id with @@engine(ReplacingMergeTree).`,
    ]);
    expect(errorsOf(withFields("a String", "@@unique([a])"))[0]).toBe(
      `${FILE}:3:3: model \`T\`: \`@@unique\` is not supported; OLAP tables don't enforce uniqueness or keep secondary indexes. Remove it; to keep one row per id, use @id with @@engine(ReplacingMergeTree). @@orderBy chooses the sort key queries use.`,
    );
    expect(errorsOf(withFields("a String", "@@index([a])"))[0]).toContain("`@@index` is not supported");
    expect(errorsOf(withFields("a DateTime @updatedAt"))).toEqual([
      `${FILE}:2:14: field \`a\` of model \`T\`: \`@updatedAt\` is not supported; records are written once, not updated. Use @default(now()) to stamp the ingest time.`,
    ]);
    expect(errorsOf(withFields("a String @ignore"))[0]).toContain("`@ignore` is not supported. Remove the field from the model instead.");
    expect(errorsOf(withFields("a String", "@@ignore"))[0]).toContain("`@@ignore` is not supported. Remove the model instead.");
  });

  test("unknown attributes", () => {
    expect(errorsOf(withFields("a String @foo"))).toEqual([
      `${FILE}:2:12: field \`a\` of model \`T\`: unknown attribute \`@foo\`. Field attributes are @id, @default, @map, @db.*, @codec and @ttl.`,
    ]);
    expect(errorsOf(withFields("a String @x.y"))[0]).toContain("unknown attribute `@x.y`");
    expect(errorsOf(withFields("a String", "@@foo"))).toEqual([
      `${FILE}:3:3: model \`T\`: unknown attribute \`@@foo\`. Model attributes are @@id, @@map, @@orderBy, @@partitionBy, @@engine, @@key, @@streamOnly and @@internal, and the table options @@ttl, @@skipIndex, @@projection and @@settings.`,
    ]);
    expect(errorsOf(withFields('a String @default("x") @default("y")'))[0]).toContain("has `@default` twice");
  });

  test("views live in views/*.sql", () => {
    expect(errorsOf("view V {\n  a String\n}\n")).toEqual([
      `${FILE}:1:1: view \`V\` cannot be declared in a .prisma file. Views live in views/*.sql as SELECT queries.`,
    ]);
  });
});

describe("names and duplicates", () => {
  test("duplicate fields, models and enums", () => {
    expect(errorsOf(withFields("a String", "a Int"))).toEqual([`${FILE}:3:3: model \`T\` declares field \`a\` twice`]);
    const result = parseModels([
      { path: "datamodels/A.prisma", text: "model T {\n  a String\n}\n" },
      { path: "datamodels/B.prisma", text: "\nmodel T {\n  b String\n}\nenum T {\n  X\n}\n" },
    ]);
    expect(result.errors.map((error) => error.message)).toEqual([
      "datamodels/B.prisma:2:1: `T` is already declared at datamodels/A.prisma:1:1. Model and enum names must be unique across all datamodels files.",
      "datamodels/B.prisma:5:1: `T` is already declared at datamodels/A.prisma:1:1. Model and enum names must be unique across all datamodels files.",
    ]);
    expect(result.models.models.map((model) => model.fields[0]?.name)).toEqual(["a"]);
  });

  test("names must be identifiers", () => {
    expect(errorsOf(withFields("a-b String"))).toEqual([`${FILE}:2:3: field \`a-b\` of model \`T\`: a name must be letters, digits and _ only`]);
    expect(errorsOf("model A-B {\n  a String\n}\n")).toEqual([`${FILE}:1:1: model name \`A-B\` must be letters, digits and _ only`]);
    expect(errorsOf("enum E-F {\n  A\n}\n")).toEqual([`${FILE}:1:1: enum name \`E-F\` must be letters, digits and _ only`]);
    expect(errorsOf("model String {\n  a String\n}\n")).toEqual([`${FILE}:1:1: model name \`String\` is a Prisma type name. Choose another name.`]);
  });

  test("names starting with _ can't be read by the Prisma lexer", () => {
    expect(errorsOf(withFields("a String", "_b String"))).toEqual([
      `${FILE}:3:3: names cannot start with \`_\` in Prisma schemas. Start the name with a letter; to keep a column named with \`_\`, add @map("_name").`,
    ]);
    expect(fieldOf(withFields('b String @map("_b")'), "b").column).toBe("_b");
  });
});

describe("enums", () => {
  test("declared in another file than the model", () => {
    const result = parseModels([
      { path: "datamodels/Event.prisma", text: withFields("kind Kind", "kinds Kind[]", "maybe Kind?") },
      { path: "datamodels/enums.prisma", text: "/// What happened\nenum Kind {\n  view\n  click // trailing comment\n}\n" },
    ]);
    expect(result.errors).toEqual([]);
    expect(result.models.enums).toEqual([
      { name: "Kind", values: ["view", "click"], doc: "What happened", source: { file: "datamodels/enums.prisma", line: 2, column: 1 } },
    ]);
    const [kind, kinds, maybe] = result.models.models[0]?.fields ?? [];
    expect(kind?.type).toEqual({ kind: "enum", name: "Kind", values: ["view", "click"] });
    expect([kinds?.list, maybe?.optional]).toEqual([true, true]);
  });

  test("bad enums are reported once; models using them are left out quietly", () => {
    const result = parse(`enum E {\n  A\n  A\n}\n${withFields("e E")}`);
    expect(result.errors.map((error) => error.message)).toEqual([`${FILE}:3:3: enum \`E\` lists \`A\` twice`]);
    expect(result.models).toEqual({ models: [], enums: [] });
  });

  test("values: at least one, at most 32767, identifiers, no attributes", () => {
    expect(errorsOf("enum E {\n}\n")).toEqual([`${FILE}:1:1: enum \`E\` has no values`]);
    const many = `enum E {\n${Array.from({ length: 32768 }, (_, i) => `  V${i}`).join("\n")}\n}\n`;
    expect(errorsOf(many)).toEqual([`${FILE}:1:1: enum \`E\` has 32768 values; at most 32767 fit an Enum16 column. Use a String @db.LowCardinality field.`]);
    const most = `enum E {\n${Array.from({ length: 32767 }, (_, i) => `  V${i}`).join("\n")}\n}\n`;
    expect(parse(most).models.enums[0]?.values).toHaveLength(32767);
    expect(errorsOf("enum E {\n  A-B\n}\n")).toEqual([`${FILE}:2:3: enum \`E\`: value \`A-B\` must be letters, digits and _ only`]);
    expect(errorsOf('enum E {\n  A @map("a")\n}\n')).toEqual([
      `${FILE}:2:3: enum \`E\`: attributes on enum values (\`@map\`) are not supported. The stored value is the name as written.`,
    ]);
    expect(errorsOf('enum E {\n  A\n  @@map("e")\n}\n')).toEqual([`${FILE}:3:3: enum \`E\`: attribute \`@@map\` is not supported on enums`]);
  });
});

describe("documents and whole files", () => {
  test("/// comments directly above a model or field become its doc", () => {
    const model = modelOf(
      [
        "// not a doc",
        "/// Page views.",
        "///   Indented second line.",
        "model T {",
        "  /// The viewer.",
        "  user String",
        "  /// Far from its field",
        "",
        "  ts DateTime",
        "  // plain comment",
        "  n Int /// trailing comments are not docs",
        "}",
      ].join("\n"),
    );
    expect(model.doc).toBe("Page views.\n  Indented second line.");
    expect(model.fields.map((field) => field.doc)).toEqual(["The viewer.", undefined, undefined]);
    expect(modelOf("/// Far\n\nmodel T {\n  a String\n}\n").doc).toBeUndefined();
  });

  test("datasource and generator blocks are ignored", () => {
    const text = `datasource db {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n\ngenerator client {\n  provider = "prisma-client-js"\n}\n\n${withFields("a String")}`;
    expect(modelOf(text).source).toEqual({ file: FILE, line: 10, column: 1 });
  });

  test("all errors are collected; only faulty models are left out", () => {
    const result = parseModels([
      { path: "datamodels/A.prisma", text: `model Good {\n  a String\n}\n${withFields("a Int @db.UInt8 @default(-1)", "b String @unique")}` },
      { path: "datamodels/B.prisma", text: "model Other {\n  x Float\n}\n" },
    ]);
    expect(result.models.models.map((model) => model.name)).toEqual(["Good", "Other"]);
    expect(result.errors.map((error) => `${error.source.file}:${error.source.line}:${error.source.column}`)).toEqual([
      "datamodels/A.prisma:5:19",
      "datamodels/A.prisma:6:12",
    ]);
    expect(result.errors[0]?.code).toBe("E_CONVENTION");
  });

  test("a model without fields", () => {
    expect(errorsOf("model T {\n}\n")).toEqual([`${FILE}:1:1: model \`T\` has no fields. A table needs at least one column.`]);
  });

  test("syntax errors point at the token", () => {
    expect(errorsOf("model T {\n  a String\n")).toEqual([`${FILE}:3:1: unexpected end of file. A closing \`}\` is probably missing.`]);
    expect(errorsOf('model T {\n  a String @default("x)\n}\n')).toEqual([
      `${FILE}:2:21: unterminated string. Close it with " on the same line; write line breaks as \\n.`,
    ]);
    expect(errorsOf("model T {\n  a String # note\n}\n")).toEqual([`${FILE}:2:12: unexpected character \`#\``]);
    expect(errorsOf("model T {\n  a String\n}\n}\n")[0]).toStartWith(`${FILE}:4:1: syntax error: unexpected \`}\``);
    expect(errorsOf("model T { a String }\n")).toEqual([`${FILE}:1:11: syntax error: unexpected \`a\`, expected a line break`]);
  });

  test("a type from a file with syntax errors is not called unknown without saying so", () => {
    const result = parseModels([
      { path: "datamodels/A.prisma", text: withFields("k Kind") },
      { path: "datamodels/B.prisma", text: "enum Kind {\n  A\n" },
    ]);
    expect(result.errors.map((error) => error.message)).toEqual([
      "datamodels/A.prisma:2:3: field `k` of model `T` has unknown type `Kind` (a file with syntax errors may declare it). Did you mean Int?",
      "datamodels/B.prisma:3:1: unexpected end of file. A closing `}` is probably missing.",
    ]);
  });

  test("no files, empty files", () => {
    expect(parseModels([])).toEqual({ models: { models: [], enums: [] }, errors: [] });
    expect(parse("// nothing here\n")).toEqual({ models: { models: [], enums: [] }, errors: [] });
  });
});

// Found by the generative round trip (test/generative.roundtrip.test.ts).
describe("found by the generative round trip", () => {
  test("a Json @db.JSON field cannot be in the sort key: the engine refused the table and igloo dev stopped", () => {
    const refused = (text: string, by: string, line: number) =>
      expect(errorsOf(text)).toEqual([
        `${FILE}:${line}:3: model \`T\`: field \`j\` (Json @db.JSON) cannot be in the table's sort key (${by}): the engine orders by no JSON column. Sort by other fields (@@orderBy([...])), or store the value as Json text (without @db.JSON).`,
      ]);
    refused(withFields("j Json @db.JSON @id"), "`@id`", 2);
    refused(withFields("j Json @db.JSON", "k String", "@@id([k, j])"), "`@@id`", 4);
    refused(withFields("j Json @db.JSON", "k String @id", "@@orderBy([j])"), "`@@orderBy`", 4);
    // Json text is a String column, which sorts.
    expect(modelOf(withFields("j Json @id")).orderBy).toEqual(["j"]);
    expect(modelOf(withFields("j Json @db.JSON", "k String @id")).orderBy).toEqual(["k"]);
  });

  test("`__proto__` cannot be a column: JSON rows keyed by it lost the value (stored as NULL)", () => {
    expect(errorsOf(withFields('p String @map("__proto__")'))).toEqual([
      `${FILE}:2:12: field \`p\` of model \`T\`: \`__proto__\` cannot be a column name. Choose another name, e.g. @map("proto").`,
    ]);
    expect(fieldOf(withFields('p String @map("constructor")'), "p").column).toBe("constructor");
  });

  test("a Json list takes a list of JSON texts as its default", () => {
    expect(fieldOf(withFields("j Json[] @default([])"), "j").default).toEqual({ kind: "literal", value: [] });
    expect(fieldOf(withFields('j Json[] @default(["{}", "[1]"])'), "j").default).toEqual({ kind: "literal", value: ["{}", "[1]"] });
    expect(errorsOf(withFields('j Json[] @default(["{"])'))[0]).toContain('the default is not valid for the field: expected JSON text, got "{"');
  });

  test("generated input types: an omitted field named like an Object.prototype member still compiles", () => {
    // TypeScript checks an object literal's inherited toString() against `toString?: string`,
    // so a record without the field did not compile against the generated type.
    const types = modelTypes(modelOf(withFields("id String @id", "toString String?", "constructor Int[]", "valueOf Json @default(\"{}\")", "name String?")));
    expect(types).toContain('  toString?: string | null | Object["toString"];');
    expect(types).toContain('  constructor?: number[] | Object["constructor"];');
    expect(types).toContain('  valueOf?: unknown | Object["valueOf"];');
    expect(types).toContain("  name?: string | null;");
    expect(types).toContain("  id: string;");
  });
});
