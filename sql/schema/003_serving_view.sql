-- Per hour, type and key: the batch value once the hour is published (serving_hours), the sum
-- of the speed layer's 5-minute windows otherwise; `source` says which. Speed-layer user rows
-- are keyed by device id, so they are mapped to emails to line up with the batch layer.
CREATE OR REPLACE VIEW speed_bytes_hourly AS
SELECT date_trunc('hour', b.timestamp) AS timestamp,
       CASE WHEN b.type = 'user_bytes_total' THEN coalesce(u.email, b.id) ELSE b.id END AS id,
       saturating_bigint(sum(b.value)) AS value,
       b.type
FROM bytes b
LEFT JOIN user_metadata u ON b.type = 'user_bytes_total' AND u.id = b.id
GROUP BY 1, 2, 4;

CREATE OR REPLACE VIEW serving_bytes_hourly AS
SELECT h.timestamp, h.id, h.value, h.type, 'batch'::TEXT AS source
FROM bytes_hourly h
JOIN serving_hours s ON s.timestamp = h.timestamp
UNION ALL
SELECT sp.timestamp, sp.id, sp.value, sp.type, 'speed'::TEXT AS source
FROM speed_bytes_hourly sp
WHERE NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = sp.timestamp);
