-- Hourly bytes of one type over [start, end) as served: the batch figure where the hour is
-- published, the speed layer's otherwise (`source`). The top_n keys of the range by bytes, or
-- the one key asked for. The rows of serving_bytes_hourly (schema/003_serving_view.sql), spelled
-- out so the range applies to bytes' own timestamp and only the range's daily partitions are
-- read (the view's hour is an expression no partition can be pruned on); start and end are
-- whole hours (the dashboard's time_range), so the windows are exactly those of its hours.
WITH speed AS (
    SELECT date_trunc('hour', b.timestamp) AS timestamp,
           CASE WHEN b.type = 'user_bytes_total' THEN coalesce(u.email, b.id) ELSE b.id END AS id,
           saturating_bigint(sum(b.value)) AS value
    FROM bytes b
    LEFT JOIN user_metadata u ON b.type = 'user_bytes_total' AND u.id = b.id
    WHERE b.type = %(type)s AND b.timestamp >= %(start)s AND b.timestamp < %(end)s
    GROUP BY 1, 2
),
served AS (
    SELECT h.timestamp, h.id, h.value, 'batch'::TEXT AS source
    FROM bytes_hourly h
    JOIN serving_hours s ON s.timestamp = h.timestamp
    WHERE h.type = %(type)s AND h.timestamp >= %(start)s AND h.timestamp < %(end)s
    UNION ALL
    SELECT sp.timestamp, sp.id, sp.value, 'speed'::TEXT AS source
    FROM speed sp
    WHERE NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = sp.timestamp)
),
ranged AS (
    SELECT * FROM served WHERE %(key)s::TEXT IS NULL OR id = %(key)s::TEXT
),
top_keys AS (
    SELECT id FROM ranged GROUP BY id ORDER BY sum(value) DESC, id LIMIT %(top_n)s
)
SELECT r.timestamp, r.id, r.value, r.source
FROM ranged r
JOIN top_keys USING (id)
ORDER BY r.timestamp, r.id;
