import { describe, expect, test } from "bun:test";
import { BodyError, hostileShape, isUnparseable, parseBody } from "../runtime/ingest/parseBody.ts";
import { bodyFormat } from "../runtime/server/body.ts";

describe("parseBody", () => {
  test("an object is one record, an array is many", () => {
    expect(parseBody('{"a":1}', "json")).toEqual([{ a: 1 }]);
    expect(parseBody('[{"a":1},{"a":2}]', "json")).toEqual([{ a: 1 }, { a: 2 }]);
  });

  test("NDJSON: blank lines skipped, a bad line becomes an unparseable record", () => {
    const records = parseBody('{"a":1}\n\n{oops\r\n{"a":2}\n', "ndjson");
    expect(records.length).toBe(3);
    expect(isUnparseable(records[1])).toBe(true);
    expect(records[2]).toEqual({ a: 2 });
  });

  test("a client cannot forge an unparseable marker", () => {
    const [forged] = parseBody('{"unparseable": true, "text": "x", "message": "y"}', "json");
    expect(isUnparseable(forged)).toBe(false);
  });

  test("whole-body errors are BodyErrors with a status", () => {
    for (const [text, format] of [["", "json"], ["  ", "ndjson"], ["{", "json"], ["null", "json"], ['"s"', "json"]] as const) {
      expect(() => parseBody(text, format)).toThrow(BodyError);
    }
    expect(() => bodyFormat("text/csv")).toThrow(/content-type/);
    expect(bodyFormat("application/json; charset=utf-8")).toBe("json");
    expect(bodyFormat("application/x-ndjson")).toBe("ndjson");
    // The types a page may send cross-site without a preflight, and a missing type, are refused.
    for (const type of [null, "", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/json", "application/vnd.api+json"]) {
      expect(() => bodyFormat(type)).toThrow(/not accepted; send application\/json/);
    }
  });

  test("hostileShape finds __proto__ keys and deep nesting, and passes ordinary records", () => {
    expect(hostileShape({ a: [1, { b: 2 }] })).toBeUndefined();
    expect(hostileShape(JSON.parse('{"a":{"__proto__":{"x":1}}}'))).toContain("$.a has a `__proto__` key");
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(hostileShape(deep)).toContain("deeper than 67");
  });
});
