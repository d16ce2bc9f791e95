"""The duplicate state of the speed layer, kept on Spark's executors.

The content keys of the counted events not yet behind the watermark (verdicts.STATE_SCHEMA), as a
filter of a locally checkpointed DataFrame (the previous batch's judged records, verdicts.judge):
its blocks live in the executors' block managers, its lineage is cut at every micro-batch, and
the driver only holds a reference. Nothing of it is ever collected.

Its source of truth is the landed Parquet: every counted event is landed with its verdict before
its batch commits, so the state is the counted events of the applied offsets with an event time
at or after the watermark. It is rebuilt from there at start-up and when an executor holding
part of it is lost (a local checkpoint cannot be recomputed): the same verdicts either way.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from telemetry import raw_store, transforms
from telemetry.hours import utc
from telemetry.schema import COUNTED
from telemetry.speed.verdicts import KEY_COLUMNS, STATE_SCHEMA, at_or_below

# Spark's error when a task needs a local checkpoint block whose executor is gone.
_LOST_BLOCK = "CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND"


def state_was_lost(exc: BaseException) -> bool:
    return _LOST_BLOCK in str(exc)


def release(frame: DataFrame | None) -> None:
    """Drop a checkpointed frame's blocks now instead of at the driver JVM's next GC."""
    if frame is None:
        return
    plan = frame._jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)


class SeenKeys:
    def __init__(self, spark: SparkSession, raw_dir: str) -> None:
        self.spark, self.raw_dir = spark, raw_dir
        # Spark warns at every release that a local checkpoint cannot be recomputed: known here.
        jvm = spark.sparkContext._jvm
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
            "org.apache.spark.rdd.MapPartitionsRDD", jvm.org.apache.logging.log4j.Level.ERROR
        )
        self._frame: DataFrame | None = None
        self._blocks: DataFrame | None = None  # the checkpoint holding the state's rows

    @property
    def frame(self) -> DataFrame:
        if self._frame is None:
            raise RuntimeError("the duplicate state was not built (SeenKeys.rebuild)")
        return self._frame

    def rebuild(
        self, watermark: int | None, max_event_time: int | None, applied: dict[int, int]
    ) -> int:
        """The state from the landed Parquet; returns the number of keys kept."""
        if watermark is None or max_event_time is None:
            self.replace(self.spark.createDataFrame([], STATE_SCHEMA))
            return 0
        start, end = utc(watermark - watermark % 3600), utc(max_event_time + 3600)
        counted = (
            raw_store.read_hours(self.spark, self.raw_dir, start, end)
            .where(
                (F.col("speed_status") == COUNTED)
                & (F.col("timestamp") >= watermark)
                & at_or_below(applied)
            )
            .transform(transforms.with_content_key)
            .select(*KEY_COLUMNS, "timestamp")
        )
        self.replace(counted)
        return self.frame.count()

    def cached_bytes(self) -> int:
        """What the executors hold for the state now (memory and disk), from the driver's block
        manager master: a figure per cached RDD (two or three here), no job."""
        infos = self.spark.sparkContext._jsc.sc().getRDDStorageInfo()
        return sum(info.memSize() + info.diskSize() for info in infos)

    def replace(self, frame: DataFrame, materialized: DataFrame | None = None) -> None:
        """The next state. ``materialized``: the checkpointed frame ``frame`` filters (a batch's
        judged records), kept until the state after it; otherwise ``frame`` is checkpointed now.
        The previous state's blocks are freed: everything computed from them is checkpointed."""
        if materialized is None:
            frame = materialized = frame.localCheckpoint(eager=True)
        old, self._frame, self._blocks = self._blocks, frame, materialized
        release(old)
