-- Hours that are not exact yet, for the dashboard and `make status`: the speed layer landed
-- events in them and the batch layer has not published them, or published them before some
-- of those events landed (late events the sweep has yet to fold in).
CREATE OR REPLACE VIEW hours_not_exact AS
SELECT l.timestamp,
       l.events AS events_landed,
       l.landed_at,
       s.read_from,
       CASE
           WHEN s.timestamp IS NULL THEN 'not computed'
           WHEN s.read_from IS NOT NULL AND l.landed_at > s.read_from THEN 'events landed since'
           ELSE 'not published'
       END AS reason
FROM landed_hours l
LEFT JOIN batch_hourly_stats s ON s.timestamp = l.timestamp
LEFT JOIN serving_hours h ON h.timestamp = l.timestamp
WHERE s.timestamp IS NULL
   OR (s.read_from IS NOT NULL AND l.landed_at > s.read_from)
   OR h.timestamp IS NULL;
