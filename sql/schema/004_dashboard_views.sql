-- The dashboard's live early warning: users already over their hourly quota by the speed
-- layer's figures, in hours the batch layer has not published yet. user_quota_limit confirms
-- (or clears) them once the hour's batch run is done; the dashboard says which is which.
CREATE OR REPLACE VIEW speed_quota_warning AS
SELECT sp.timestamp, sp.id AS email, sp.value AS usage, u.quota
FROM speed_bytes_hourly sp
JOIN user_metadata u ON u.email = sp.id
WHERE sp.type = 'user_bytes_total'
  AND sp.value > u.quota
  AND NOT EXISTS (SELECT 1 FROM serving_hours s WHERE s.timestamp = sp.timestamp);
