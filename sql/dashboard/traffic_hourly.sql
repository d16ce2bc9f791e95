-- Hourly bytes of one type over [start, end) as served: the batch figure where the hour is
-- published, the speed layer's otherwise (`source`). The top_n keys of the range by bytes, or
-- the one key asked for.
WITH ranged AS (
    SELECT timestamp, id, value, source
    FROM serving_bytes_hourly
    WHERE type = %(type)s AND timestamp >= %(start)s AND timestamp < %(end)s
      AND (%(key)s::TEXT IS NULL OR id = %(key)s::TEXT)
),
top_keys AS (
    SELECT id FROM ranged GROUP BY id ORDER BY sum(value) DESC, id LIMIT %(top_n)s
)
SELECT r.timestamp, r.id, r.value, r.source
FROM ranged r
JOIN top_keys USING (id)
ORDER BY r.timestamp, r.id;
