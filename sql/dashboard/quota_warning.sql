-- Users over their hourly quota by the speed layer's figures, in hours the batch layer has not
-- published yet, over [start, end). The rows of the view speed_quota_warning (schema/
-- 004_dashboard_views.sql), spelled out so the range applies to bytes' own timestamp and only
-- the range's daily partitions are read; start and end are whole hours (the dashboard's
-- time_range), so the windows are exactly those of its hours.
WITH speed AS (
    SELECT date_trunc('hour', b.timestamp) AS timestamp,
           coalesce(u.email, b.id) AS email,
           saturating_bigint(sum(b.value)) AS usage
    FROM bytes b
    LEFT JOIN user_metadata u ON u.id = b.id
    WHERE b.type = 'user_bytes_total' AND b.timestamp >= %(start)s AND b.timestamp < %(end)s
    GROUP BY 1, 2
)
SELECT sp.timestamp, sp.email, sp.usage, u.quota
FROM speed sp
JOIN user_metadata u ON u.email = sp.email
WHERE sp.usage > u.quota
  AND NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = sp.timestamp)
ORDER BY sp.timestamp, sp.usage DESC, sp.email
LIMIT %(max_rows)s;
