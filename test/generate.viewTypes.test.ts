import { expect, test } from "bun:test";
import { tsTypeOf, viewsModule } from "../src/generate/viewTypes.ts";

test("ClickHouse result types map to exact TypeScript types", () => {
  expect(tsTypeOf("UInt32")).toBe("number");
  expect(tsTypeOf("UInt64")).toBe("string");
  expect(tsTypeOf("Int128")).toBe("string");
  expect(tsTypeOf("Decimal(18, 2)")).toBe("string");
  expect(tsTypeOf("Float64")).toBe("number");
  expect(tsTypeOf("Bool")).toBe("boolean");
  expect(tsTypeOf("DateTime64(3, 'UTC')")).toBe("string");
  expect(tsTypeOf("Nullable(Int32)")).toBe("number | null");
  expect(tsTypeOf("LowCardinality(Nullable(String))")).toBe("string | null");
  expect(tsTypeOf("Array(Nullable(UInt8))")).toBe("(number | null)[]");
  expect(tsTypeOf("Enum8('a' = 1, 'it\\'s' = 2)")).toBe('"a" | "it\'s"');
  expect(tsTypeOf("Map(String, UInt64)")).toBe("unknown");
});

test("a view module has a row and params type per view", () => {
  const text = viewsModule([{ name: "top_pages", columns: [{ name: "views", type: "UInt64" }], params: [{ name: "since", type: "DateTime" }] }]);
  expect(text).toContain('export interface TopPagesRow {\n  "views": string;\n}');
  expect(text).toContain('"since": string | number | boolean;');
  expect(text).toContain('"top_pages": { row: TopPagesRow; params: TopPagesParams };');
});
