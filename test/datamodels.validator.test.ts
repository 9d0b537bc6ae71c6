import { describe, expect, test } from "bun:test";
import type { DefaultValue, FieldIR, ModelIR, ScalarType } from "../conventions/datamodels/ir.ts";
import { checkDefault, compileValidator, describeType, type ValidationResult } from "../conventions/datamodels/validator.ts";

const source = { file: "datamodels/T.prisma", line: 1, column: 1 };

interface FieldSpec {
  optional?: boolean;
  list?: boolean;
  default?: DefaultValue;
}

function field(name: string, type: ScalarType, spec: FieldSpec = {}): FieldIR {
  return {
    name,
    column: name,
    type,
    optional: spec.optional ?? false,
    list: spec.list ?? false,
    id: false,
    source,
    ...(spec.default === undefined ? {} : { default: spec.default }),
  };
}

function model(...fields: FieldIR[]): ModelIR {
  return { name: "T", table: "T", fields, id: [], orderBy: [], engine: { kind: "MergeTree" }, source };
}

/** A validator for a single field `v`; returns the normalized value or the error text. */
function single(type: ScalarType, spec: FieldSpec = {}): (value: unknown) => unknown {
  const validate = compileValidator(model(field("v", type, spec)));
  return (value) => {
    const result = validate(value === MISSING ? {} : { v: value });
    return result.ok ? result.record.v : new Rejected(result.error);
  };
}

const MISSING = Symbol("missing");

class Rejected {
  constructor(readonly error: string) {}
}

function ok(result: ValidationResult): Record<string, unknown> {
  if (!result.ok) throw new Error(`expected ok, got: ${result.error}`);
  return result.record;
}

function err(result: ValidationResult): string {
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.record)}`);
  return result.error;
}

function rejected(value: unknown): string {
  if (!(value instanceof Rejected)) throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  return value.error;
}

const str: ScalarType = { kind: "string", lowCardinality: false };
const int = (bits: 8 | 16 | 32 | 64 | 128 | 256, signed: boolean): ScalarType => ({ kind: "int", bits, signed });
const datetime = (precision: number): ScalarType => ({ kind: "datetime", precision });

describe("record shape", () => {
  const validate = compileValidator(model(field("user", str), field("n", int(32, true), { optional: true })));

  test("rejects non-objects", () => {
    expect(err(validate([]))).toBe("record must be a JSON object, got array");
    expect(err(validate(null))).toBe("record must be a JSON object, got null");
    expect(err(validate("x"))).toBe("record must be a JSON object, got string");
    expect(err(validate(5))).toBe("record must be a JSON object, got number");
    expect(err(validate(undefined))).toBe("record must be a JSON object, got undefined");
    expect(err(validate(new Date()))).toBe("record must be a JSON object, got Date");
    expect(err(validate(new Map()))).toBe("record must be a JSON object, got Map");
  });

  test("accepts null-prototype objects", () => {
    const input = Object.assign(Object.create(null) as object, { user: "a" });
    expect(ok(validate(input))).toEqual({ user: "a", n: null });
  });

  test("output has exactly the model's fields, in model order, as a fresh object", () => {
    const input = { n: 1, user: "a" };
    const record = ok(validate(input));
    expect(Object.keys(record)).toEqual(["user", "n"]);
    expect(record).not.toBe(input);
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
  });

  test("unknown keys are errors, with a suggestion for near misses", () => {
    expect(err(validate({ user: "a", usr: "b" }))).toBe("unknown field `usr` (did you mean `user`?)");
    expect(err(validate({ user: "a", User: "b" }))).toBe("unknown field `User` (did you mean `user`?)");
    expect(err(validate({ user: "a", zzzzzz: 1 }))).toBe("unknown field `zzzzzz`");
    expect(err(validate({ user: "a", ["k".repeat(100)]: 1 }))).toBe(`unknown field \`${"k".repeat(40)}…\``);
  });

  test("__proto__ and constructor keys are unknown fields and touch no prototype", () => {
    const input: unknown = JSON.parse('{"user": "a", "__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}');
    expect(err(validate(input))).toBe("unknown field `__proto__`; unknown field `constructor`");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted")).toBe(false);
  });

  test("several problems are joined with '; '", () => {
    expect(err(validate({ n: "x", extra: 1 }))).toBe(
      "unknown field `extra`; missing required field `user`; field `n`: expected an integer from -2147483648 to 2147483647, got \"x\"",
    );
  });

  test("the number of reported problems is capped", () => {
    const input = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`extra${i}`, i]));
    const messages = err(validate({ user: "a", ...input })).split("; ");
    expect(messages).toHaveLength(11);
    expect(messages.at(-1)).toBe("and more");
  });

  test("fields named like Object.prototype members are read as own properties only", () => {
    const v = compileValidator(model(field("constructor", str, { optional: true }), field("toString", str, { optional: true })));
    expect(ok(v({}))).toEqual({ constructor: null, toString: null });
    expect(ok(v({ constructor: "a", toString: "b" }))).toEqual({ constructor: "a", toString: "b" });
  });

  test("a model without fields accepts only {}", () => {
    const v = compileValidator(model());
    expect(ok(v({}))).toEqual({});
    expect(err(v({ a: 1 }))).toBe("unknown field `a`");
  });

  test("strings from the model enter the generated code safely", () => {
    const values = ['a"b', "c\\d", "`${x}`", "</script>"];
    const v = compileValidator(model(field("v", { kind: "enum", name: "E", values })));
    for (const value of values) expect(ok(v({ v: value })).v).toBe(value);
    expect(err(v({ v: "x" }))).toBe(`field \`v\`: expected one of ${values.map((x) => JSON.stringify(x)).join(", ")}, got "x"`);
  });

  test("a field named __proto__ is an own key of the output", () => {
    const v = compileValidator(model(field("__proto__", str)));
    const record = ok(v(JSON.parse('{"__proto__": "x"}')));
    expect(Object.getOwnPropertyDescriptor(record, "__proto__")?.value).toBe("x");
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
  });
});

describe("missing, undefined and null", () => {
  test("required fields", () => {
    const v = single(str);
    expect(rejected(v(MISSING))).toBe("missing required field `v`");
    expect(rejected(v(undefined))).toBe("missing required field `v`");
    expect(rejected(v(null))).toBe("field `v` is required and cannot be null");
  });

  test("optional fields become null", () => {
    const v = single(str, { optional: true });
    expect(v(MISSING)).toBeNull();
    expect(v(undefined)).toBeNull();
    expect(v(null)).toBeNull();
  });

  test("lists default to an empty list but cannot be null", () => {
    const v = single(str, { list: true });
    expect(v(MISSING)).toEqual([]);
    expect(rejected(v(null))).toBe("field `v` is required and cannot be null");
  });

  test("a default wins over null for missing fields; explicit null stays null when optional", () => {
    const v = single(str, { optional: true, default: { kind: "literal", value: "d" } });
    expect(v(MISSING)).toBe("d");
    expect(v(null)).toBeNull();
  });
});

describe("strings, uuid, bool, bytes, enum", () => {
  test("string", () => {
    const v = single(str);
    expect(v("héllo")).toBe("héllo");
    expect(v("")).toBe("");
    expect(rejected(v(5))).toBe("field `v`: expected a string, got 5");
    expect(rejected(v({}))).toBe("field `v`: expected a string, got an object");
    expect(single({ kind: "string", lowCardinality: true })("x")).toBe("x");
  });

  test("long values are cut short in messages", () => {
    const error = rejected(single(int(8, true))("x".repeat(100)));
    expect(error).toBe(`field \`v\`: expected an integer from -128 to 127, got "${"x".repeat(40)}"…`);
  });

  test("FixedString counts UTF-8 bytes", () => {
    const v = single({ kind: "string", lowCardinality: false, fixedLength: 4 });
    expect(v("abcd")).toBe("abcd");
    expect(v("éé")).toBe("éé"); // 4 bytes
    expect(v("😀")).toBe("😀"); // 4 bytes
    expect(rejected(v("éée"))).toBe("field `v`: expected a string of at most 4 UTF-8 bytes (FixedString(4)), got 5 bytes");
    expect(rejected(v("abcde"))).toContain("got 5 bytes");
    expect(rejected(v("😀a"))).toContain("got 5 bytes");
    expect(rejected(v("€€"))).toContain("got 6 bytes");
  });

  test("uuid is normalized to lowercase", () => {
    const v = single({ kind: "uuid" });
    expect(v("0190A0B2-C3D4-7E5F-8a9b-0C1D2E3F4A5B")).toBe("0190a0b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    expect(v("0190a0b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")).toBe("0190a0b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    for (const bad of ["0190a0b2c3d47e5f8a9b0c1d2e3f4a5b", "{0190a0b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}", "0190a0b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g", "", 5]) {
      expect(rejected(v(bad))).toStartWith("field `v`: expected a UUID (8-4-4-4-12 hex digits), got ");
    }
  });

  test("bool accepts true and false only", () => {
    const v = single({ kind: "bool" });
    expect(v(true)).toBe(true);
    expect(v(false)).toBe(false);
    expect(rejected(v(1))).toBe("field `v`: expected true or false, got 1");
    expect(rejected(v("true"))).toBe('field `v`: expected true or false, got "true"');
  });

  test("bytes are base64 with correct padding", () => {
    const v = single({ kind: "bytes" });
    expect(v("aGVsbG8=")).toBe("aGVsbG8=");
    expect(v("aGk=")).toBe("aGk=");
    expect(v("aGVsbG8hIQ==")).toBe("aGVsbG8hIQ==");
    expect(v("")).toBe("");
    for (const bad of ["aGVsbG8", "a===", "aGVsbG8-", "aG Vs", "=aGk"]) {
      expect(rejected(v(bad))).toStartWith("field `v`: expected base64 text, got ");
    }
  });

  test("enum values", () => {
    const v = single({ kind: "enum", name: "Color", values: ["RED", "GREEN"] });
    expect(v("RED")).toBe("RED");
    expect(rejected(v("red"))).toBe('field `v`: expected one of "RED", "GREEN", got "red"');
    expect(rejected(v(1))).toBe('field `v`: expected one of "RED", "GREEN", got 1');
  });

  test("large enums use a set and list the first 10 values", () => {
    const values = Array.from({ length: 25 }, (_, i) => `V${i}`);
    const v = single({ kind: "enum", name: "Big", values });
    expect(v("V24")).toBe("V24");
    expect(rejected(v("toString"))).toBe(
      `field \`v\`: expected one of ${values.slice(0, 10).map((x) => `"${x}"`).join(", ")} (and 15 more), got "toString"`,
    );
    expect(rejected(v(5))).toContain("got 5");
  });
});

describe("integers up to 32 bits", () => {
  test("Int8 bounds", () => {
    const v = single(int(8, true));
    expect(v(-128)).toBe(-128);
    expect(v(127)).toBe(127);
    expect(rejected(v(128))).toBe("field `v`: expected an integer from -128 to 127, got 128");
    expect(rejected(v(-129))).toBe("field `v`: expected an integer from -128 to 127, got -129");
    expect(rejected(v(1.5))).toBe("field `v`: expected an integer from -128 to 127, got 1.5");
    expect(rejected(v("5"))).toBe('field `v`: expected an integer from -128 to 127, got "5"');
    expect(rejected(v(Number.NaN))).toContain("got NaN");
  });

  test("unsigned and wider bounds", () => {
    expect(single(int(8, false))(255)).toBe(255);
    expect(rejected(single(int(8, false))(-1))).toBe("field `v`: expected an integer from 0 to 255, got -1");
    expect(rejected(single(int(8, false))(256))).toContain("from 0 to 255");
    expect(single(int(16, true))(-32768)).toBe(-32768);
    expect(rejected(single(int(16, true))(32768))).toContain("from -32768 to 32767");
    expect(single(int(16, false))(65535)).toBe(65535);
    expect(single(int(32, true))(-2147483648)).toBe(-2147483648);
    expect(single(int(32, true))(2147483647)).toBe(2147483647);
    expect(rejected(single(int(32, true))(2147483648))).toContain("from -2147483648 to 2147483647");
    expect(single(int(32, false))(4294967295)).toBe(4294967295);
    expect(rejected(single(int(32, false))(4294967296))).toContain("from 0 to 4294967295");
  });
});

describe("integers of 64 bits and more", () => {
  test("Int64 as numbers and strings, output as exact strings", () => {
    const v = single(int(64, true));
    expect(v(42)).toBe("42");
    expect(v(-42)).toBe("-42");
    expect(v(Number.MAX_SAFE_INTEGER)).toBe("9007199254740991");
    expect(v("9223372036854775807")).toBe("9223372036854775807");
    expect(v("-9223372036854775808")).toBe("-9223372036854775808");
    expect(v("9007199254740993")).toBe("9007199254740993"); // beyond 2^53, kept exact
    expect(v(2n ** 62n)).toBe("4611686018427387904");
    expect(v("007")).toBe("7");
    expect(v("-0")).toBe("0");
    expect(v("0")).toBe("0");
  });

  test("Int64 rejections", () => {
    const v = single(int(64, true));
    const expected = "expected an integer from -9223372036854775808 to 9223372036854775807 (a number or a string of digits)";
    expect(rejected(v("9223372036854775808"))).toBe(`field \`v\`: ${expected}, got "9223372036854775808"`);
    expect(rejected(v("-9223372036854775809"))).toContain(expected);
    expect(rejected(v(2 ** 53))).toBe(`field \`v\`: ${expected}, got 9007199254740992, beyond 2^53 where JSON numbers lose digits; send it as a string`);
    expect(rejected(v(1.5))).toContain("got 1.5");
    for (const bad of ["1.0", "1e3", " 1", "+1", "", "0x10", true]) expect(rejected(v(bad))).toContain(expected);
  });

  test("UInt64 up to its max as a string", () => {
    const v = single(int(64, false));
    expect(v("18446744073709551615")).toBe("18446744073709551615");
    expect(rejected(v("18446744073709551616"))).toContain("from 0 to 18446744073709551615");
    expect(rejected(v(-1))).toContain("got -1");
    expect(rejected(v("-1"))).toContain('got "-1"');
    expect(v("-0")).toBe("0");
  });

  test("128 and 256 bits", () => {
    expect(single(int(128, true))((2n ** 127n - 1n).toString())).toBe((2n ** 127n - 1n).toString());
    expect(rejected(single(int(128, true))((2n ** 127n).toString()))).toContain("expected an Int128 integer");
    expect(single(int(256, false))((2n ** 256n - 1n).toString())).toBe((2n ** 256n - 1n).toString());
    expect(rejected(single(int(256, false))((2n ** 256n).toString()))).toContain("expected a UInt256 integer");
    expect(single(int(256, true))(-(2n ** 255n))).toBe((-(2n ** 255n)).toString());
  });
});

describe("floats", () => {
  test("Float64 takes finite numbers", () => {
    const v = single({ kind: "float", bits: 64 });
    expect(v(1.5)).toBe(1.5);
    expect(v(-1e300)).toBe(-1e300);
    expect(rejected(v(Number.POSITIVE_INFINITY))).toBe("field `v`: expected a finite number, got Infinity");
    expect(rejected(v(Number.NaN))).toBe("field `v`: expected a finite number, got NaN");
    expect(rejected(v("1.5"))).toBe('field `v`: expected a finite number, got "1.5"');
  });

  test("Float32 also checks the range", () => {
    const v = single({ kind: "float", bits: 32 });
    expect(v(3.4e38)).toBe(3.4e38);
    expect(rejected(v(3.5e38))).toBe("field `v`: expected a finite number within the Float32 range, got 3.5e+38");
    expect(rejected(v(Number.NaN))).toContain("Float32");
  });
});

describe("decimals", () => {
  const v = single({ kind: "decimal", precision: 10, scale: 4 });

  test("normalized to exactly the scale's digits", () => {
    expect(v(12.34)).toBe("12.3400");
    expect(v("12.34")).toBe("12.3400");
    expect(v(0)).toBe("0.0000");
    expect(v("-0.5")).toBe("-0.5000");
    expect(v("-0")).toBe("0.0000");
    expect(v("-0.0000")).toBe("0.0000");
    expect(v("000123.10")).toBe("123.1000");
    expect(v("1.234500")).toBe("1.2345"); // trailing zeros are not extra digits
    expect(v(999999.9999)).toBe("999999.9999");
    expect(v("-999999.9999")).toBe("-999999.9999");
  });

  test("scale and precision violations are errors, never rounding", () => {
    expect(rejected(v("1.23456"))).toBe(
      'field `v`: expected at most 4 fractional digits (the scale of Decimal(10, 4)), got "1.23456"; round it before sending',
    );
    expect(rejected(v(0.1 + 0.2))).toContain("at most 4 fractional digits");
    expect(rejected(v("1234567.1"))).toBe('field `v`: expected at most 6 integer digits (Decimal(10, 4)), got "1234567.1"');
  });

  test("malformed input", () => {
    const expected = 'expected a Decimal(10, 4) value (a number or a string like "12.34")';
    for (const bad of ["1e3", "1.", ".5", "+1", "1,5", "", "abc", true, null, Number.NaN]) {
      if (bad === null) continue;
      expect(rejected(v(bad))).toContain(expected);
    }
    expect(rejected(single({ kind: "decimal", precision: 38, scale: 9 })(1e21))).toBe(
      'field `v`: expected a Decimal(38, 9) value (a number or a string like "12.34"), got 1e+21, which JavaScript writes with an exponent; send it as a plain decimal string',
    );
  });

  test("scale 0 has no dot; wide precision keeps every digit", () => {
    expect(single({ kind: "decimal", precision: 5, scale: 0 })("12")).toBe("12");
    expect(single({ kind: "decimal", precision: 5, scale: 0 })(12)).toBe("12");
    expect(rejected(single({ kind: "decimal", precision: 5, scale: 0 })("1.5"))).toContain("at most 0 fractional digits");
    const wide = single({ kind: "decimal", precision: 76, scale: 38 });
    const digits = `${"9".repeat(38)}.${"1".repeat(38)}`;
    expect(wide(digits)).toBe(digits);
  });
});

describe("datetimes", () => {
  const ms = single(datetime(3));

  test("ISO-8601 spellings normalize to UTC with the column's precision", () => {
    expect(ms("2024-05-01T12:34:56.123Z")).toBe("2024-05-01T12:34:56.123Z");
    expect(ms("2024-05-01 12:34:56.123")).toBe("2024-05-01T12:34:56.123Z");
    expect(ms("2024-05-01t12:34:56.1z")).toBe("2024-05-01T12:34:56.100Z");
    expect(ms("2024-05-01T12:34:56Z")).toBe("2024-05-01T12:34:56.000Z");
    expect(ms("2024-05-01T12:34")).toBe("2024-05-01T12:34:00.000Z");
    expect(ms("2024-05-01")).toBe("2024-05-01T00:00:00.000Z");
    expect(ms("2024-05-01T12:34:56.123000Z")).toBe("2024-05-01T12:34:56.123Z");
  });

  test("offsets are converted to UTC", () => {
    expect(ms("2024-05-01T12:34:56.123+02:00")).toBe("2024-05-01T10:34:56.123Z");
    expect(ms("2024-05-01T12:34:56.123-05:30")).toBe("2024-05-01T18:04:56.123Z");
    expect(ms("2024-05-01T00:30:00+0100")).toBe("2024-04-30T23:30:00.000Z");
    expect(ms("2024-12-31T23:00:00-02:00")).toBe("2025-01-01T01:00:00.000Z");
    expect(ms("2024-05-01T12:00:00+00:00")).toBe("2024-05-01T12:00:00.000Z");
    expect(ms("2024-03-01T00:30:00+01:00")).toBe("2024-02-29T23:30:00.000Z");
  });

  test("calendar and clock are checked, leap years included", () => {
    expect(ms("2024-02-29T00:00:00Z")).toBe("2024-02-29T00:00:00.000Z");
    expect(ms("2000-02-29")).toBe("2000-02-29T00:00:00.000Z");
    expect(rejected(ms("2023-02-29"))).toBe(
      'field `v`: expected an ISO-8601 timestamp or epoch milliseconds, got "2023-02-29" (not a calendar date)',
    );
    expect(rejected(ms("2100-02-29"))).toContain("not a calendar date");
    expect(rejected(ms("2024-04-31"))).toContain("not a calendar date");
    expect(rejected(ms("2024-13-01"))).toContain("not a calendar date");
    expect(rejected(ms("2024-00-10"))).toContain("not a calendar date");
    expect(rejected(ms("2024-05-01T24:00:00Z"))).toContain("time of day out of range");
    expect(rejected(ms("2024-05-01T12:60:00Z"))).toContain("time of day out of range");
    expect(rejected(ms("2024-05-01T12:00:60Z"))).toContain("time of day out of range");
    expect(rejected(ms("2024-05-01T12:00:00+24:00"))).toContain("offset out of range");
  });

  test("years 1900 to 2299, after the offset", () => {
    expect(ms("1900-01-01T00:00:00Z")).toBe("1900-01-01T00:00:00.000Z");
    expect(ms("2299-12-31T23:59:59.999Z")).toBe("2299-12-31T23:59:59.999Z");
    expect(rejected(ms("1899-12-31T23:59:59Z"))).toContain("outside the years 1900-2299");
    expect(rejected(ms("2300-01-01"))).toContain("outside the years 1900-2299");
    expect(rejected(ms("1900-01-01T00:30:00+01:00"))).toContain("outside the years 1900-2299");
    expect(ms("2300-01-01T00:30:00+01:00")).toBe("2299-12-31T23:30:00.000Z");
  });

  test("malformed text", () => {
    const prefix = "field `v`: expected an ISO-8601 timestamp or epoch milliseconds, got ";
    expect(rejected(ms("yesterday"))).toBe(`${prefix}"yesterday"`);
    for (const bad of ["2024-5-1", "2024/05/01", "2024-05-01T12", "2024-05-01T12:34:5", "2024-05-01T12:34:56.", "2024-05-01T12:34:56Zx", "2024-05-01T12:34:56+2", "2024-05-01T12:34:56+02:0", "2024-05-01X12:34", " 2024-05-01", "2024-05-01T12:34:56.123 Z", ""]) {
      expect(rejected(ms(bad))).toStartWith(`${prefix}"`);
    }
    expect(rejected(ms(true))).toBe(`${prefix}true`);
    expect(rejected(ms({}))).toBe(`${prefix}an object`);
  });

  test("fraction digits beyond the precision are errors unless zeros", () => {
    expect(rejected(ms("2024-05-01T12:34:56.1234Z"))).toBe(
      'field `v`: expected an ISO-8601 timestamp or epoch milliseconds, got "2024-05-01T12:34:56.1234Z" (more than 3 fractional second digits, the precision of DateTime64(3); round it before sending)',
    );
    expect(ms("2024-05-01T12:34:56.1230000Z")).toBe("2024-05-01T12:34:56.123Z");
  });

  test("sub-millisecond digits are kept exactly", () => {
    const us = single(datetime(6));
    const ns = single(datetime(9));
    expect(us("2024-05-01T12:34:56.123456Z")).toBe("2024-05-01T12:34:56.123456Z");
    expect(us("2024-05-01T12:34:56.123456+01:00")).toBe("2024-05-01T11:34:56.123456Z");
    expect(us("2024-05-01T12:34:56.1Z")).toBe("2024-05-01T12:34:56.100000Z");
    expect(ns("2024-05-01T12:34:56.123456789Z")).toBe("2024-05-01T12:34:56.123456789Z");
    expect(ns("2024-05-01T12:34:56Z")).toBe("2024-05-01T12:34:56.000000000Z");
    expect(rejected(ns("2024-05-01T12:34:56.1234567891Z"))).toContain("more than 9 fractional second digits");
  });

  test("precision 0 has no fraction", () => {
    const s = single(datetime(0));
    expect(s("2024-05-01T12:34:56Z")).toBe("2024-05-01T12:34:56Z");
    expect(s("2024-05-01T12:34:56.000Z")).toBe("2024-05-01T12:34:56Z");
    expect(s("2024-05-01T12:34:56+02:00")).toBe("2024-05-01T10:34:56Z");
    expect(s(1714566896000)).toBe("2024-05-01T12:34:56Z");
    expect(rejected(s("2024-05-01T12:34:56.5Z"))).toContain("more than 0 fractional second digits");
    expect(rejected(s(1714566896123))).toContain("more than 0 fractional second digits");
  });

  test("epoch milliseconds", () => {
    expect(ms(1714566896123)).toBe("2024-05-01T12:34:56.123Z");
    expect(ms(-200000000000)).toBe("1963-08-31T04:26:40.000Z");
    expect(single(datetime(6))(1714566896123.456)).toBe("2024-05-01T12:34:56.123456Z");
    expect(single(datetime(6))(-200000000000.5)).toBe("1963-08-31T04:26:39.999500Z");
    expect(single(datetime(9))(1714566896123.25)).toBe("2024-05-01T12:34:56.123250000Z");
    expect(rejected(ms(1714566896123.5))).toContain("more than 3 fractional second digits");
    expect(rejected(ms(Number.NaN))).toBe("field `v`: expected an ISO-8601 timestamp or epoch milliseconds, got NaN");
    expect(rejected(ms(Date.UTC(1899, 11, 31)))).toContain("outside the years 1900-2299");
    expect(rejected(ms(Date.UTC(2300, 0, 1)))).toContain("outside the years 1900-2299");
    expect(ms(Date.UTC(1900, 0, 1))).toBe("1900-01-01T00:00:00.000Z");
  });

  test("numbers close to 1970 are refused: they are most likely epoch seconds", () => {
    expect(rejected(ms(1795000000))).toBe(
      "field `v`: expected an ISO-8601 timestamp or epoch milliseconds, got 1795000000 (a number this close to 1970 reads like epoch seconds; as epoch seconds it would be 2026-11-18T11:06:40.000Z: multiply by 1000; epoch numbers are milliseconds, and dates from 1966-10-31 to 1973-03-03 are sent as ISO-8601 text)",
    );
    for (const n of [0, 1, -1000, 99_999_999_999, -99_999_999_999, 0.5]) expect(rejected(ms(n))).toContain("reads like epoch seconds");
    expect(ms(100_000_000_000)).toBe("1973-03-03T09:46:40.000Z");
  });
});

describe("dates", () => {
  const v = single({ kind: "date" });

  test("YYYY-MM-DD only", () => {
    expect(v("2024-02-29")).toBe("2024-02-29");
    expect(v("1900-01-01")).toBe("1900-01-01");
    expect(rejected(v("2023-02-29"))).toBe('field `v`: expected a date "YYYY-MM-DD", got "2023-02-29" (not a calendar date)');
    expect(rejected(v("1899-12-31"))).toContain("outside the years 1900-2299");
    expect(rejected(v("2024-05-01T00:00:00Z"))).toBe('field `v`: expected a date "YYYY-MM-DD", got "2024-05-01T00:00:00Z"');
    expect(rejected(v(1714566896123))).toBe('field `v`: expected a date "YYYY-MM-DD", got 1714566896123');
    expect(rejected(v("2024-5-01"))).toContain("expected a date");
  });
});

describe("json", () => {
  const text = single({ kind: "json", native: false });
  const native = single({ kind: "json", native: true });

  test("any JSON value becomes JSON text", () => {
    expect(text({ a: [1, "x", null, { b: true }] })).toBe('{"a":[1,"x",null,{"b":true}]}');
    expect(text("a")).toBe('"a"');
    expect(text(5)).toBe("5");
    expect(text([])).toBe("[]");
    expect(text(false)).toBe("false");
  });

  test("nesting is limited to 64 levels", () => {
    const nest = (depth: number): unknown => (depth === 0 ? 1 : [nest(depth - 1)]);
    expect(text(nest(64))).toBe(`${"[".repeat(64)}1${"]".repeat(64)}`);
    expect(rejected(text(nest(65)))).toBe("field `v`: expected JSON nested at most 64 levels deep, got deeper nesting");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(rejected(text(cyclic))).toContain("nested at most 64 levels");
  });

  test("values JSON can't carry are rejected", () => {
    expect(rejected(text({ a: undefined }))).toBe("field `v`: expected a JSON value, got a value containing undefined");
    expect(rejected(text([Number.NaN]))).toBe("field `v`: expected a JSON value, got a value containing NaN");
    expect(rejected(text({ d: new Date(0) }))).toBe("field `v`: expected a JSON value, got a value containing a Date");
    expect(rejected(text({ f: () => 1 }))).toContain("a function");
    expect(rejected(text(5n))).toContain("a bigint");
  });

  test("native JSON takes objects and passes them on", () => {
    const value = { a: { b: [1, 2] } };
    expect(native(value)).toBe(value);
    expect(rejected(native([1]))).toBe("field `v`: expected a JSON object, got an array");
    expect(rejected(native("x"))).toBe('field `v`: expected a JSON object, got "x"');
    expect(rejected(native({ a: undefined }))).toContain("containing undefined");
  });
});

describe("lists", () => {
  test("each element is checked and normalized into a fresh array", () => {
    const v = single(int(64, false), { list: true });
    const input = [1, "18446744073709551615"];
    const out = v(input);
    expect(out).toEqual(["1", "18446744073709551615"]);
    expect(out).not.toBe(input);
    expect(v([])).toEqual([]);
  });

  test("errors name the index", () => {
    const v = single(str, { list: true });
    expect(rejected(v(["a", null, 3]))).toBe("field `v[1]`: lists cannot hold null; field `v[2]`: expected a string, got 3");
    expect(rejected(v(["a", undefined]))).toBe("field `v[1]`: lists cannot hold null");
    expect(rejected(v("a"))).toBe('field `v`: expected a list of String values, got "a"');
    expect(rejected(v({ 0: "a", length: 1 }))).toBe("field `v`: expected a list of String values, got an object");
  });

  test("datetime and enum lists", () => {
    expect(single(datetime(3), { list: true })(["2024-05-01", 1714566896123])).toEqual(["2024-05-01T00:00:00.000Z", "2024-05-01T12:34:56.123Z"]);
    const colors = single({ kind: "enum", name: "C", values: ["A"] }, { list: true });
    expect(rejected(colors(["A", "B"]))).toBe('field `v[1]`: expected "A", got "B"');
  });
});

describe("defaults", () => {
  test("literal defaults are normalized", () => {
    expect(single({ kind: "decimal", precision: 10, scale: 2 }, { default: { kind: "literal", value: "1.5" } })(MISSING)).toBe("1.50");
    expect(single(int(64, true), { default: { kind: "literal", value: "9007199254740993" } })(MISSING)).toBe("9007199254740993");
    expect(single({ kind: "uuid" }, { default: { kind: "literal", value: "0190A0B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B" } })(MISSING)).toBe(
      "0190a0b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    );
    expect(single(datetime(6), { default: { kind: "literal", value: "2024-01-01" } })(MISSING)).toBe("2024-01-01T00:00:00.000000Z");
    expect(single({ kind: "bool" }, { default: { kind: "literal", value: false } })(MISSING)).toBe(false);
  });

  test("list defaults are copied per record", () => {
    const validate = compileValidator(model(field("tags", str, { list: true, default: { kind: "literal", value: ["a", "b"] } })));
    const first = ok(validate({})).tags as string[];
    first.push("mutated");
    expect(ok(validate({})).tags).toEqual(["a", "b"]);
  });

  test("Json defaults are JSON text; native ones are fresh objects", () => {
    expect(single({ kind: "json", native: false }, { default: { kind: "literal", value: '{ "a": [1, 2] }' } })(MISSING)).toBe('{"a":[1,2]}');
    const validate = compileValidator(model(field("meta", { kind: "json", native: true }, { default: { kind: "literal", value: '{"a": 1}' } })));
    const first = ok(validate({})).meta as Record<string, unknown>;
    expect(first).toEqual({ a: 1 });
    first.a = 2;
    expect(ok(validate({})).meta).toEqual({ a: 1 });
  });

  test("now() and uuid()", () => {
    const before = Date.now();
    const ts = single(datetime(6), { default: { kind: "now" } })(MISSING) as string;
    expect(ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}000Z$/);
    expect(Date.parse(ts)).toBeGreaterThanOrEqual(before - 1);
    expect(single(datetime(0), { default: { kind: "now" } })(MISSING)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(single({ kind: "date" }, { default: { kind: "now" } })(MISSING)).toBe(new Date().toISOString().slice(0, 10));
    const id = single({ kind: "uuid" }, { default: { kind: "uuid" } });
    const a = id(MISSING);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id(MISSING)).not.toBe(a);
    expect(id("0190A0B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B")).toBe("0190a0b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  });

  test("checkDefault reports invalid literals", () => {
    const check = (type: ScalarType, value: DefaultValue, list = false) => checkDefault(field("v", type, { list, default: value }));
    expect(check(int(8, false), { kind: "literal", value: 300 })).toEqual({ ok: false, error: "expected an integer from 0 to 255, got 300" });
    expect(check(str, { kind: "literal", value: null })).toEqual({ ok: false, error: "a default cannot be null" });
    expect(check(str, { kind: "literal", value: "a" }, true)).toEqual({ ok: false, error: 'expected a list of String values, got "a"' });
    expect(check(str, { kind: "literal", value: ["a", 1] }, true)).toEqual({ ok: false, error: "element 1: expected a string, got 1" });
    expect(check({ kind: "json", native: false }, { kind: "literal", value: "{" })).toEqual({ ok: false, error: 'expected JSON text, got "{"' });
    expect(check({ kind: "json", native: true }, { kind: "literal", value: "[1]" })).toEqual({ ok: false, error: "expected a JSON object, got an array" });
    expect(check(str, { kind: "now" })).toEqual({ ok: false, error: "the default is not a literal" });
    expect(check(int(64, true), { kind: "literal", value: "12" })).toEqual({ ok: true, value: "12" });
  });

  test("an invalid default in the IR is a programming error at compile time", () => {
    expect(() => compileValidator(model(field("v", int(8, true), { default: { kind: "literal", value: 1000 } })))).toThrow(
      "model field `v` has an invalid default: expected an integer from -128 to 127, got 1000",
    );
  });
});

test("describeType", () => {
  expect(describeType(field("v", str))).toBe("String");
  expect(describeType(field("v", { kind: "string", lowCardinality: true, fixedLength: 2 }, { list: true }))).toBe("LowCardinality(FixedString(2))[]");
  expect(describeType(field("v", int(8, false), { optional: true }))).toBe("UInt8?");
  expect(describeType(field("v", { kind: "decimal", precision: 10, scale: 2 }))).toBe("Decimal(10, 2)");
  expect(describeType(field("v", datetime(6)))).toBe("DateTime64(6)");
  expect(describeType(field("v", { kind: "json", native: true }))).toBe("JSON");
  expect(describeType(field("v", { kind: "enum", name: "Color", values: ["A"] }))).toBe("Color");
});

test("speed: 1M records of 8 fields (printed, not asserted)", () => {
  const validate = compileValidator(
    model(
      field("id", { kind: "uuid" }),
      field("ts", datetime(3)),
      field("user", str),
      field("path", { kind: "string", lowCardinality: true }),
      field("status", int(16, false)),
      field("duration", { kind: "float", bits: 64 }),
      field("ok", { kind: "bool" }),
      field("kind", { kind: "enum", name: "Kind", values: ["view", "click", "scroll"] }, { optional: true }),
    ),
  );
  const records: unknown[] = Array.from({ length: 1000 }, (_, i) =>
    JSON.parse(
      JSON.stringify({
        id: crypto.randomUUID(),
        ts: new Date(1714566896123 + i * 1000).toISOString(),
        user: `user-${i}`,
        path: `/page/${i % 10}`,
        status: 200,
        duration: i * 1.5,
        ok: i % 2 === 0,
        kind: "click",
      }),
    ),
  );
  let accepted = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let i = 0; i < 1_000_000; i++) if (validate(records[i % 1000]).ok) accepted++;
    best = Math.min(best, performance.now() - start);
  }
  console.log(`validator: ${((best * 1e6) / 1_000_000).toFixed(0)} ns per record (8 fields, best of 3 x 1M)`);
  expect(accepted).toBe(3_000_000);
});

// Found by the generative round trip (test/generative.roundtrip.test.ts): values the
// validator accepted that the column then altered or refused after the 200.
describe("found by the generative round trip", () => {
  test("a year before 100 with an offset is out of range, not read as 19xx", () => {
    // Date.UTC reads years 0-99 as 1900-1999: this was stored as 1950-05-31T23:00:00.000Z.
    expect(rejected(single(datetime(3))("0050-06-01T00:00:00+01:00"))).toContain("outside the years 1900-2299");
    expect(rejected(single(datetime(3))("0099-12-31T23:00:00-02:00"))).toContain("outside the years 1900-2299");
    // An offset may still move 1899 or 2300 into the range.
    expect(single(datetime(3))("1899-12-31T23:30:00-01:00")).toBe("1900-01-01T00:30:00.000Z");
    expect(single(datetime(0))("2300-01-01T00:30:00+01:00")).toBe("2299-12-31T23:30:00Z");
  });

  test("DateTime64(9) ends at 2262-04-11T23:47:16.854775807Z (Int64 nanoseconds)", () => {
    const ns = single(datetime(9));
    expect(ns("2262-04-11T23:47:16.854775807Z")).toBe("2262-04-11T23:47:16.854775807Z");
    expect(ns("1900-01-01T00:00:00Z")).toBe("1900-01-01T00:00:00.000000000Z");
    // The engine refused these after the 200 (DECIMAL_OVERFLOW): they went to the dead letters.
    for (const late of ["2262-04-11T23:47:16.854775808Z", "2299-12-31T23:59:59Z", "2262-04-12T00:00:00+00:01", 10413791999999]) {
      expect(rejected(ns(late))).toContain("the last instant DateTime64(9) holds");
    }
    expect(single(datetime(8))("2299-12-31T23:59:59.99999999Z")).toBe("2299-12-31T23:59:59.99999999Z");
  });

  test("epoch milliseconds whose sub-millisecond digits a double cannot tell apart are refused", () => {
    // Near 2299 a double keeps about 2 fractional digits of a millisecond: .124 parses to the
    // double whose shortest spelling is .123, which was stored.
    expect(rejected(single(datetime(6))(10382515200000.124))).toContain("send ISO-8601 text");
    expect(single(datetime(6))(10382515200000.5)).toBe("2299-01-04T00:00:00.000500Z");
    expect(single(datetime(6))(1767225600123.456)).toBe("2026-01-01T00:00:00.123456Z");
    expect(single(datetime(9))(-1000000000000.25)).toBe("1938-04-24T22:13:19.999750000Z");
  });

  test("decimals: a small number's exponent is only its spelling; digits a double cannot hold are refused", () => {
    const d = single({ kind: "decimal", precision: 38, scale: 9 });
    // JSON.parse("0.0000005") is 5e-7: it was refused as "written with an exponent".
    expect(d(0.0000005)).toBe("0.000000500");
    expect(d(-1.5e-7)).toBe("-0.000000150");
    expect(rejected(d(1e-10))).toContain("at most 9 fractional digits");
    // 12345678901234567890 parses to the double written 12345678901234567000, which was stored.
    expect(rejected(d(12345678901234567890))).toContain("more digits than a double holds exactly");
    expect(rejected(single({ kind: "decimal", precision: 38, scale: 20 })(0.1 + 0.2))).toContain("more digits than a double holds exactly");
    expect(d(9007199254740991)).toBe("9007199254740991.000000000");
    expect(d(123456789.123)).toBe("123456789.123000000");
    expect(d("12345678901234567890")).toBe("12345678901234567890.000000000");
  });

  test("a lone surrogate is not text: refused, where UTF-8 would lose it (it was accepted, then dead-lettered or stored as U+FFFD)", () => {
    for (const type of [str, { kind: "string", lowCardinality: true } as ScalarType, { kind: "string", lowCardinality: false, fixedLength: 8 } as ScalarType]) {
      expect(rejected(single(type)("lone \ud800 high"))).toBe("field `v`: expected Unicode text, got a string with a lone surrogate (\\ud800 at index 5), which UTF-8 cannot hold");
      expect(rejected(single(type)("\udfff"))).toContain("lone surrogate (\\udfff at index 0)");
      expect(single(type)("pair😀")).toBe("pair😀");
    }
    expect(rejected(single(str, { list: true })(["ok", "x\udc00"]))).toStartWith("field `v[1]`: expected Unicode text");
    expect(rejected(single({ kind: "json", native: true })({ a: { b: "\ud800" } }))).toContain("lone surrogate");
    expect(rejected(single({ kind: "json", native: true })({ ["k\udc00"]: 1 }))).toContain("a key with a lone surrogate");
    // JSON text escapes it, so a Json field keeps it exactly.
    expect(single({ kind: "json", native: false })({ a: "\ud800" })).toBe('{"a":"\\ud800"}');
  });

  test("a Json list's default is a list of JSON texts", () => {
    const json: ScalarType = { kind: "json", native: false };
    const check = (value: readonly unknown[]) => checkDefault(field("v", json, { list: true, default: { kind: "literal", value } }));
    expect(check([])).toEqual({ ok: true, value: [] });
    expect(check(["{}", "[1, 2]", '"text"'])).toEqual({ ok: true, value: ["{}", "[1,2]", '"text"'] });
    expect(check(["nope"])).toEqual({ ok: false, error: 'expected JSON text, got "nope"' });
    expect(check(["null"])).toEqual({ ok: false, error: "element 0: lists cannot hold null" });
    expect(single(json, { list: true, default: { kind: "literal", value: ["{}"] } })(MISSING)).toEqual(["{}"]);
  });
});

describe("a server's 32-bit DateTime and Date columns (servers without DateTime64 or Date32)", () => {
  const legacy = (type: ScalarType): ModelIR => ({
    name: "L",
    table: "L",
    fields: [{ name: "v", column: "v", type, optional: false, list: false, id: false, source: { file: "datamodels/L.prisma", line: 2, column: 3 } }],
    id: [],
    orderBy: [],
    engine: { kind: "MergeTree" },
    source: { file: "datamodels/L.prisma", line: 1, column: 1 },
  });
  test("take only what the column holds: 1970 to 2106 in whole seconds, dates to 2149", () => {
    const dt = compileValidator(legacy({ kind: "datetime", precision: 3, legacy: true }));
    expect(dt({ v: "2026-11-30T10:00:00Z" })).toEqual({ ok: true, record: { v: "2026-11-30T10:00:00.000Z" } });
    expect(dt({ v: "1970-01-01T00:00:00Z" }).ok).toBe(true);
    expect(dt({ v: "2106-02-07T06:28:15Z" }).ok).toBe(true);
    for (const v of ["1969-12-31T23:59:59Z", "1950-06-01T00:00:00Z", "2106-02-07T06:28:16Z", "2299-12-31T00:00:00Z"]) {
      expect({ v, result: dt({ v }) }).toEqual({ v, result: { ok: false, error: expect.stringMatching(/^field `v`: .*outside 1970-01-01T00:00:00Z to 2106-02-07T06:28:15Z/) } });
    }
    expect(dt({ v: "2026-11-30T10:00:00.250Z" })).toEqual({ ok: false, error: expect.stringMatching(/^field `v`: .*whole seconds.*no fraction of a second/) });
    const d = compileValidator(legacy({ kind: "date", legacy: true }));
    expect(d({ v: "2149-06-06" }).ok).toBe(true);
    for (const v of ["1969-12-31", "1900-01-01", "2149-06-07", "2299-12-31"]) expect({ v, ok: d({ v }).ok }).toEqual({ v, ok: false });
  });
});
