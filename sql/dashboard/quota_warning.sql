-- Users over their hourly quota by the speed layer's figures, in hours the batch layer has not
-- published yet (schema/004_dashboard_views.sql), over [start, end).
SELECT timestamp, email, usage, quota
FROM speed_quota_warning
WHERE timestamp >= %(start)s AND timestamp < %(end)s
ORDER BY timestamp, usage DESC, email
LIMIT %(max_rows)s;
