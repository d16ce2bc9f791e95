"""The event schema and the validation rules, written once for both layers."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from telemetry.names import METRIC_TYPES
from telemetry.settings_declared import SETTINGS

_DEFAULT = {s.field: s.default for s in SETTINGS}

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

# \A...\z, not ^...$: Java's $ also matches before a final line terminator, so "<uuid>\n" passed.
UUID_PATTERN = r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\z"

BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class ValidationRules:
    """The limits an event must meet to be counted (defaults: the settings' declared ones).

    Every bound exists so that no accepted event can break a later step: ``max_event_bytes``
    keeps sums inside BIGINT, ``max_future_seconds`` keeps a device clock far ahead from moving
    the watermark, the length limits keep keys under PostgreSQL's index-row size, and the rules
    only compare the record with itself (event time against its Kafka timestamp, never the wall
    clock), so a replayed batch gets the same verdicts.
    """

    max_future_seconds: int = _DEFAULT["max_future_seconds"]
    min_event_epoch: int = _DEFAULT["min_event_epoch"]
    max_event_bytes: int = _DEFAULT["max_event_bytes"]
    max_app_length: int = _DEFAULT["max_app_length"]
    max_payload_bytes: int = _DEFAULT["max_payload_bytes"]

    @classmethod
    def from_settings(cls, settings) -> ValidationRules:
        return cls(
            max_future_seconds=settings.max_future_seconds,
            min_event_epoch=settings.min_event_epoch,
            max_event_bytes=settings.max_event_bytes,
            max_app_length=settings.max_app_length,
            max_payload_bytes=settings.max_payload_bytes,
        )


# Metric type written to PostgreSQL -> the event column that keys it.
METRIC_KEYS: dict[str, str] = {
    METRIC_TYPES["antenna"]: "antenna_id",
    METRIC_TYPES["user"]: "id",
    METRIC_TYPES["app"]: "app",
}
USER_METRIC = METRIC_TYPES["user"]

PARTITION_COLUMNS: tuple[str, ...] = ("year", "month", "day", "hour")

# The speed layer's verdict on a valid event, landed with it as ``speed_status``
# (telemetry.speed.verdicts): added to its windows, behind the watermark, or a copy of one counted.
COUNTED, LATE, DUPLICATE = "counted", "late", "duplicate"
SPEED_STATUSES: tuple[str, ...] = (COUNTED, LATE, DUPLICATE)

# Columns of the raw master dataset (Parquet), partition columns last.
RAW_COLUMNS: tuple[str, ...] = (
    *EVENT_FIELDS,
    "event_time",
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
    "speed_status",  # the speed layer's verdict (COUNTED, LATE, DUPLICATE); null: it never saw it
    *PARTITION_COLUMNS,
)

QUARANTINE_COLUMNS: tuple[str, ...] = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
    "reason",
    "payload",
    "payload_length",
)

WINDOW_TOTAL_COLUMNS: tuple[str, ...] = ("timestamp", "id", "value", "type")

# batch_hourly_stats' figures after its timestamp (telemetry.batch.hour_stats).
STATS_COLUMNS: tuple[str, ...] = (
    "events",
    "duplicates",
    "late_events",
    "late_bytes",
    "unseen_events",
    "unseen_bytes",
    "duplicates_dropped",
    "overcounted_bytes",
)
