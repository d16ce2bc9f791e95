"""The batch layer's computations over the Parquet master dataset, for a range of whole hours.

Each function takes DataFrames and returns DataFrames; the entry points (batch_hourly.py,
batch_daily.py) do the reading and writing.

Every figure counts equal content once, without building the distinct events (a shuffle of
the whole hour by its five fields): each figure is summed over every row, taken as an event
of one copy, in aggregations that shrink the hour before their shuffle, then corrected by the
few contents that repeat (content.repeated_contents): what their copies added, less what the
one event each of them is adds.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telemetry import content
from telemetry.schema import (
    BIGINT_MAX,
    COUNTED,
    DUPLICATE,
    EVENT_FIELDS,
    LATE,
    METRIC_KEYS,
    USER_METRIC,
    WINDOW_TOTAL_COLUMNS,
)

HOUR_SECONDS = 3600
KEY = ("hour_start", "type", "id")
# The metric keyed by app: one row per event, where the stats are summed.
APP_METRIC = next(metric for metric, column in METRIC_KEYS.items() if column == "app")
_WIDE = T.DecimalType(38, 0)


@dataclass(frozen=True)
class BatchResult:
    totals: DataFrame  # (timestamp, id, value, type) per hour and key
    over_quota: DataFrame  # (email, usage, quota, timestamp) per hour
    stats: DataFrame  # (timestamp, *STATS_COLUMNS) per hour
    cached: tuple[DataFrame, ...] = ()  # small frames the three share: unpersist when done

    def unpersist(self) -> None:
        for frame in self.cached:
            frame.unpersist()


def with_hour_start(events: DataFrame) -> DataFrame:
    """``hour_start``: the start of the event's hour (epoch-aligned, as a 1-hour window)."""
    ts = F.col("timestamp")
    return events.withColumn("hour_start", F.timestamp_seconds(ts - F.pmod(ts, HOUR_SECONDS)))


def wide_sum(value: Column, name: str) -> list[Column]:
    """Sum BIGINT ``value`` as two sums of its 32-bit halves, neither of which can overflow
    below 2^31 rows: the sum over every copy may pass BIGINT_MAX where the distinct events'
    one does not. wide(name) joins them back, exactly, as DECIMAL(38)."""
    return [
        F.sum(F.shiftright(value, 32)).alias(f"{name}_hi"),
        F.sum(value.bitwiseAND(F.lit(0xFFFFFFFF))).alias(f"{name}_lo"),
    ]


def wide(name: str) -> Column:
    def part(suffix: str) -> Column:
        return F.coalesce(F.col(f"{name}_{suffix}").cast(_WIDE), F.lit(0).cast(_WIDE))

    return part("hi") * F.lit(2**32).cast(_WIDE) + part("lo")


def saturated(exact: Column) -> Column:
    """An exact sum as transforms.saturating_sum gives it: capped at BIGINT_MAX."""
    return F.least(exact, F.lit(BIGINT_MAX).cast(_WIDE)).cast("long")


def zero_if_overflow(exact: Column) -> Column:
    """An exact sum as the stats' byte figures always gave it: 0 past BIGINT_MAX."""
    return F.when(exact > BIGINT_MAX, F.lit(0)).otherwise(exact).cast("long")


def metric_rows(events: DataFrame, *values: str) -> DataFrame:
    """One row per event and metric: (hour_start, type, id, *values), id = the metric's key."""
    pairs = F.array(
        *[
            F.struct(F.lit(metric).alias("type"), F.col(column).cast("string").alias("id"))
            for metric, column in METRIC_KEYS.items()
        ]
    )
    return events.select("hour_start", *values, F.explode(pairs).alias("m")).select(
        "hour_start", F.col("m.type").alias("type"), F.col("m.id").alias("id"), *values
    )


def _flag(cond: Column) -> Column:
    return F.when(cond, 1).otherwise(0)


def _row_stats(type_column: Column) -> list[Column]:
    """hour_stats' figures of each row taken alone (an event of one copy: late when its status
    is, unseen when neither counted nor late), summed on the app rows only: every event has
    one, so the stats ride on the totals' pass instead of a pass of their own."""
    status = F.col("speed_status")
    on_app = type_column == APP_METRIC
    late = on_app & F.coalesce(status == LATE, F.lit(False))
    unseen = on_app & ~F.coalesce(status.isin(LATE, COUNTED), F.lit(False))
    return [
        F.sum(_flag(on_app)).alias("rows"),
        F.sum(_flag(late)).alias("late_rows"),
        *wide_sum(F.when(late, F.col("bytes")), "late_bytes"),
        F.sum(_flag(unseen)).alias("unseen_rows"),
        *wide_sum(F.when(unseen, F.col("bytes")), "unseen_bytes"),
        F.sum(_flag(on_app & F.coalesce(status == DUPLICATE, F.lit(False)))).alias(
            "duplicates_dropped"
        ),
    ]


def per_key(events: DataFrame, repeated: DataFrame) -> DataFrame:
    """One pass over every row: per hour and metric key (user ids as they are) ``exact``, the
    distinct events' bytes as DECIMAL, and on the app keys the rows' stats (_row_stats).
    ``repeated``: content_verdicts of the repeated contents, whose extra copies come off."""
    every_copy = (
        metric_rows(events, "bytes", "speed_status")
        .groupBy(*KEY)
        .agg(*wide_sum(F.col("bytes"), "value"), *_row_stats(F.col("type")))
    )
    extra = (F.col("copies") - 1).cast(_WIDE) * F.col("bytes").cast(_WIDE)
    extras = (
        metric_rows(repeated.withColumn("extra", extra), "extra")
        .groupBy(*KEY)
        .agg(F.sum("extra").alias("extra"))
    )
    return every_copy.join(extras, list(KEY), "left").select(
        *KEY,
        (wide("value") - F.coalesce("extra", F.lit(0).cast(_WIDE))).alias("exact"),
        *[c for c in every_copy.columns if c not in KEY and not c.startswith("value_")],
    )


def totals(keyed: DataFrame, users: DataFrame) -> DataFrame:
    """per_key -> (timestamp, id, value, type): users keyed by email, unknown ids kept."""
    emails = F.broadcast(users.select(F.col("id").alias("_uid"), F.col("email").alias("_email")))
    is_user = (F.col("type") == USER_METRIC) & (F.col("id") == F.col("_uid"))
    return (
        keyed.join(emails, is_user, "left")
        .groupBy("hour_start", "type", F.coalesce("_email", "id").alias("id"))
        .agg(F.sum("exact").alias("exact"))
        .select(
            F.col("hour_start").alias("timestamp"),
            "id",
            saturated(F.col("exact")).alias("value"),
            "type",
        )
        .select(*WINDOW_TOTAL_COLUMNS)
    )


def over_quota(keyed: DataFrame, users: DataFrame) -> DataFrame:
    """per_key -> (email, usage, quota, timestamp): users whose hour passed their quota."""
    usage = keyed.where(F.col("type") == USER_METRIC).select(
        "hour_start", "id", saturated(F.col("exact")).alias("usage")
    )
    return (
        usage.join(F.broadcast(users.select("id", "email", "quota")), "id", "inner")
        .where(F.col("usage") > F.col("quota"))
        .select("email", "usage", "quota", F.col("hour_start").alias("timestamp"))
    )


def hour_stats(keyed: DataFrame, repeated: DataFrame) -> DataFrame:
    """Per hour: events, copies, and where the speed layer's total departs from the exact one.

    A distinct event the speed layer never counted is missing from its total: ``late`` when a
    copy was dropped behind the watermark, otherwise ``unseen`` (landed without the speed
    layer: history loaded or backfilled directly). One it counted twice is extra. So per hour
    and type, batch - speed = late_bytes + unseen_bytes - overcounted_bytes.

    ``keyed`` (per_key) has the rows' figures, each taken alone; ``repeated``
    (content_verdicts) turns the copies of its contents into one event each.
    """
    halves = [f"{n}_{h}" for n in ("late_bytes", "unseen_bytes") for h in ("hi", "lo")]
    counts = ["rows", "late_rows", "unseen_rows", "duplicates_dropped", *halves]
    every_copy = (
        keyed.where(F.col("type") == APP_METRIC)
        .groupBy("hour_start")
        .agg(*[F.sum(c).alias(c) for c in counts])
    )
    c, k, lt = F.col("copies"), F.col("counted"), F.col("late")
    b = F.col("bytes").cast(_WIDE)
    late_delta = _flag((k == 0) & (lt > 0)) - lt  # one late event for its late copies
    unseen_delta = _flag((k == 0) & (lt == 0)) - (c - k - lt)
    fixes = repeated.groupBy("hour_start").agg(
        F.sum(c - 1).alias("extra_copies"),
        F.sum(late_delta).alias("late_delta"),
        F.sum(late_delta.cast(_WIDE) * b).alias("late_bytes_delta"),
        F.sum(unseen_delta).alias("unseen_delta"),
        F.sum(unseen_delta.cast(_WIDE) * b).alias("unseen_bytes_delta"),
        F.sum(F.when(k > 1, (k - 1).cast(_WIDE) * b)).alias("overcounted"),
    )

    def fix(name: str) -> Column:
        return F.coalesce(F.col(name), F.lit(0))

    def fix_bytes(name: str) -> Column:
        return F.coalesce(F.col(name), F.lit(0).cast(_WIDE))

    return every_copy.join(fixes, "hour_start", "left").select(
        F.col("hour_start").alias("timestamp"),
        (F.col("rows") - fix("extra_copies")).alias("events"),
        fix("extra_copies").cast("long").alias("duplicates"),
        (F.col("late_rows") + fix("late_delta")).cast("long").alias("late_events"),
        zero_if_overflow(wide("late_bytes") + fix_bytes("late_bytes_delta")).alias("late_bytes"),
        (F.col("unseen_rows") + fix("unseen_delta")).cast("long").alias("unseen_events"),
        zero_if_overflow(wide("unseen_bytes") + fix_bytes("unseen_bytes_delta")).alias(
            "unseen_bytes"
        ),
        F.col("duplicates_dropped").cast("long"),
        zero_if_overflow(fix_bytes("overcounted")).alias("overcounted_bytes"),
    )


def hourly(
    raw: DataFrame, users: DataFrame, key: content.KeyFunction = content.content_hash
) -> BatchResult:
    """Exact per-hour figures: duplicates (equal content) counted once, users keyed by email.

    The repeated contents and the per-key bytes are small and feed two outputs each: cached,
    so each pass over the hour runs once."""
    events = raw.select(*EVENT_FIELDS, "speed_status").transform(with_hour_start)
    repeated = raw.transform(content.repeated_contents(key)).transform(with_hour_start).cache()
    keyed = per_key(events, repeated).cache()
    return BatchResult(
        totals=totals(keyed, users),
        over_quota=over_quota(keyed, users),
        stats=hour_stats(keyed, repeated),
        cached=(keyed, repeated),
    )
