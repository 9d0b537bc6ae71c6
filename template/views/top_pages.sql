-- Views per page. PageView is a ReplacingMergeTree (a resent id is merged away), so
-- FINAL counts each view once.
SELECT path, count() AS views, uniqExact(userId) AS users, round(avg(durationMs)) AS avg_ms
FROM PageView FINAL
GROUP BY path
ORDER BY views DESC
