-- Hourly bytes of one type over [start, end) as served: the batch figure where the hour is
-- published, the speed layer's otherwise (`source`). The top_n keys of the range by bytes, or
-- the one key asked for. The rows of serving_bytes_hourly (schema/003_serving_view.sql), spelled
-- out so the range applies to the tables' own timestamp and only the range's daily partitions
-- are read; start and end are whole hours (the dashboard's time_range). One key is looked up
-- hour by hour on the primary keys (a user asked by email as well as by device id), not found
-- by reading the range: at a million devices an hour has a million rows of each table.
WITH hours AS (
    SELECT h FROM generate_series(%(start)s::TIMESTAMP, %(end)s::TIMESTAMP - interval '1 hour',
                                  interval '1 hour') AS h
),
key_ids AS (
    SELECT %(key)s::TEXT AS id
    UNION
    SELECT u.id
    FROM user_metadata u
    WHERE %(type)s::TEXT = 'user_bytes_total' AND u.email = %(key)s::TEXT
),
speed_rows AS (
    SELECT b.timestamp, b.id, b.value
    FROM bytes_by_hour b
    WHERE %(key)s::TEXT IS NULL
      AND b.type = %(type)s AND b.timestamp >= %(start)s AND b.timestamp < %(end)s
    UNION ALL
    SELECT b.timestamp, b.id, b.value
    FROM hours CROSS JOIN key_ids k
    JOIN bytes_by_hour b ON b.timestamp = hours.h AND b.type = %(type)s AND b.id = k.id
    WHERE %(key)s::TEXT IS NOT NULL
      AND b.timestamp >= %(start)s AND b.timestamp < %(end)s  -- the range's partitions only
),
batch_rows AS (
    SELECT h.timestamp, h.id, h.value
    FROM bytes_hourly h
    WHERE %(key)s::TEXT IS NULL
      AND h.type = %(type)s AND h.timestamp >= %(start)s AND h.timestamp < %(end)s
    UNION ALL
    SELECT h.timestamp, h.id, h.value
    FROM hours
    JOIN bytes_hourly h ON h.timestamp = hours.h AND h.type = %(type)s AND h.id = %(key)s::TEXT
    WHERE %(key)s::TEXT IS NOT NULL
      AND h.timestamp >= %(start)s AND h.timestamp < %(end)s
),
served AS (
    SELECT b.timestamp, b.id, b.value, 'batch'::TEXT AS source
    FROM batch_rows b
    JOIN serving_hours s ON s.timestamp = b.timestamp
    UNION ALL
    SELECT sp.timestamp,
           CASE WHEN %(type)s::TEXT = 'user_bytes_total' THEN coalesce(u.email, sp.id)
                ELSE sp.id END,
           sp.value, 'speed'::TEXT
    FROM speed_rows sp
    LEFT JOIN user_metadata u ON %(type)s::TEXT = 'user_bytes_total' AND u.id = sp.id
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
