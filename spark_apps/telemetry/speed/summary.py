"""What the driver learns of a judged micro-batch: aggregates only, from one aggregation.

Each record becomes a few summary rows (its partition's offsets; for a valid event its verdict
and its hour; for a counted one its three window totals), and one ``groupBy`` over them gives
every figure the PostgreSQL commit needs: one shuffle. The window totals, one per device and
window, stay on the executors, which stage them in PostgreSQL (``stage_windows``); the driver
collects the rest, a few rows whatever the fleet's size (``BatchSummary.of``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from telemetry import pg_stage, transforms
from telemetry.hours import utc
from telemetry.schema import COUNTED, DUPLICATE, LATE, METRIC_KEYS
from telemetry.speed.verdicts import bounded_time
from telemetry.transforms import Transform

KEYS = ("kind", "p", "ts", "id", "type")


def _entry(kind: str, **keys: Column) -> Column:
    types = {"p": "int", "ts": "long", "id": "string", "type": "string"}
    return F.struct(
        F.lit(kind).alias("kind"),
        *[keys.get(name, F.lit(None)).cast(types[name]).alias(name) for name in KEYS[1:]],
    )


@functools.cache
def _summary_rows(window_seconds: int) -> Column:
    """The summary rows of one record, built once: a Column is a reusable expression, and
    building this one through py4j took a few hundred milliseconds of every micro-batch."""
    ts, status = F.col("timestamp"), F.col("speed_status")
    valid, counted = status.isNotNull(), status == COUNTED
    entries = [
        _entry("partition", p=F.col("kafka_partition")),
        F.when(valid, _entry("verdict", id=status)),
        F.when(valid, _entry("hour", ts=ts - F.pmod(ts, F.lit(3600)))),
        F.when(F.col("reason").isNotNull(), _entry("reason", id=F.col("reason"))),
    ] + [
        F.when(
            counted,
            _entry(
                "window",
                ts=ts - F.pmod(ts, F.lit(window_seconds)),
                id=F.col(column).cast("string"),
                type=F.lit(metric),
            ),
        )
        for metric, column in METRIC_KEYS.items()
    ]
    return F.explode(F.filter(F.array(*entries), lambda e: e.isNotNull())).alias("e")


@functools.cache
def _summary_aggregates() -> tuple[list[Column], list[Column]]:
    keys = [F.col(f"e.{k}").alias(k) for k in KEYS]
    return keys, [
        F.min("kafka_offset").alias("lo"),
        F.max("kafka_offset").alias("hi"),
        F.max_by("broker_time", "kafka_offset").alias("last_broker_time"),
        F.count(F.lit(1)).alias("rows"),
        transforms.saturating_sum("bytes").alias("value"),
        F.max("bounded").alias("bounded"),
    ]


def summarize(window_seconds: int) -> Transform:
    """A micro-batch's records (valid ones with ``speed_status``, rejected ones with ``reason``)
    -> one row per partition, verdict, quarantine reason, hour landed and window total (type,
    key); columns
    ``KEYS`` + lo, hi, last_broker_time (offsets of partition rows), rows, value (bytes of window
    rows), bounded (largest min(event time, broker time) of verdict rows)."""

    def transform(records: DataFrame) -> DataFrame:
        exploded = records.select(
            _summary_rows(window_seconds),
            "kafka_offset",
            F.unix_seconds("kafka_timestamp").alias("broker_time"),
            "bytes",
            F.when(F.col("speed_status").isNotNull(), bounded_time()).alias("bounded"),
        )
        keys, aggregates = _summary_aggregates()
        return exploded.groupBy(*keys).agg(*aggregates)

    return transform


def stage_windows(target: pg_stage.Target, token: str) -> Transform:
    """A summary (``summarize``) -> its rows but the window totals, which its executors COPY
    into PostgreSQL's staging table under ``token``, and a ``staged`` row per partition with
    the count they staged (``p``: the partition, ``rows``: the count)."""

    def transform(summary: DataFrame) -> DataFrame:
        marked = summary.withColumns(
            {
                "is_window": F.col("kind") == "window",
                "timestamp": F.timestamp_seconds("ts").cast("timestamp_ntz"),
            }
        )
        staged = pg_stage.stage_where(
            marked,
            target,
            token,
            "is_window",
            lambda part, rows: {"kind": "staged", "p": part, "rows": rows},
        )
        return staged.drop("is_window", "timestamp")

    return transform


@dataclass
class BatchSummary:
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition -> offsets
    last_record_times: dict[int, int] = field(default_factory=dict)  # partition -> broker time
    records: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # quarantine reason -> records
    max_bounded_time: int | None = None  # the largest min(event time, broker time)
    landed_hours: dict[dt.datetime, int] = field(default_factory=dict)
    staged_windows: int = 0  # window total rows the executors staged (stage_windows)

    @property
    def valid(self) -> int:
        return sum(self.verdicts.values())

    @property
    def rejected(self) -> int:
        return self.records - self.valid

    def count(self, status: str) -> int:
        return self.verdicts.get(status, 0)

    @classmethod
    def of(cls, rows: Iterable[Row]) -> BatchSummary:
        s = cls()
        for r in rows:
            if r.kind == "partition":
                s.ranges[r.p] = (r.lo, r.hi)
                s.last_record_times[r.p] = r.last_broker_time
                s.records += r.rows
            elif r.kind == "verdict":
                s.verdicts[r.id] = r.rows
                if r.bounded is not None:
                    s.max_bounded_time = max(r.bounded, s.max_bounded_time or r.bounded)
            elif r.kind == "reason":
                s.reasons[r.id] = r.rows
            elif r.kind == "hour":
                s.landed_hours[utc(r.ts)] = r.rows
            elif r.kind == "staged":
                s.staged_windows += r.rows
            else:
                raise ValueError(f"a summary row of kind {r.kind!r}: its windows were not staged")
        return s

    def line(self) -> str:
        return (
            f"{self.records} records, counted {self.count(COUNTED)}, late {self.count(LATE)}, "
            f"duplicate {self.count(DUPLICATE)}, rejected {self.rejected}, "
            f"{self.staged_windows} window rows"
        )
