"""Equal content is one event (producer retries resend an event byte for byte): the exact
grouping of the batch layer, applied only where it can change a figure.

Grouping every event by its five fields costs a shuffle of the whole hour, while repeats are
rare. A 64-bit hash of the fields finds the few contents that may repeat; only their rows are
then grouped by the fields themselves, so two different events that share a hash stay two.
The hash narrows the work; it never decides a figure.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from telemetry.schema import COUNTED, DUPLICATE, EVENT_FIELDS, LATE

Transform = Callable[[DataFrame], DataFrame]
KeyFunction = Callable[[], Column]


KEY_FIELDS: tuple[str, ...] = ("timestamp", "id", "bytes")


def content_hash() -> Column:
    """xxhash64 of the fields that best tell events apart (second, device, bytes): equal
    contents share it. Leaving out antenna_id and app makes the count of the keys read two
    columns fewer and hash one string instead of three; different events that still share
    it (a device sending the same bytes twice in one second, or a 64-bit collision) only
    cost an exact grouping of a few more rows, never a wrong figure."""
    return F.xxhash64(*[F.col(name) for name in KEY_FIELDS])


def _copies(status: str) -> Column:
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


def repeated_contents(key: KeyFunction = content_hash) -> Transform:
    """Raw rows -> content_verdicts of the events whose key occurs more than once.

    Every other row is an event with one copy. The keys seen twice are few (one per retried
    event), so they are broadcast to pick their rows; those rows are grouped by the five
    fields, so the result is exact whatever the key (a constant key groups every row).
    ``key``: a function returning the key column, injectable to test collisions.
    """

    def transform(raw: DataFrame) -> DataFrame:
        keyed = raw.select(*EVENT_FIELDS, "speed_status").withColumn("_key", key())
        repeated = keyed.groupBy("_key").count().where(F.col("count") > 1).select("_key")
        rows = keyed.join(F.broadcast(repeated), "_key", "left_semi").drop("_key")
        return rows.transform(content_verdicts)

    return transform
