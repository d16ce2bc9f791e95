"""The event schema and the validation rules, written once for both layers."""

from __future__ import annotations

from pyspark.sql import types as T

EVENT_FIELDS: tuple[str, ...] = ("timestamp", "id", "antenna_id", "bytes", "app")

EVENT_SCHEMA = T.StructType(
    [
        T.StructField("timestamp", T.LongType()),
        T.StructField("id", T.StringType()),
        T.StructField("antenna_id", T.StringType()),
        T.StructField("bytes", T.LongType()),
        T.StructField("app", T.StringType()),
    ]
)

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# Metric type written to PostgreSQL -> the event column that keys it.
METRIC_KEYS: dict[str, str] = {
    "antenna_bytes_total": "antenna_id",
    "user_bytes_total": "id",
    "app_bytes_total": "app",
}
USER_METRIC = "user_bytes_total"

PARTITION_COLUMNS: tuple[str, ...] = ("year", "month", "day", "hour")

# Columns of the raw master dataset (Parquet), partition columns last.
RAW_COLUMNS: tuple[str, ...] = (
    *EVENT_FIELDS,
    "event_time",
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
    *PARTITION_COLUMNS,
)

QUARANTINE_COLUMNS: tuple[str, ...] = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
    "reason",
    "payload",
)

WINDOW_TOTAL_COLUMNS: tuple[str, ...] = ("timestamp", "id", "value", "type")
