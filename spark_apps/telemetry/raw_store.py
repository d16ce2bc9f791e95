"""The raw master dataset: valid events as Parquet, partitioned year/month/day/hour.

The speed layer lands each micro-batch here from ``foreachBatch``: Spark writes the batch to a
staging folder, then each file is renamed into its hour folder under a name made of the batch id,
a digest of the Kafka offset ranges it holds and Spark's task number. A replayed batch
(``foreachBatch`` is at-least-once) has the same id and the same offsets, so it produces the same
names and replaces its own files instead of adding copies; a batch of a new checkpoint (its ids
start again at 0) holds other offsets, so it never replaces an older batch's files. We do not use
Spark's streaming file sink: its ``_spark_metadata`` log would have to be rewritten by the daily
compaction, and readers of a root with that log ignore files it lacks.
Readers use :func:`read_hours`: the hour folders themselves, the root as ``basePath`` (the
folders: telemetry.raw_layout).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from typing import NamedTuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telemetry.hours import hours_between
from telemetry.raw_layout import hour_folder
from telemetry.schema import PARTITION_COLUMNS, RAW_COLUMNS

# Spark's output files: part-<task>-<job uuid>.c<file>[.<codec>].parquet
_SPARK_PART = re.compile(r"^part-(\d+)-.*\.(c\d+)(?:\.\w+)?\.parquet$")


def filesystem(spark: SparkSession, path: str):
    """The Hadoop FileSystem of ``path`` (any scheme Spark can write) and the JVM gateway."""
    jvm = spark.sparkContext._jvm
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jvm


def _list_files(fs, jvm, root: str) -> list[str]:
    found = []
    it = fs.listFiles(jvm.org.apache.hadoop.fs.Path(root), True)
    while it.hasNext():
        found.append(it.next().getPath().toString())
    return found


def _move(fs, jvm, source: str, target: str) -> None:
    """Rename, replacing the target: Hadoop's rename does not overwrite."""
    hpath = jvm.org.apache.hadoop.fs.Path
    dst = hpath(target)
    fs.mkdirs(dst.getParent())
    if fs.exists(dst):
        fs.delete(dst, False)
    if not fs.rename(hpath(source), dst):
        raise OSError(f"could not move {source} to {target}")


def _target_name(file_name: str, tag: str) -> str | None:
    match = _SPARK_PART.match(file_name)
    if not match:
        return None
    return f"{tag}-part-{int(match.group(1)):05d}-{match.group(2)}.parquet"


def offset_ranges(events: DataFrame) -> dict[int, tuple[int, int]]:
    """Kafka partition -> (lowest, highest offset) of a frame's records (one small aggregate)."""
    rows = events.groupBy("kafka_partition").agg(
        F.min("kafka_offset").alias("lo"), F.max("kafka_offset").alias("hi")
    )
    return {r.kafka_partition: (r.lo, r.hi) for r in rows.collect()}


def batch_tag(batch_id: int, ranges: Mapping[int, tuple[int, int]]) -> str:
    """The landed files' name prefix: the same for a replay of a batch, another for other
    records under the same batch id (a reset checkpoint numbers its batches from 0 again)."""
    text = ",".join(f"{p}:{lo}-{hi}" for p, (lo, hi) in sorted(ranges.items()))
    return f"batch-{batch_id:010d}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def land_batch(
    events: DataFrame,
    root: str,
    batch_id: int,
    ranges: Mapping[int, tuple[int, int]] | None = None,
) -> int:
    """Write one micro-batch of events (with partition columns) under root; returns files landed.

    ``ranges``: the batch's Kafka offset ranges per partition (batch_tag), computed from the
    events when not given."""
    spark = events.sparkSession
    tag = batch_tag(batch_id, offset_ranges(events) if ranges is None else ranges)
    staging = f"{root.rstrip('/')}/_staging/batch-{batch_id}"
    fs, jvm = filesystem(spark, staging)
    fs.delete(jvm.org.apache.hadoop.fs.Path(staging), True)
    if "speed_status" not in events.columns:  # landed without the speed layer: it never saw it
        events = events.withColumn("speed_status", F.lit(None).cast("string"))
    events.select(*RAW_COLUMNS).write.partitionBy(*PARTITION_COLUMNS).parquet(staging)
    landed = 0
    for source in _list_files(fs, jvm, staging):
        relative = source.split(f"batch-{batch_id}/", 1)[1]
        folder, _, name = relative.rpartition("/")
        target_name = _target_name(name, tag)
        if target_name is None or not folder:
            continue
        _move(fs, jvm, source, f"{root.rstrip('/')}/{folder}/{target_name}")
        landed += 1
    fs.delete(jvm.org.apache.hadoop.fs.Path(staging), True)
    return landed


def landed_folders(
    spark: SparkSession, root: str, start: dt.datetime, end: dt.datetime
) -> list[str]:
    """The hour folders of [start, end) that exist."""
    fs, jvm = filesystem(spark, root)
    folders = [hour_folder(root, t) for t in hours_between(start, end)]
    return [f for f in folders if fs.exists(jvm.org.apache.hadoop.fs.Path(f))]


def read_hours(spark: SparkSession, root: str, start: dt.datetime, end: dt.datetime) -> DataFrame:
    """Events of [start, end) from the dataset root (an empty frame when nothing landed yet).

    Reads the hours' folders themselves (no partition filter needed): Spark lists every file
    under the paths it is given before pruning partitions, and the whole dataset grows by the
    hour."""
    folders = landed_folders(spark, root, start, end)
    if not folders:
        return spark.createDataFrame([], raw_schema())
    return spark.read.option("basePath", root).schema(raw_schema()).parquet(*folders)


def raw_schema() -> T.StructType:
    fields = [
        T.StructField("timestamp", T.LongType()),
        T.StructField("id", T.StringType()),
        T.StructField("antenna_id", T.StringType()),
        T.StructField("bytes", T.LongType()),
        T.StructField("app", T.StringType()),
        T.StructField("event_time", T.TimestampType()),
        T.StructField("kafka_partition", T.IntegerType()),
        T.StructField("kafka_offset", T.LongType()),
        T.StructField("kafka_timestamp", T.TimestampType()),
        T.StructField("speed_status", T.StringType()),
        *[T.StructField(c, T.IntegerType()) for c in PARTITION_COLUMNS],
    ]
    return T.StructType(fields)


class Compaction(NamedTuple):
    files_replaced: int
    rows: int  # rows in the compacted file
    copies_dropped: int  # rows landed twice from the same Kafka record


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")


def compact_hour(
    spark: SparkSession,
    root: str,
    hour: dt.datetime,
    before_removing_originals: Callable[[], None] = lambda: None,
) -> Compaction:
    """Rewrite one hour folder's files as one file, without losing a row.

    Rows equal in every column, Kafka partition and offset included, are one Kafka record landed
    twice (a micro-batch replayed after a crash, once an earlier compaction had already merged
    its first landing) and are kept once; a producer's resent copy has its own offset and stays.
    The files present at the start are the ones replaced; a file landed meanwhile (a late event)
    is left alone. Nothing to merge (at most one file) gives Compaction(0, 0, 0).
    """
    folder = hour_folder(root, hour)
    fs, jvm = filesystem(spark, folder)
    hpath = jvm.org.apache.hadoop.fs.Path
    if not fs.exists(hpath(folder)):
        return Compaction(0, 0, 0)
    originals = [f for f in _list_files(fs, jvm, folder) if f.endswith(".parquet")]
    if len(originals) <= 1:
        return Compaction(0, 0, 0)
    frame = spark.read.schema(raw_schema()).parquet(*originals).drop(*PARTITION_COLUMNS)
    landed = frame.count()
    unique = frame.dropDuplicates()
    rows = unique.count()
    # One staging folder per hour, emptied first: what a compaction killed mid-way left there
    # goes with the next compaction of the hour instead of staying forever.
    tmp = f"{root.rstrip('/')}/_staging/compact-{hour:%Y%m%d%H}"
    fs.delete(hpath(tmp), True)
    unique.coalesce(1).write.parquet(tmp)
    written = spark.read.parquet(tmp).count()
    if written != rows:
        fs.delete(hpath(tmp), True)
        raise RuntimeError(
            f"compaction of {folder} wrote {written} rows for {rows}: nothing replaced"
        )
    new_files = [f for f in _list_files(fs, jvm, tmp) if f.endswith(".parquet")]
    # Never an original's name: a compaction right after a killed one (the same second) would
    # otherwise move its file onto the killed one's and then delete it as an original.
    stamp = f"{_stamp()}-{uuid.uuid4().hex[:12]}"
    for i, source in enumerate(new_files):
        _move(fs, jvm, source, f"{folder}/compacted-{stamp}-{i:03d}.parquet")
    # A crash here leaves the hour twice (compacted file + originals): readers count equal
    # events once, and the next compaction keeps one row per Kafka record.
    before_removing_originals()
    for original in originals:
        fs.delete(hpath(original), False)
    fs.delete(hpath(tmp), True)
    return Compaction(len(originals), rows, landed - rows)
