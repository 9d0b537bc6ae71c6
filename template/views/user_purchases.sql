-- A parameterized view: GET /views/user_purchases?userId=u-1&since=2026-01-01%2000:00:00
SELECT orderId, ts, amount, items
FROM Purchase
WHERE userId = {userId:String} AND ts >= {since:DateTime}
ORDER BY ts DESC
