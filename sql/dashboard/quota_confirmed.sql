-- Users over their hourly quota as the batch layer computed them, over [start, end).
SELECT timestamp, email, usage, quota
FROM user_quota_limit
WHERE timestamp >= %(start)s AND timestamp < %(end)s
ORDER BY timestamp, usage DESC, email
LIMIT %(max_rows)s;
