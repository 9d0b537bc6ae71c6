-- Page views per minute over the last hour: a time-windowed view. now() moves, so this
-- stays a plain view, computed when read; in a test pipeline now() is the test's clock.
SELECT toStartOfMinute(ts) AS minute, count() AS views
FROM PageView FINAL
WHERE ts > now() - INTERVAL 1 HOUR
GROUP BY minute
ORDER BY minute
