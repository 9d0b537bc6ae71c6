-- Items sold per SKU: a plain aggregation, so Igloo maintains it incrementally
-- (a materialized view into an AggregatingMergeTree) instead of rescanning the table.
SELECT sku, count() AS items, uniq(orderId) AS orders, uniq(userId) AS buyers
FROM PurchaseItem
GROUP BY sku
