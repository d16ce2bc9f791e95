-- The speed layer's 5-minute windows of one type over [start, end) (the range's last hour),
-- users by email as in serving_bytes_hourly; the top_n keys of those windows, or the one asked.
WITH ranged AS (
    SELECT b.timestamp,
           CASE WHEN b.type = 'user_bytes_total' THEN coalesce(u.email, b.id) ELSE b.id END AS id,
           b.value
    FROM bytes b
    LEFT JOIN user_metadata u ON b.type = 'user_bytes_total' AND u.id = b.id
    WHERE b.type = %(type)s AND b.timestamp >= %(start)s AND b.timestamp < %(end)s
),
keyed AS (
    SELECT * FROM ranged WHERE %(key)s::TEXT IS NULL OR id = %(key)s::TEXT
),
top_keys AS (
    SELECT id FROM keyed GROUP BY id ORDER BY sum(value) DESC, id LIMIT %(top_n)s
)
SELECT k.timestamp, k.id, k.value
FROM keyed k
JOIN top_keys USING (id)
ORDER BY k.timestamp, k.id;
