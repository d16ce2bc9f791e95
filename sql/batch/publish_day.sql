-- The day's daily run is complete: record it with the earliest time its hours were read
-- (batch_hourly_stats.read_from), so events landed after that make the day stale for the
-- sweep (sweep_days.sql). Idempotent. Bind parameters: interval_start, interval_end.
INSERT INTO serving_days AS d (timestamp, read_from, published_at)
SELECT CAST(%(interval_start)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC', min(s.read_from), now()
FROM batch_hourly_stats s
WHERE s.timestamp >= CAST(%(interval_start)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
  AND s.timestamp < CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
ON CONFLICT (timestamp) DO UPDATE SET read_from = EXCLUDED.read_from, published_at = now();
