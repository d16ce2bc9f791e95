-- quarantine_latest for a user not allowed to see device data: where and why, never the bytes
-- (the payload column is not read).
SELECT kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason, payload_length
FROM quarantine
WHERE kafka_timestamp >= %(start)s AND kafka_timestamp < %(end)s
ORDER BY kafka_timestamp DESC, kafka_topic, kafka_partition, kafka_offset DESC
LIMIT %(max_rows)s;
