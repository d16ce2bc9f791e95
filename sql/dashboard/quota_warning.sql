-- Users over their hourly quota by the speed layer's figures, in hours the batch layer has not
-- published yet, over [start, end). The rows of the view speed_quota_warning (schema/
-- 004_dashboard_views.sql), spelled out so the range applies to bytes_by_hour's own timestamp
-- and only the range's daily partitions are read; start and end are whole hours (the
-- dashboard's time_range), so its hours are exactly the range's.
SELECT h.timestamp, u.email, h.value AS usage, u.quota
FROM bytes_by_hour h
JOIN user_metadata u ON u.id = h.id
WHERE h.type = 'user_bytes_total' AND h.timestamp >= %(start)s AND h.timestamp < %(end)s
  AND h.value > u.quota
  AND NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = h.timestamp)
ORDER BY h.timestamp, h.value DESC, u.email
LIMIT %(max_rows)s;
