-- Data-quality check after reconcile_hour: the difference between the speed and the batch
-- layer is explained by late, unseen and doubly counted events, to the byte. Only for hours the
-- speed layer's windows are still kept for: a backfill of an older hour has nothing to compare
-- against (retention dropped the windows), so its reconciliation is not a verdict.
-- Bind parameters: interval_start, interval_end, retain_windows_days.
SELECT coalesce(bool_and(unexplained = 0), true) AS difference_explained
FROM reconciliation
WHERE timestamp >= CAST(%(interval_start)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
  AND timestamp < CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
  AND timestamp >= date_trunc('day', now() AT TIME ZONE 'UTC')
      - make_interval(days => CAST(%(retain_windows_days)s AS INTEGER));
