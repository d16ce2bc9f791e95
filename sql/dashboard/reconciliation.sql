-- Batch against speed per hour and type over [start, end): the difference and its causes
-- (late: dropped behind the watermark; unseen: landed without the speed layer; overcounted:
-- counted twice by the speed layer; unexplained: what the causes leave, 0 when they add up).
SELECT timestamp, type, speed_total, batch_total, difference, late_bytes, unseen_bytes,
       overcounted_bytes, unexplained, late_events, quarantined_events
FROM reconciliation
WHERE timestamp >= %(start)s AND timestamp < %(end)s
ORDER BY timestamp, type;
