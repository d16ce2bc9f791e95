-- The batch layer's progress for its Prometheus exporter (telemetry.batch_metrics), one row.
-- Timestamps are naive UTC; overdue: an hour with landed events, past its hourly run's longest
-- wait (%(max_wait_seconds)s after its end) and an hour more for the run, not yet published.
SELECT
    (SELECT extract(epoch FROM max(timestamp)) FROM serving_hours) AS last_hour,
    (SELECT extract(epoch FROM max(timestamp)) FROM serving_days) AS last_day,
    (SELECT count(*) FROM landed_hours l
      WHERE l.timestamp + interval '2 hours' + make_interval(secs => %(max_wait_seconds)s)
            < (now() AT TIME ZONE 'UTC')
        AND NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = l.timestamp)
    ) AS overdue_hours,
    (SELECT count(DISTINCT timestamp) FROM reconciliation WHERE unexplained <> 0)
        AS unexplained_hours
