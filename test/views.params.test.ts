import { describe, expect, test } from "bun:test";
import { checkParam, dummyParams } from "../runtime/views/params.ts";
import { parseType } from "../conventions/datamodels/typeFaces.ts";

const check = (type: string, raw: string | undefined) => checkParam({ name: "p", type: parseType(type) }, raw);
const value = (type: string, raw: string | undefined) => {
  const checked = check(type, raw);
  if (!checked.ok) throw new Error(`expected ${type} to accept ${raw}: ${checked.detail}`);
  return checked.value;
};
const problem = (type: string, raw: string | undefined) => {
  const checked = check(type, raw);
  if (checked.ok) throw new Error(`expected ${type} to reject ${raw}`);
  return checked.detail;
};

describe("view parameter values", () => {
  test("strings are taken as they are", () => {
    expect(value("String", "x' OR 1=1 --")).toBe("x' OR 1=1 --");
    expect(value("String", "")).toBe("");
  });

  test("integers are checked against their width, exactly", () => {
    expect(value("Int8", "-128")).toBe("-128");
    expect(value("UInt64", "18446744073709551615")).toBe("18446744073709551615");
    expect(value("Int32", "007")).toBe("7");
    expect(problem("UInt8", "256")).toBe('expected UInt8 (an integer from 0 to 255), got "256", out of range');
    expect(problem("UInt32", "-1")).toContain("out of range");
    expect(problem("Int32", "1.5")).toBe('expected Int32 (an integer from -2147483648 to 2147483647), got "1.5"');
    expect(problem("Int64", "1; DROP TABLE t")).toContain('got "1; DROP TABLE t"');
  });

  test("floats, decimals and booleans", () => {
    expect(value("Float64", "1.5e3")).toBe("1.5e3");
    expect(problem("Float64", "inf")).toBe('expected Float64 (a number), got "inf"');
    expect(problem("Float32", "1e39")).toContain("out of range");
    expect(value("Decimal(10, 2)", "12.5")).toBe("12.50");
    expect(problem("Decimal(10, 2)", "1.234")).toContain("at most 2 fractional digits");
    expect(value("Bool", "1")).toBe("true");
    expect(value("Bool", "false")).toBe("false");
    expect(problem("Bool", "yes")).toBe('expected Bool (true, false, 1 or 0), got "yes"');
  });

  test("dates, timestamps and UUIDs", () => {
    expect(value("Date", "2024-02-29")).toBe("2024-02-29");
    expect(problem("Date", "2023-02-29")).toContain("not a calendar date");
    expect(problem("Date", "1960-01-01")).toBe('expected Date from 1970-01-01 to 2149-06-06, got "1960-01-01"');
    expect(value("Date32", "1960-01-01")).toBe("1960-01-01");
    expect(value("DateTime", "2024-01-02T03:04:05+01:00")).toBe("2024-01-02 02:04:05");
    expect(problem("DateTime", "2024-01-02T03:04:05.5Z")).toContain("more than 0 fractional second digits");
    expect(value("DateTime64(3)", "2024-01-02T03:04:05.12Z")).toBe("2024-01-02 03:04:05.120");
    expect(value("UUID", "123E4567-E89B-12D3-A456-426614174000")).toBe("123e4567-e89b-12d3-a456-426614174000");
    expect(problem("UUID", "nope")).toStartWith("expected UUID");
  });

  test("Nullable parameters are optional; others are required", () => {
    expect(value("Nullable(Int32)", undefined)).toBeNull();
    expect(value("Nullable(Int32)", "5")).toBe("5");
    expect(problem("Int32", undefined)).toBe("is required (Int32)");
  });

  test("arrays come as JSON; numbers are sent as digits, strings as a JS array for the client to quote", () => {
    expect(value("Array(UInt64)", '[1, "18446744073709551615"]')).toBe("[1,18446744073709551615]");
    expect(value("Array(Decimal(10, 2))", '[1.5, "2"]')).toBe("[1.50,2.00]");
    expect(value("Array(Nullable(Bool))", "[true, null, 0]")).toBe("[true,NULL,false]");
    expect(value("Array(String)", '["a\'b", "c"]')).toEqual(["a'b", "c"]);
    expect(value("Array(Array(Date))", '[["2024-01-01"], []]')).toEqual([["2024-01-01"], []]);
    expect(problem("Array(Int8)", "[1, 300]")).toBe("element 1: expected Int8 (an integer from -128 to 127), got 300, out of range");
    expect(problem("Array(String)", "[1]")).toBe("element 0: expected String (a JSON string), got 1");
    expect(problem("Array(Int8)", "1,2")).toBe('expected Array(Int8) as a JSON array like [1,2] or ["a","b"], got "1,2"');
    expect(problem("Array(Int8)", "[null]")).toContain("element 0");
  });

  test("placeholder values for DESCRIBE", () => {
    expect(dummyParams([
      { name: "s", type: parseType("String") },
      { name: "n", type: parseType("UInt8") },
      { name: "a", type: parseType("Array(Int32)") },
      { name: "o", type: parseType("Nullable(Date)") },
    ])).toEqual({ s: "", n: "0", a: [], o: null });
  });
});
