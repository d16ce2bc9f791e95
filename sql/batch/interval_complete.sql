-- Is the data interval complete enough to compute? True once the speed layer's watermark has
-- passed the interval's end plus a grace period, or, when the speed layer is idle or down
-- (its watermark only moves with new data), once the interval ended long enough ago.
-- Bind parameters (include/lambda_airflow.py): interval_end (ISO 8601 with offset),
-- grace_seconds and max_wait_seconds (integers).
WITH bounds AS (
    SELECT CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS end_ts
)
SELECT
    coalesce(
        (SELECT max(watermark) FROM speed_layer_progress WHERE query_name = 'speed_layer'),
        'epoch'::timestamp
    ) >= bounds.end_ts + make_interval(secs => CAST(%(grace_seconds)s AS INTEGER))
    OR (now() AT TIME ZONE 'UTC')
        >= bounds.end_ts + make_interval(secs => CAST(%(max_wait_seconds)s AS INTEGER))
FROM bounds;
