-- Reconcile the data interval's hours: per hour and type, the speed layer's total against the
-- batch layer's exact total, the difference split into its causes (batch_hourly_stats, from the
-- provenance the speed layer landed with each event: late, never seen, counted twice) and what
-- they leave unexplained (0 when both layers agree), the quarantined count; then publish the
-- batch computed, so serving_bytes_hourly serves them from the batch layer. One transaction,
-- idempotent: re-running it rewrites the same rows. Bind parameters (include/lambda_airflow.py):
-- interval_start, interval_end (ISO 8601 with offset).
WITH bounds AS (
    SELECT CAST(%(interval_start)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS start_ts,
           CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS end_ts
),
types AS (
    SELECT unnest(ARRAY['antenna_bytes_total', 'user_bytes_total', 'app_bytes_total']) AS type
),
speed AS (  -- bytes_by_hour: the windows' sums per hour and key, a twelfth of their rows
    SELECT b.timestamp, b.type, saturating_bigint(sum(b.value)) AS total
    FROM bytes_by_hour b, bounds
    WHERE b.timestamp >= bounds.start_ts AND b.timestamp < bounds.end_ts
    GROUP BY 1, 2
),
batch AS (
    SELECT h.timestamp, h.type, saturating_bigint(sum(h.value)) AS total
    FROM bytes_hourly h, bounds
    WHERE h.timestamp >= bounds.start_ts AND h.timestamp < bounds.end_ts
    GROUP BY 1, 2
),
quarantined AS (
    SELECT date_trunc('hour', q.kafka_timestamp) AS timestamp, count(*) AS n
    FROM quarantine q, bounds
    WHERE q.kafka_timestamp >= bounds.start_ts AND q.kafka_timestamp < bounds.end_ts
    GROUP BY 1
)
INSERT INTO reconciliation AS r
    (timestamp, type, speed_total, batch_total, difference, late_events, quarantined_events,
     late_bytes, unseen_events, unseen_bytes, duplicates_dropped, overcounted_bytes, unexplained,
     reconciled_at)
SELECT st.timestamp, t.type,
       coalesce(s.total, 0), coalesce(b.total, 0), coalesce(b.total, 0) - coalesce(s.total, 0),
       st.late_events, coalesce(q.n, 0),
       st.late_bytes, st.unseen_events, st.unseen_bytes, st.duplicates_dropped,
       st.overcounted_bytes,
       (coalesce(b.total, 0) - coalesce(s.total, 0))
           - (st.late_bytes + st.unseen_bytes - st.overcounted_bytes),
       now()
FROM batch_hourly_stats st
CROSS JOIN bounds
CROSS JOIN types t
LEFT JOIN speed s ON s.timestamp = st.timestamp AND s.type = t.type
LEFT JOIN batch b ON b.timestamp = st.timestamp AND b.type = t.type
LEFT JOIN quarantined q ON q.timestamp = st.timestamp
WHERE st.timestamp >= bounds.start_ts AND st.timestamp < bounds.end_ts
ON CONFLICT (timestamp, type) DO UPDATE SET
    speed_total = EXCLUDED.speed_total,
    batch_total = EXCLUDED.batch_total,
    difference = EXCLUDED.difference,
    late_events = EXCLUDED.late_events,
    quarantined_events = EXCLUDED.quarantined_events,
    late_bytes = EXCLUDED.late_bytes,
    unseen_events = EXCLUDED.unseen_events,
    unseen_bytes = EXCLUDED.unseen_bytes,
    duplicates_dropped = EXCLUDED.duplicates_dropped,
    overcounted_bytes = EXCLUDED.overcounted_bytes,
    unexplained = EXCLUDED.unexplained,
    reconciled_at = EXCLUDED.reconciled_at;

INSERT INTO serving_hours (timestamp)
SELECT st.timestamp
FROM batch_hourly_stats st
WHERE st.timestamp >= CAST(%(interval_start)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
  AND st.timestamp < CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
ON CONFLICT (timestamp) DO UPDATE SET published_at = now();
