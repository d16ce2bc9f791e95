-- Per type: bytes the reconciliation could not attribute to a cause (|unexplained|, summed),
-- over the hours whose speed-layer windows are still kept (%(retain_windows_days)s days), as
-- sql/checks/hour_explained.sql judges them: an older hour's backfill has nothing to compare.
SELECT type, sum(abs(unexplained)) AS unexplained_bytes
FROM reconciliation
WHERE timestamp >= date_trunc('day', now() AT TIME ZONE 'UTC')
      - make_interval(days => CAST(%(retain_windows_days)s AS INTEGER))
GROUP BY type
