-- The sweep's days (dags/lambda_sweep.py): every settled day (its end at least
-- day_settle_seconds before the sweep's as-of time, so the scheduled daily run goes first)
-- within the look-back with landed events and no completed daily run (serving_days), or with
-- events landed after that run read them (late events after the daily run). Claimed in
-- batch_requests like sweep_hours.sql (a claim whose run was not created is claimed again);
-- returns lambda_daily runs: run_after and a run id.
-- Bind parameters: interval_end (the sweep's as-of time), lookback_hours, day_settle_seconds,
-- retry_seconds.
WITH params AS (
    SELECT CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS as_of,
           make_interval(hours => CAST(%(lookback_hours)s AS INTEGER)) AS lookback,
           make_interval(secs => CAST(%(day_settle_seconds)s AS INTEGER)) AS day_settle,
           make_interval(secs => CAST(%(retry_seconds)s AS INTEGER)) AS retry
),
landed_days AS (
    SELECT date_trunc('day', l.timestamp) AS timestamp, max(l.landed_at) AS landed_at
    FROM landed_hours l
    CROSS JOIN params p
    WHERE l.timestamp >= p.as_of - p.lookback
      AND date_trunc('day', l.timestamp) + interval '1 day' + p.day_settle <= p.as_of
    GROUP BY 1
),
stale AS (
    SELECT l.timestamp, l.landed_at
    FROM landed_days l
    LEFT JOIN serving_days d ON d.timestamp = l.timestamp
    WHERE d.read_from IS NULL OR l.landed_at > d.read_from
)
INSERT INTO batch_requests AS r (kind, timestamp, landed_at, requested_at, run_id)
SELECT 'day', timestamp, landed_at, now(),
       'sweep__' || to_char(timestamp, 'YYYY-MM-DD') || '__'
           || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISSUS')
FROM stale
ON CONFLICT (kind, timestamp) DO UPDATE
SET landed_at = EXCLUDED.landed_at, requested_at = EXCLUDED.requested_at,
    run_id = EXCLUDED.run_id, triggered_at = NULL
WHERE r.triggered_at IS NULL
   OR r.landed_at < EXCLUDED.landed_at
   OR r.requested_at < now() - (SELECT retry FROM params)
-- A run's data interval is the one that ends before its run_after (Airflow's manual runs):
-- run_after (and the logical date, unique per DAG) is a moment inside the next interval,
-- taken from the request's time, so a new request is a new run and no scheduled run's date.
RETURNING to_char(r.timestamp + interval '1 day'
                  + make_interval(secs => 1 + mod(floor(extract(epoch FROM r.requested_at)
                                                        * 1000000)::BIGINT, 86398000000)
                                              / 1000000.0),
                  'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS run_after,
          r.run_id;
