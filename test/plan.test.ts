import { describe, expect, test } from "bun:test";
import { parseModels } from "../conventions/datamodels/parse.ts";
import { planModels } from "../runtime/plan/plan.ts";
import type { StoreCapabilities } from "../runtime/store/store.ts";

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
    expect(changes[0]!.sql).toBe("ALTER TABLE `E` ADD COLUMN IF NOT EXISTS `extra` Int32 DEFAULT 5 AFTER `id`");
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
