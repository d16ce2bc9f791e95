-- The speed layer's 5-minute windows of one type over [start, end) (the range's last hour),
-- users by email as in serving_bytes_hourly; the top_n keys of those windows, or the one asked.
-- The keys are ranked on bytes_by_hour (the windows' sums per hour: start and end are whole
-- hours), then only their windows are read from bytes, each on its primary key: the range's
-- window starts are found by skipping along the index (a probe each), so an hour of a million
-- devices' windows is never read whole.
WITH RECURSIVE window_starts AS (
    (SELECT b.timestamp FROM bytes b
     WHERE b.timestamp >= %(start)s AND b.timestamp < %(end)s
     ORDER BY b.timestamp LIMIT 1)
    UNION ALL
    SELECT (SELECT b.timestamp FROM bytes b
            WHERE b.timestamp > w.timestamp AND b.timestamp < %(end)s
            ORDER BY b.timestamp LIMIT 1)
    FROM window_starts w
    WHERE w.timestamp IS NOT NULL
),
keyed AS (
    SELECT h.id AS device,
           CASE WHEN h.type = 'user_bytes_total' THEN coalesce(u.email, h.id) ELSE h.id END AS id,
           h.value
    FROM bytes_by_hour h
    LEFT JOIN user_metadata u ON h.type = 'user_bytes_total' AND u.id = h.id
    WHERE h.type = %(type)s AND h.timestamp >= %(start)s AND h.timestamp < %(end)s
      AND (%(key)s::TEXT IS NULL
           OR h.id = %(key)s::TEXT
           OR h.id IN (SELECT m.id FROM user_metadata m WHERE m.email = %(key)s::TEXT))
),
top_keys AS (
    SELECT device, id
    FROM keyed
    WHERE %(key)s::TEXT IS NULL OR id = %(key)s::TEXT
    GROUP BY device, id
    ORDER BY sum(value) DESC, id
    LIMIT %(top_n)s
)
SELECT b.timestamp, k.id, b.value
FROM top_keys k
CROSS JOIN window_starts w
JOIN bytes b ON b.timestamp = w.timestamp AND b.type = %(type)s AND b.id = k.device
WHERE b.timestamp >= %(start)s AND b.timestamp < %(end)s  -- the range's partitions only
ORDER BY b.timestamp, k.id;
