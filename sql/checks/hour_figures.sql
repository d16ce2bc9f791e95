-- Data-quality check after lambda_hourly's reconcile_hour (SQLCheckOperator: every value of the
-- first row must be true): no negative figure and no empty key among the hour's exact totals
-- (the columns are NOT NULL). Bind parameters: interval_start, interval_end.
SELECT count(*) = 0 AS no_negative_figure_or_empty_key
FROM bytes_hourly
WHERE timestamp >= CAST(%(interval_start)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
  AND timestamp < CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
  AND (value < 0 OR id = '');
