-- The latest quarantined records of [start, end), payloads as stored (bytes, cut at
-- LAMBDA_MAX_PAYLOAD_BYTES; payload_length is the length before the cut).
SELECT kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason, payload,
       payload_length
FROM quarantine
WHERE kafka_timestamp >= %(start)s AND kafka_timestamp < %(end)s
ORDER BY kafka_timestamp DESC, kafka_topic, kafka_partition, kafka_offset DESC
LIMIT %(max_rows)s;
