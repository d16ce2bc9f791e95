-- Quarantined records per hour (of their Kafka timestamp) and reason over [start, end).
SELECT date_trunc('hour', kafka_timestamp) AS timestamp, reason, count(*) AS records
FROM quarantine
WHERE kafka_timestamp >= %(start)s AND kafka_timestamp < %(end)s
GROUP BY 1, 2
ORDER BY 1, 2;
