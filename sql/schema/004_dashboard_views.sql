-- The dashboard's live early warning: users already over their hourly quota by the speed
-- layer's figures, in hours the batch layer has not published yet. user_quota_limit confirms
-- (or clears) them once the hour's batch run is done; the dashboard says which is which.
CREATE OR REPLACE VIEW speed_quota_warning AS
SELECT h.timestamp, u.email, h.value AS usage, u.quota
FROM bytes_by_hour h
JOIN user_metadata u ON u.id = h.id
WHERE h.type = 'user_bytes_total'
  AND h.value > u.quota
  AND NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = h.timestamp);
