-- The batch layer's progress for its Prometheus exporter (telemetry.batch_metrics), one row.
-- Timestamps are naive UTC; overdue: an hour with landed events, past its hourly run's longest
-- wait (%(max_wait_seconds)s after its end) and an hour more for the run, not yet published.
-- unexplained: only hours whose speed-layer windows are still kept (%(retain_windows_days)s), as
-- sql/checks/hour_explained.sql judges them: an older hour's backfill has nothing to compare.
SELECT
    (SELECT extract(epoch FROM max(timestamp)) FROM serving_hours) AS last_hour,
    (SELECT extract(epoch FROM max(timestamp)) FROM serving_days) AS last_day,
    (SELECT count(*) FROM landed_hours l
      WHERE l.timestamp + interval '2 hours' + make_interval(secs => %(max_wait_seconds)s)
            < (now() AT TIME ZONE 'UTC')
        AND NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = l.timestamp)
    ) AS overdue_hours,
    (SELECT count(DISTINCT timestamp) FROM reconciliation
      WHERE unexplained <> 0
        AND timestamp >= date_trunc('day', now() AT TIME ZONE 'UTC')
            - make_interval(days => CAST(%(retain_windows_days)s AS INTEGER))
    ) AS unexplained_hours
