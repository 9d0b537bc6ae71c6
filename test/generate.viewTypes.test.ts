import { expect, test } from "bun:test";
import { parseType, tsType } from "../conventions/datamodels/typeFaces.ts";
import { viewsModule } from "../src/generate/viewTypes.ts";

const tsTypeOf = (type: string) => tsType(parseType(type), "row");

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
  const text = viewsModule([{ name: "top_pages", columns: [{ name: "views", type: parseType("UInt64") }], params: [{ name: "since", type: parseType("DateTime") }, { name: "n", type: parseType("Nullable(Int64)") }] }]);
  expect(text).toContain('export interface TopPagesRow {\n  "views": string;\n}');
  // Exactly as the generated client types them (igloo/views said `string | number | boolean`).
  expect(text).toContain('"since": string;');
  expect(text).toContain('"n"?: number | string | bigint | null;');
  expect(text).toContain('"top_pages": { row: TopPagesRow; params: TopPagesParams };');
});
