// The project's own tests, run with `bun test`. `igloo/models` is generated from
// datamodels/ by `igloo init` and `igloo dev`: the same checks ingest applies.
import { describe, expect, test } from "bun:test";
import { models, type PageView } from "igloo/models";
import samples from "../fixtures/page-views.json";

describe("PageView", () => {
  test("the sample page views are valid, with defaults filled in", () => {
    for (const sample of samples) {
      const row: PageView = models.PageView.parse(sample);
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row.ts).toMatch(/Z$/);
    }
  });

  test("epoch milliseconds become an ISO timestamp", () => {
    const row = models.PageView.parse(samples[2]);
    expect(row.ts).toBe("2026-11-18T11:06:40.000Z");
  });

  test("a page view without a path is refused with a message naming the field", () => {
    const { path: _path, ...withoutPath } = samples[0]!;
    const result = models.PageView.check(withoutPath);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain("path");
  });

  test("an unknown device is refused", () => {
    const result = models.PageView.check({ ...samples[0], device: "watch" });
    expect(result.ok).toBe(false);
  });
});

describe("Purchase", () => {
  test("amounts keep their two decimals", () => {
    const row = models.Purchase.parse({ orderId: "o-1", ts: "2026-11-24T10:00:00Z", userId: "u-1", amount: 19.9, items: ["sku-1"] });
    expect(row.amount).toBe("19.90");
    expect(row.currency).toBe("EUR");
  });
});
