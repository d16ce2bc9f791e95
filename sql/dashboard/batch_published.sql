-- The last hour the batch layer published (serving_hours), and when.
SELECT timestamp AS hour, published_at
FROM serving_hours
ORDER BY timestamp DESC
LIMIT 1;
