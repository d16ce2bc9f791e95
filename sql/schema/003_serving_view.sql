-- Per hour, type and key: the batch value once the hour is published (serving_hours), the sum
-- of the speed layer's 5-minute windows otherwise (bytes_by_hour); `source` says which.
-- Speed-layer user rows are keyed by device id, so they are mapped to emails to line up with the
-- batch layer (one device per email: user_metadata's id and email are both unique).
CREATE OR REPLACE VIEW speed_bytes_hourly AS
SELECT h.timestamp,
       CASE WHEN h.type = 'user_bytes_total' THEN coalesce(u.email, h.id) ELSE h.id END AS id,
       h.value,
       h.type
FROM bytes_by_hour h
LEFT JOIN user_metadata u ON h.type = 'user_bytes_total' AND u.id = h.id;

CREATE OR REPLACE VIEW serving_bytes_hourly AS
SELECT h.timestamp, h.id, h.value, h.type, 'batch'::TEXT AS source
FROM bytes_hourly h
JOIN serving_hours s ON s.timestamp = h.timestamp
UNION ALL
SELECT sp.timestamp, sp.id, sp.value, sp.type, 'speed'::TEXT AS source
FROM speed_bytes_hourly sp
WHERE NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = sp.timestamp);
