import { defineFunction } from "igloo";

/**
 * Splits each purchase into one record per item (fan-out). A purchase without items
 * writes nothing (drop). Both models' types come from datamodels/: a wrong field name
 * here is a compile error in the editor, and Igloo checks every result at run time too.
 */
export default defineFunction({
  from: "Purchase",
  to: "PurchaseItem",
  run(purchase) {
    if (purchase.items.length === 0) return null;
    return purchase.items.map((sku) => ({
      orderId: purchase.orderId,
      sku,
      ts: purchase.ts,
      userId: purchase.userId,
      coupon: purchase.coupon !== null,
    }));
  },
});
