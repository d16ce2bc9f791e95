-- The speed layer's freshness: its latest 5-minute window, its watermark and last micro-batch,
-- how far each is behind now (seconds), and how many Kafka records it has yet to read. One row, NULLs before the speed layer ever ran.
SELECT w.latest_window,
       p.watermark,
       p.batch_id,
       p.updated_at,
       p.offsets_behind,
       extract(EPOCH FROM (now() AT TIME ZONE 'UTC') - p.watermark)::DOUBLE PRECISION
           AS watermark_lag_seconds,
       extract(EPOCH FROM now() - p.updated_at)::DOUBLE PRECISION AS last_batch_seconds_ago
FROM (SELECT max(timestamp) AS latest_window FROM bytes) w
LEFT JOIN speed_layer_progress p ON p.query_name = %(query_name)s;
