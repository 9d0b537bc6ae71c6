// A function is plain code: call its `run` with a typed row and check what it returns.
import { expect, test } from "bun:test";
import { models, type Purchase } from "igloo/models";
import purchaseItems from "../functions/purchaseItems.ts";

const purchase: Purchase = models.Purchase.parse({
  orderId: "o-1",
  ts: "2026-11-24T10:00:00Z",
  userId: "u-1",
  amount: 42,
  items: ["sku-1", "sku-2"],
  coupon: "WINTER",
});

test("one PurchaseItem per item, each valid for the PurchaseItem model", () => {
  const items = purchaseItems.run(purchase) ?? [];
  expect(items.map((item) => item.sku)).toEqual(["sku-1", "sku-2"]);
  for (const item of items) expect(models.PurchaseItem.check(item).ok).toBe(true);
});

test("a purchase without items is dropped", () => {
  expect(purchaseItems.run({ ...purchase, items: [] })).toBeNull();
});
