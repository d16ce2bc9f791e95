-- The sweep's hours (dags/lambda_sweep.py): every hour the speed layer landed events in whose
-- batch figures are missing (the scheduler was down) or older than its last landing (late
-- events), settled (its end at least max_wait_seconds before the sweep's as-of time, so the
-- scheduled run goes first) and within the look-back, while its day has not settled yet (then
-- sweep_days.sql reruns the whole day). Each is claimed in batch_requests, so a staleness is
-- requested once: again after retry_seconds, should its run have failed, and at the next sweep,
-- should its run not have been created (sweep_confirm.sql never marked it); returns the claimed
-- hours as lambda_hourly runs: when to run (run_after) and a run id. Bind parameters:
-- interval_end (the sweep's as-of time), lookback_hours, max_wait_seconds, day_settle_seconds,
-- retry_seconds.
WITH params AS (
    SELECT CAST(%(interval_end)s AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS as_of,
           make_interval(hours => CAST(%(lookback_hours)s AS INTEGER)) AS lookback,
           make_interval(secs => CAST(%(max_wait_seconds)s AS INTEGER)) AS settle,
           make_interval(secs => CAST(%(day_settle_seconds)s AS INTEGER)) AS day_settle,
           make_interval(secs => CAST(%(retry_seconds)s AS INTEGER)) AS retry
),
stale AS (
    SELECT l.timestamp, l.landed_at
    FROM landed_hours l
    CROSS JOIN params p
    LEFT JOIN batch_hourly_stats s ON s.timestamp = l.timestamp
    WHERE l.timestamp >= p.as_of - p.lookback
      AND l.timestamp + interval '1 hour' + p.settle <= p.as_of
      AND date_trunc('day', l.timestamp) + interval '1 day' + p.day_settle > p.as_of
      AND (s.read_from IS NULL OR l.landed_at > s.read_from)
)
INSERT INTO batch_requests AS r (kind, timestamp, landed_at, requested_at, run_id)
SELECT 'hour', timestamp, landed_at, now(),
       'sweep__' || to_char(timestamp, 'YYYY-MM-DD"T"HH24') || '__'
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
RETURNING to_char(r.timestamp + interval '1 hour'
                  + make_interval(secs => 1 + mod(floor(extract(epoch FROM r.requested_at)
                                                        * 1000000)::BIGINT, 3598000000)
                                              / 1000000.0),
                  'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS run_after,
          r.run_id;
