"""The speed layer's verdict on each valid event, computed by Spark where the events are.

- ``late``: its event time is before the watermark as it stood when the batch began (the largest
  event time seen so far, each bounded by its record's broker time, minus the watermark delay);
  its window is closed and stays as it is;
- ``duplicate``: an event with the same content was already counted (earlier in the batch, in
  Kafka (partition, offset) order, or in an earlier batch and not yet behind the watermark);
- ``counted``: added to its windows in PostgreSQL.

The watermark follows the fleet, not its fastest clock: an event moves it by at most its broker
time (``LogAppendTime``, which no device chooses), so a device whose clock runs ahead is counted
in its own (future) window but cannot make everyone else's events late.

The state the verdicts need besides the watermark (a driver-side scalar) is the content keys of
the counted events not yet behind the watermark: a DataFrame ``(key_h1, key_h2, timestamp)`` kept
on the executors (seen_keys). ``judge`` puts the state and the batch in one shuffle by content
key; the same output gives the batch's verdicts and the next state.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telemetry.schema import COUNTED, DUPLICATE, LATE
from telemetry.transforms import Transform

KEY_COLUMNS: tuple[str, ...] = ("key_h1", "key_h2")
STATE_SCHEMA = T.StructType(
    [
        T.StructField("key_h1", T.LongType()),
        T.StructField("key_h2", T.LongType()),
        T.StructField("timestamp", T.LongType()),
    ]
)
_STATE_ROW, _BATCH_ROW, _REJECTED_ROW = 0, 1, 2


def at_or_below(applied: dict[int, int]) -> Column:
    """Records whose effect PostgreSQL already holds (a batch replayed after its commit)."""
    condition = F.lit(False)
    for partition, offset in applied.items():
        condition = condition | (
            (F.col("kafka_partition") == partition) & (F.col("kafka_offset") <= offset)
        )
    return condition


def bounded_time() -> Column:
    """How far an event moves the watermark: its event time, at most its broker time."""
    return F.least(F.col("timestamp"), F.unix_seconds("kafka_timestamp"))


def judge(seen: DataFrame, watermark: int | None) -> Transform:
    """A micro-batch's records (``reason`` null for a valid event, content keys) -> the same
    records, valid ones with ``speed_status``, plus the state's rows (``_state`` true, record
    columns null) for ``kept_keys``.

    One window over (state rows + batch rows) by content key, in the order state first, then
    the batch's on-time events by (partition, offset), then its late ones: a valid event is
    counted when it comes first in its key, a duplicate when an on-time event or the state came
    before it. Rejected records ride along (last in the order, their own key: their offset) so
    that the batch is read from Kafka once.
    """

    def transform(records: DataFrame) -> DataFrame:
        # One select per side, not a withColumn each: every DataFrame step is analyzed on the
        # driver against the whole plan (the validation's expression tree included).
        valid = F.col("reason").isNull()
        late = F.lit(False) if watermark is None else F.col("timestamp") < F.lit(watermark)
        keys = {
            "key_h1": F.when(valid, F.col("key_h1")).otherwise(F.col("kafka_offset")),
            "key_h2": F.when(valid, F.col("key_h2")).otherwise(F.lit(0).cast("long")),
        }
        batch = records.select(
            *[keys.get(c, F.col(c)).alias(c) for c in records.columns],
            F.when(valid, _BATCH_ROW).otherwise(_REJECTED_ROW).alias("_role"),
            (valid & late).alias("_late"),
        )
        state = seen.select(
            *KEY_COLUMNS, "timestamp", F.lit(_STATE_ROW).alias("_role"), F.lit(False).alias("_late")
        )
        order = Window.partitionBy(*KEY_COLUMNS).orderBy(
            "_role", "_late", "kafka_partition", "kafka_offset"
        )
        status = (
            F.when(F.col("_role") != _BATCH_ROW, F.lit(None))
            .when(F.col("_late"), F.lit(LATE))
            .when(F.row_number().over(order) == 1, F.lit(COUNTED))
            .otherwise(F.lit(DUPLICATE))
        )
        both = batch.unionByName(state, allowMissingColumns=True)
        return both.select(
            *[c for c in both.columns if c not in ("_role", "_late")],
            status.alias("speed_status"),
            (F.col("_role") == _STATE_ROW).alias("_state"),
        )

    return transform


def batch_events(judged: DataFrame) -> DataFrame:
    """The valid events of a ``judge`` output: the rows with a verdict (neither the state's rows
    nor rejected records the micro-batch may have added)."""
    return judged.where(F.col("speed_status").isNotNull()).drop("_state")


def kept_keys(watermark_after: int | None) -> Transform:
    """A ``judge`` output -> the next state: the state's keys and the batch's counted ones that
    can still meet an on-time event (event time at or after the watermark after the batch)."""

    def transform(judged: DataFrame) -> DataFrame:
        keep = F.col("_state") | F.coalesce(F.col("speed_status") == COUNTED, F.lit(False))
        if watermark_after is not None:
            keep = keep & (F.col("timestamp") >= F.lit(watermark_after))
        return judged.where(keep).select(*KEY_COLUMNS, "timestamp")

    return transform
