-- Retention, the daily DAG's expire_tables task (docs/operations.md "Retention"): count the quarantine per
-- day and reason, expire the small tables' old rows, drop the daily partitions older than each
-- horizon, then create the partitions of the week ahead. One transaction.
--
-- "Now" is the run's data interval end, never the clock: a re-run or a backfill of an old day
-- drops exactly what its first run dropped (nothing more, as later runs already went further),
-- so the task is idempotent and its result does not depend on when it runs. A day the batch
-- layer has not published (events landed, no serving_days row) is never dropped, however old.
--
-- Lock order: the partition drops take each parent table exclusively (bytes, bytes_by_hour,
-- quarantine, reconciliation, the speed layer's order) and only then are DEFAULT partitions locked to
-- create new days; lock_timeout makes a task that waits behind a long reader fail and retry
-- instead of queueing every writer behind it.
-- Bind parameters (include/lambda_airflow.py RETENTION): interval_start, interval_end (ISO 8601
-- with offset), retain_windows_days, retain_quarantine_days, retain_quarantine_counts_days,
-- retain_reconciliation_days (integers).
SET LOCAL lock_timeout = '30s';

-- Counts per day and reason, recomputed (never added to) from the payloads: the interval's day,
-- any day not counted yet, and the days whose payloads are about to expire (their last count
-- includes what the speed layer quarantined late). A day whose payloads are gone is left as is.
WITH p AS (
    SELECT CAST(%(interval_start)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS day_start,
           CAST(CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE)
               - CAST(%(retain_quarantine_days)s AS INTEGER) AS payloads_before
),
days AS (
    SELECT d AS day
    FROM p,
         generate_series((SELECT date_trunc('day', min(kafka_timestamp)) FROM quarantine),
                         date_trunc('day', p.day_start), interval '1 day') AS d
    WHERE d = date_trunc('day', p.day_start)
       OR d < p.payloads_before
       OR NOT EXISTS (SELECT 1 FROM quarantine_daily c WHERE c.day = CAST(d AS DATE))
),
counted AS (
    SELECT CAST(d.day AS DATE) AS day, q.reason, count(*) AS records
    FROM days d
    JOIN quarantine q
      ON q.kafka_timestamp >= d.day AND q.kafka_timestamp < d.day + interval '1 day'
    GROUP BY 1, 2
)
INSERT INTO quarantine_daily AS c (day, reason, records)
SELECT day, reason, records FROM counted
ON CONFLICT (day, reason) DO UPDATE SET records = EXCLUDED.records;

DELETE FROM quarantine_daily
WHERE day < CAST(CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE)
            - CAST(%(retain_quarantine_counts_days)s AS INTEGER);

-- The sweep's claims matter within its look-back only (shorter than every horizon); the
-- failure records live as long as the reconciliation they explain.
DELETE FROM batch_requests
WHERE timestamp < CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
                  - make_interval(days => CAST(%(retain_reconciliation_days)s AS INTEGER));

DELETE FROM batch_task_failures
WHERE failed_at < CAST(%(interval_end)s AS TIMESTAMPTZ)
                  - make_interval(days => CAST(%(retain_reconciliation_days)s AS INTEGER));

-- Whole days older than each horizon, but never a day with landed events the batch layer has
-- not published.
WITH p AS (
    SELECT CAST(CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE) AS today
),
unpublished AS (
    SELECT coalesce(array_agg(DISTINCT CAST(l.timestamp AS DATE)), '{}') AS days
    FROM landed_hours l
    WHERE NOT EXISTS (
        SELECT 1 FROM serving_days s WHERE s.timestamp = date_trunc('day', l.timestamp)
    )
),
horizons (position, tbl, days) AS (
    VALUES (1, CAST('bytes' AS REGCLASS), CAST(%(retain_windows_days)s AS INTEGER)),
           (2, CAST('bytes_by_hour' AS REGCLASS), CAST(%(retain_windows_days)s AS INTEGER)),
           (3, CAST('quarantine' AS REGCLASS), CAST(%(retain_quarantine_days)s AS INTEGER)),
           (4, CAST('reconciliation' AS REGCLASS),
            CAST(%(retain_reconciliation_days)s AS INTEGER))
)
SELECT CAST(h.tbl AS TEXT) AS table_name, d.partition_name, d.row_count
FROM p
CROSS JOIN unpublished u
CROSS JOIN horizons h
CROSS JOIN LATERAL lambda_drop_partitions_before(h.tbl, p.today - h.days, u.days) AS d
ORDER BY h.position, d.partition_name;

-- The week ahead (as sql/schema/001_serving_tables.sql creates it at start): a missing day is
-- created, with the rows the DEFAULT partition holds for it. Returns the partitions created.
SELECT lambda_ensure_partitions(t.tbl, p.today, p.today + 7) AS created
FROM (SELECT CAST(CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE) AS today) p
CROSS JOIN unnest(ARRAY['bytes', 'bytes_by_hour', 'quarantine', 'reconciliation']::REGCLASS[])
    AS t (tbl);
