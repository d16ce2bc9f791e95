"""The batch layer's computations over the Parquet master dataset, for a range of whole hours.

Each function takes DataFrames and returns DataFrames; the entry points (batch_hourly.py,
batch_daily.py) do the reading and writing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telemetry import transforms
from telemetry.schema import EVENT_FIELDS


@dataclass(frozen=True)
class BatchResult:
    totals: DataFrame  # (timestamp, id, value, type) per hour (or day) and key
    over_quota: DataFrame  # (email, usage, quota, timestamp) per hour
    stats: DataFrame  # (timestamp, events, duplicates, late_events) per hour


def hourly(raw: DataFrame, users: DataFrame, window: str, watermark_seconds: int) -> BatchResult:
    """Exact per-hour figures: duplicates (equal content) counted once, users keyed by email."""
    events = raw.select(*EVENT_FIELDS, "kafka_timestamp").transform(transforms.with_event_time)
    distinct = events.transform(transforms.dedupe_events).cache()
    totals = (
        distinct.transform(transforms.metric_rows)
        .transform(transforms.key_users_by_email(users))
        .transform(transforms.window_totals("1 hour"))
    )
    over_quota = distinct.transform(transforms.users_over_quota(users, "1 hour"))
    hour = F.date_trunc("hour", "event_time").alias("timestamp")
    received = events.groupBy(hour).agg(F.count(F.lit(1)).alias("received"))
    late = (
        distinct.transform(transforms.late_arrivals(window, watermark_seconds))
        .groupBy(hour)
        .agg(F.count(F.lit(1)).alias("late_events"))
    )
    stats = (
        distinct.groupBy(hour)
        .agg(F.count(F.lit(1)).alias("events"))
        .join(received, "timestamp", how="inner")
        .join(late, "timestamp", how="left")
        .select(
            "timestamp",
            "events",
            (F.col("received") - F.col("events")).alias("duplicates"),
            F.coalesce("late_events", F.lit(0)).alias("late_events"),
        )
    )
    return BatchResult(totals=totals, over_quota=over_quota, stats=stats)
