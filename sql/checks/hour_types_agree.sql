-- Data-quality check after reconcile_hour: every event counts once per antenna, once per user
-- and once per app, so the hour's three per-type totals are equal (or the hour is empty).
-- Bind parameters: interval_start, interval_end.
SELECT count(*) IN (0, 3) AND count(DISTINCT total) <= 1 AS three_equal_type_totals
FROM (
    SELECT type, sum(value) AS total
    FROM bytes_hourly
    WHERE timestamp >= CAST(%(interval_start)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
      AND timestamp < CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
    GROUP BY type
) per_type;
