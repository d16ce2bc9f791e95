-- Hours of the range that are not exact yet (view hours_not_exact): landed events the batch
-- layer has not published, or published before some of them landed. Bounded by the range.
SELECT timestamp, reason, events_landed, landed_at, read_from
FROM hours_not_exact
WHERE timestamp >= %(start)s AND timestamp < %(end)s
ORDER BY timestamp
LIMIT 200;
