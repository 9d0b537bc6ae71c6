/**
 * The type system (conventions/datamodels/types.ts): one parser of the engine's type
 * strings and one spelling, checked on generated types (seeded: IGLOO_SEED reproduces a
 * failure) and against the engine itself, which is the authority on how it spells them.
 */
import { describe, expect, test } from "bun:test";
import type { ColumnType, IntWidth, ScalarType } from "../conventions/datamodels/types.ts";
import { fieldColumn } from "../conventions/datamodels/fieldTypes.ts";
import { displayValue, jsonSchema, parseParamType, parseType, tsType, typeName } from "../conventions/datamodels/typeFaces.ts";
import { quoteIdent } from "../runtime/store/clickhouseSql.ts";
import { dummyParams } from "../runtime/views/params.ts";
import { sharedChdbStore } from "./helpers/chdb.ts";
import { random } from "./helpers/random.ts";

const SEED = Number(process.env.IGLOO_SEED ?? 20261130);
type Next = () => number;

const pick = <T>(next: Next, items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
const between = (next: Next, min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
const WIDTHS: readonly IntWidth[] = [8, 16, 32, 64, 128, 256];
const ENUM_TEXT = ["a", "b c", "it's", "back\\slash", "é", "=", "x,y", "(", ""];

/** A scalar as the engine spells it (the canonical form parseType returns). */
function engineScalar(next: Next, forParam = false): ColumnType {
  const kinds = forParam
    ? ["string", "uuid", "bool", "int", "float", "decimal", "datetime", "date"]
    : ["string", "uuid", "bool", "int", "float", "decimal", "datetime", "date", "json", "enum", "other"];
  switch (pick(next, kinds)) {
    case "string":
      return next() < 0.3 && !forParam ? { kind: "string", lowCardinality: false, fixedLength: between(next, 1, 300) } : { kind: "string", lowCardinality: false };
    case "uuid":
      return { kind: "uuid" };
    case "bool":
      return { kind: "bool" };
    case "int":
      return { kind: "int", bits: pick(next, WIDTHS), signed: next() < 0.5 };
    case "float":
      return { kind: "float", bits: pick(next, [32, 64] as const) };
    case "decimal": {
      const precision = between(next, 1, 76);
      return { kind: "decimal", precision, scale: between(next, 0, precision) };
    }
    case "datetime": {
      const timezone = forParam || next() < 0.4 ? undefined : pick(next, ["UTC", "Europe/Paris", "America/New_York"]);
      const zone = timezone === undefined ? {} : { timezone };
      return next() < 0.3 ? { kind: "datetime", precision: 0, legacy: true, ...zone } : { kind: "datetime", precision: between(next, 0, 9), ...zone };
    }
    case "date":
      return next() < 0.5 ? { kind: "date", legacy: true } : { kind: "date" };
    case "json":
      return { kind: "json", native: true };
    case "enum": {
      const values = [...new Set(Array.from({ length: between(next, 1, 6) }, () => pick(next, ENUM_TEXT) + String(between(next, 0, 9))))];
      const bits = pick(next, [8, 16] as const);
      const limit = bits === 8 ? 127 : 32767;
      const numbers = [...new Set(values.map(() => between(next, -limit, limit)))];
      if (numbers.length < values.length) return { kind: "enum", name: "", values: [values[0]!], numbers: [numbers[0]!], bits };
      return { kind: "enum", name: "", values, numbers, bits };
    }
    default: {
      const text = pick(next, ["IPv4", "IPv6", "Tuple(a String, b UInt8)", "Map(String, UInt64)", "Nothing", "Variant(String, UInt64)"]);
      return { kind: "other", text, structured: /^(Tuple|Map|Variant)/.test(text) };
    }
  }
}

/** A type as the engine spells it: scalars in the wrappers the engine allows. */
function engineType(next: Next, depth = 0, forParam = false): ColumnType {
  const roll = next();
  if (depth < 3 && roll < 0.2) return { kind: "array", of: engineType(next, depth + 1, forParam) };
  const scalar = engineScalar(next, forParam);
  const nullable = roll < 0.45 && scalar.kind !== "json" && scalar.kind !== "other" ? { kind: "nullable" as const, of: scalar } : scalar;
  if (!forParam && roll > 0.85 && scalar.kind === "string") return { kind: "lowCardinality", of: nullable };
  return nullable;
}

describe("parseType", () => {
  test("reads back every generated type as its spelling says", () => {
    const next = random(SEED);
    for (let i = 0; i < 3000; i++) {
      const type = engineType(next);
      const spelled = typeName(type);
      expect({ spelled, parsed: parseType(spelled) }).toEqual({ spelled, parsed: type });
      expect(parseType(`  ${spelled}\n`)).toEqual(type);
    }
  });

  test("takes the engine's other spellings of the same types", () => {
    expect(parseType("Decimal64(4)")).toEqual({ kind: "decimal", precision: 18, scale: 4 });
    expect(parseType("Decimal(10,2)")).toEqual({ kind: "decimal", precision: 10, scale: 2 });
    expect(parseType("Enum8('a'=1,'b'=2)")).toEqual({ kind: "enum", name: "", values: ["a", "b"], numbers: [1, 2], bits: 8 });
    expect(parseType("DateTime64(3,'UTC')")).toEqual({ kind: "datetime", precision: 3, timezone: "UTC" });
    expect(parseType("Object('json')")).toEqual({ kind: "json", native: true });
    expect(parseType("Dynamic")).toEqual({ kind: "other", text: "Dynamic", structured: true });
    expect(parseType("Enum8(oops)")).toEqual({ kind: "other", text: "Enum8(oops)", structured: false });
  });

  test("view parameters take exactly the documented types", () => {
    const next = random(SEED + 1);
    for (let i = 0; i < 1000; i++) {
      const type = engineType(next, 0, true);
      expect(parseParamType(typeName(type))).toEqual(type);
    }
    for (const refused of ["Map(String, String)", "LowCardinality(String)", "FixedString(3)", "JSON", "Enum8('a' = 1)", "DateTime('UTC')", "Nullable(Array(Int8))", "Nullable(Nullable(Int8))", "DateTime64(10)", "Decimal(0, 0)", "Decimal(5, 6)"]) {
      expect({ refused, result: "problem" in parseParamType(refused) }).toEqual({ refused, result: true });
    }
  });
});

describe("the engine spells types as typeName does", () => {
  test("model columns: a table of generated fields DESCRIBEs as fieldColumn says", async () => {
    const store = await sharedChdbStore();
    const next = random(SEED + 2);
    const scalars = (): ScalarType => {
      const type = engineScalar(next);
      if (type.kind === "other" || type.kind === "nullable" || type.kind === "array" || type.kind === "lowCardinality") return { kind: "bytes" };
      if (type.kind === "string") return { ...type, lowCardinality: next() < 0.3, ...(type.fixedLength === undefined ? {} : { fixedLength: Math.min(type.fixedLength, 256) }) };
      if (type.kind === "datetime") return { kind: "datetime", precision: type.precision };
      if (type.kind === "date") return { kind: "date" };
      if (type.kind === "enum") return { kind: "enum", name: "E", values: type.values };
      if (type.kind === "json") return { kind: "json", native: next() < 0.5 };
      return type;
    };
    for (let t = 0; t < 5; t++) {
      const fields = Array.from({ length: 30 }, (_, i) => ({ name: `c${i}`, type: scalars(), list: next() < 0.2, optional: next() < 0.3 })).map((f) =>
        f.type.kind === "json" && f.type.native ? { ...f, list: false, optional: false } : f,
      );
      const table = `types_${process.pid}_${t}`;
      const columns = fields.map((f) => `${quoteIdent(f.name)} ${typeName(fieldColumn(f, store.capabilities))}`);
      await store.exec(`CREATE TABLE ${table} (${columns.join(", ")}) ENGINE = Memory`);
      const { rows } = await store.query<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '${table}' ORDER BY position`);
      expect(rows.map((r) => ({ name: r.name, type: typeName(parseType(r.type)) }))).toEqual(fields.map((f) => ({ name: f.name, type: typeName(fieldColumn(f, store.capabilities)) })));
      await store.exec(`DROP TABLE ${table}`);
    }
  });

  test("view parameters: DESCRIBE of a generated {p:Type} reports the type it was given", async () => {
    const store = await sharedChdbStore();
    const next = random(SEED + 3);
    const types = Array.from({ length: 40 }, () => engineType(next, 0, true));
    const select = types.map((type, i) => `{p${i}:${typeName(type)}} AS p${i}`).join(", ");
    const { rows } = await store.query<{ name: string; type: string }>(`DESCRIBE (SELECT ${select})`, dummyParams(types.map((type, i) => ({ name: `p${i}`, type }))));
    expect(rows.map((r) => typeName(parseType(r.type)))).toEqual(types.map(typeName));
  });
});

describe("faces", () => {
  test("TypeScript and JSON Schema follow the query API's exact encoding", () => {
    const ts = (text: string, direction: "row" | "input" | "param" = "row") => tsType(parseType(text), direction);
    expect(ts("UInt32")).toBe("number");
    expect(ts("UInt64")).toBe("string");
    expect(ts("UInt64", "param")).toBe("number | string | bigint");
    expect(ts("Array(Nullable(Decimal(10, 2)))", "param")).toBe("readonly (number | string | null)[]");
    expect(ts("Enum8('a' = 1, 'it\\'s' = 2)")).toBe('"a" | "it\'s"');
    expect(ts("Map(String, UInt64)")).toBe("unknown");
    expect(ts("IPv4")).toBe("string");
    expect(jsonSchema(parseType("Nullable(UInt8)"), "row")).toEqual({ anyOf: [{ type: "integer", minimum: 0, maximum: 255 }, { type: "null" }] });
    expect(jsonSchema(parseType("Int64"), "row")).toEqual({ type: "string", pattern: "^-?\\d+$" });
  });

  test("a value is displayed as a chart labels it", () => {
    const show = (text: string, value: unknown) => displayValue(parseType(text), value);
    expect(show("UInt32", 1234567)).toBe("1,234,567");
    expect(show("UInt64", "18446744073709551615")).toBe("18,446,744,073,709,551,615");
    expect(show("Decimal(20, 4)", "-1234567.5000")).toBe("-1,234,567.5000");
    expect(show("Float64", 0.123456)).toBe("0.123");
    expect(show("DateTime64(3, 'UTC')", "2026-11-30T08:58:50.120Z")).toBe("2026-11-30 08:58:50.12");
    expect(show("DateTime64(3, 'UTC')", "2026-11-30T08:58:50.000Z")).toBe("2026-11-30 08:58:50");
    expect(show("Nullable(String)", null)).toBe("");
    expect(show("Array(UInt8)", [1, 2000])).toBe("1, 2,000");
    expect(show("Bool", true)).toBe("true");
    expect(show("Map(String, UInt64)", { a: 1 })).toBe('{"a":1}');
  });
});
