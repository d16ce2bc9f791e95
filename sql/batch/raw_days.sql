-- The days before a horizon the Parquet retention (spark_apps/expire_raw.py) may consider, as
-- the batch role reads them: each published day (serving_days: its daily run compacted and
-- computed it) and whether events landed after that run read it (stale: those events exist
-- only in the Parquet files, so the day is kept; an unknown read time counts as stale).
-- Bind parameters: before (a naive UTC timestamp, a day's midnight).
SELECT CAST(d.timestamp AS DATE) AS day,
       EXISTS (
           SELECT 1
           FROM landed_hours l
           WHERE l.timestamp >= d.timestamp AND l.timestamp < d.timestamp + interval '1 day'
             AND (d.read_from IS NULL OR l.landed_at > d.read_from)
       ) AS stale
FROM serving_days d
WHERE d.timestamp < %(before)s
ORDER BY 1;
