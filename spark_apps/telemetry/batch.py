"""The batch layer's computations over the Parquet master dataset, for a range of whole hours.

Each function takes DataFrames and returns DataFrames; the entry points (batch_hourly.py,
batch_daily.py) do the reading and writing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from telemetry import transforms
from telemetry.schema import COUNTED, DUPLICATE, EVENT_FIELDS, LATE


@dataclass(frozen=True)
class BatchResult:
    totals: DataFrame  # (timestamp, id, value, type) per hour (or day) and key
    over_quota: DataFrame  # (email, usage, quota, timestamp) per hour
    stats: DataFrame  # (timestamp, *STATS_COLUMNS) per hour


def _copies(status: str) -> F.Column:
    return F.sum(F.when(F.col("speed_status") == status, 1).otherwise(0))


def content_verdicts(raw: DataFrame) -> DataFrame:
    """One row per distinct event (equal content = one event, producer retries) with what the
    speed layer did with its copies (raw_store ``speed_status``): the exact counterpart of
    its figure. ``copies``, ``counted`` / ``late`` / ``duplicate`` copies."""
    return raw.groupBy(*EVENT_FIELDS).agg(
        F.count(F.lit(1)).alias("copies"),
        _copies(COUNTED).alias("counted"),
        _copies(LATE).alias("late"),
        _copies(DUPLICATE).alias("duplicate"),
    )


def hour_stats(verdicts: DataFrame) -> DataFrame:
    """Per hour: events, copies, and where the speed layer's total departs from the exact one.

    A distinct event the speed layer never counted is missing from its total: ``late`` when a
    copy was dropped behind the watermark, otherwise ``unseen`` (landed without the speed
    layer: history loaded or backfilled directly). One it counted twice is extra. So per hour
    and type, batch - speed = late_bytes + unseen_bytes - overcounted_bytes.
    """
    never_counted = F.col("counted") == 0
    late = never_counted & (F.col("late") > 0)
    unseen = never_counted & (F.col("late") == 0)

    def count_if(cond: F.Column) -> F.Column:
        return F.sum(F.when(cond, 1).otherwise(0))

    def bytes_if(cond: F.Column, weight: F.Column | None = None) -> F.Column:
        value = F.col("bytes") if weight is None else F.col("bytes") * weight
        return F.coalesce(F.try_sum(F.when(cond, value)), F.lit(0))

    return verdicts.groupBy(F.date_trunc("hour", "event_time").alias("timestamp")).agg(
        F.count(F.lit(1)).alias("events"),
        (F.sum("copies") - F.count(F.lit(1))).alias("duplicates"),
        count_if(late).alias("late_events"),
        bytes_if(late).alias("late_bytes"),
        count_if(unseen).alias("unseen_events"),
        bytes_if(unseen).alias("unseen_bytes"),
        F.sum("duplicate").alias("duplicates_dropped"),
        bytes_if(F.col("counted") > 1, F.col("counted") - 1).alias("overcounted_bytes"),
    )


def hourly(raw: DataFrame, users: DataFrame) -> BatchResult:
    """Exact per-hour figures: duplicates (equal content) counted once, users keyed by email."""
    verdicts = (
        raw.select(*EVENT_FIELDS, "speed_status")
        .transform(content_verdicts)
        .transform(transforms.with_event_time)
        .cache()
    )
    totals = (
        verdicts.transform(transforms.metric_rows)
        .transform(transforms.key_users_by_email(users))
        .transform(transforms.window_totals("1 hour"))
    )
    over_quota = verdicts.transform(transforms.users_over_quota(users, "1 hour"))
    return BatchResult(totals=totals, over_quota=over_quota, stats=hour_stats(verdicts))
