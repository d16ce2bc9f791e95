"""The speed layer's verdicts, its executor-side duplicate state and its batch summary, on small
DataFrames (local Spark, no services): telemetry.speed."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from telemetry import raw_store, transforms
from telemetry.speed import verdicts
from telemetry.speed.seen_keys import SeenKeys, release, state_was_lost
from telemetry.speed.summary import BatchSummary, summarize

T0 = 1_600_545_000  # 2020-09-19 19:50:00 UTC
DELAY = 60
USER = "00000000-0000-0000-0000-000000000001"
ANTENNA = "00000000-0000-0000-0000-100000000000"
SCHEMA = (
    "timestamp long, id string, antenna_id string, bytes long, app string, kafka_topic string,"
    " kafka_partition int, kafka_offset long, kafka_timestamp long, reason string"
)


def records(spark, rows):
    """rows: (partition, offset, event time, bytes[, broker time[, reason]]); equal (time,
    bytes) = equal content. Broker time defaults to the event time."""
    full = []
    for r in rows:
        p, o, ts, nbytes = r[:4]
        broker = r[4] if len(r) > 4 else ts
        reason = r[5] if len(r) > 5 else None
        full.append((ts, USER, ANTENNA, nbytes, "SKYPE", "devices", p, o, broker, reason))
    return (
        spark.createDataFrame(full, SCHEMA)
        .withColumn("kafka_timestamp", F.timestamp_seconds("kafka_timestamp"))
        .withColumn("payload", F.when(F.col("reason").isNotNull(), F.lit(b"{")))
        .withColumn("payload_length", F.lit(1))
        .transform(transforms.with_content_key)
    )


class Layer:
    """What MicroBatchWriter does with the verdicts, without Kafka, Parquet or PostgreSQL."""

    def __init__(self, spark, seen=None, max_event_time=None):
        self.spark, self.max_event_time = spark, max_event_time
        self.seen = seen if seen is not None else spark.createDataFrame([], verdicts.STATE_SCHEMA)

    @property
    def watermark(self):
        return None if self.max_event_time is None else self.max_event_time - DELAY

    def judge(self, frame):
        return frame.transform(verdicts.judge(self.seen, self.watermark))

    def run(self, spark_rows):
        judged = self.judge(records(self.spark, spark_rows)).cache()
        events = judged.transform(verdicts.batch_events)
        statuses = {(r.kafka_partition, r.kafka_offset): r.speed_status for r in events.collect()}
        bounded = events.agg(F.max(verdicts.bounded_time())).first()[0]
        self.max_event_time = max(t for t in (bounded, self.max_event_time) if t is not None)
        self.seen = judged.transform(verdicts.kept_keys(self.watermark)).localCheckpoint()
        return statuses


def test_first_batch_has_no_watermark_and_drops_copies_in_offset_order(spark):
    layer = Layer(spark)
    got = layer.run([(0, 5, T0, 7), (0, 3, T0, 7), (1, 0, T0 - 3600, 8)])
    assert got == {(0, 3): "counted", (0, 5): "duplicate", (1, 0): "counted"}
    assert layer.max_event_time == T0 and layer.watermark == T0 - DELAY


def test_verdicts_use_the_watermark_before_the_batch_and_the_keys_counted(spark):
    layer = Layer(spark)
    layer.run([(0, 0, T0, 1)])
    got = layer.run([(0, 1, T0 - 61, 2), (0, 2, T0 - 60, 3), (0, 3, T0, 1), (0, 4, T0 + 500, 4)])
    assert got == {(0, 1): "late", (0, 2): "counted", (0, 3): "duplicate", (0, 4): "counted"}
    assert layer.watermark == T0 + 440


def test_a_late_copy_is_late_and_an_on_time_copy_after_it_is_still_counted(spark):
    layer = Layer(spark, max_event_time=T0 + DELAY)  # watermark T0
    got = layer.run([(0, 0, T0 - 5, 9), (0, 1, T0 - 5, 9), (0, 2, T0, 9), (0, 3, T0, 9)])
    assert got == {(0, 0): "late", (0, 1): "late", (0, 2): "counted", (0, 3): "duplicate"}


def test_keys_behind_the_watermark_are_forgotten(spark):
    layer = Layer(spark)
    layer.run([(0, i, T0 + i, 100 + i) for i in range(30)])
    assert layer.seen.count() == 30
    layer.run([(0, 30, T0 + DELAY + 20, 999)])  # watermark T0 + 20
    assert layer.seen.count() == 31 - 20
    assert layer.seen.agg(F.min("timestamp")).first()[0] == T0 + 20


def test_a_device_clock_ahead_is_counted_but_does_not_move_the_watermark_past_broker_time(spark):
    """One device 4 minutes ahead (within the 300 s future limit) must not make the fleet's
    on-time events late: its event moves the watermark by its broker time, not its clock."""
    layer = Layer(spark)
    assert layer.run([(0, 0, T0 + 240, 1, T0)]) == {(0, 0): "counted"}
    assert layer.watermark == T0 - DELAY
    got = layer.run([(1, i, T0 + i // 100, 10 + i) for i in range(1000)])
    assert set(got.values()) == {"counted"} and len(got) == 1000


def test_a_device_clock_behind_by_more_than_the_delay_is_late(spark):
    layer = Layer(spark)
    layer.run([(0, 0, T0, 1)])
    assert layer.run([(0, 1, T0 - 180, 2, T0 + 1)]) == {(0, 1): "late"}
    assert layer.watermark == T0 - DELAY, "a slow clock never moves the watermark back"


def test_a_state_rebuilt_from_the_landed_parquet_gives_the_same_verdicts(spark, tmp_path):
    live = Layer(spark)
    first = [(0, i, T0 + i % 5, i % 5) for i in range(20)]  # 5 events, 4 copies each
    judged = live.judge(records(spark, first))
    landed = judged.transform(verdicts.batch_events).transform(transforms.with_event_time)
    raw_store.land_batch(landed, str(tmp_path), 0)
    live.run(first)
    seen = SeenKeys(spark, str(tmp_path))
    kept = seen.rebuild(live.watermark, live.max_event_time, {0: 19})
    assert kept == live.seen.count() == 5
    rebuilt = Layer(spark, seen.frame, live.max_event_time)
    replay = [(0, 20 + i, T0 + i % 9, i % 6) for i in range(20)]
    assert live.run(replay) == rebuilt.run(replay)
    assert SeenKeys(spark, str(tmp_path)).rebuild(live.watermark, live.max_event_time, {}) == 0


def test_a_lost_state_is_recognized(spark):
    seen = SeenKeys(spark, "/nonexistent")
    seen.rebuild(None, None, {})
    seen.replace(records(spark, [(0, 0, T0, 1)]).select(*verdicts.KEY_COLUMNS, "timestamp"))
    release(seen.frame)  # what a lost executor does to its blocks
    with pytest.raises(Exception) as lost:
        Layer(spark, seen.frame, T0).judge(records(spark, [(0, 1, T0, 1)])).collect()
    assert state_was_lost(lost.value)
    assert not state_was_lost(ValueError("something else"))


def test_the_summary_holds_offsets_verdicts_reasons_hours_and_window_deltas(spark):
    hour = T0 - T0 % 3600
    frame = records(
        spark,
        [
            (0, 7, T0, 10, T0 + 5),
            (0, 8, T0, 10, T0 + 6),  # a copy
            (1, 3, hour - 1, 20, T0 + 1),  # another hour
            (1, 4, T0, 0, T0 + 9, "not_json"),
            (1, 5, T0, 0, T0 + 9, "not_json"),
            (1, 6, T0, 0, T0 + 9, "bad_bytes"),
        ],
    )
    judged = Layer(spark).judge(frame)
    rows = judged.where(~F.col("_state")).transform(summarize(300)).collect()
    # The window rows are staged in PostgreSQL by the executors (tests/integration/test_pg_stage)
    # and never reach BatchSummary: it refuses them.
    with pytest.raises(ValueError, match="not staged"):
        BatchSummary.of(rows)
    s = BatchSummary.of(r for r in rows if r.kind != "window")
    assert s.ranges == {0: (7, 8), 1: (3, 6)}
    assert s.last_record_times == {0: T0 + 6, 1: T0 + 9}
    assert (s.records, s.valid, s.rejected) == (6, 3, 3)
    assert s.reasons == {"not_json": 2, "bad_bytes": 1}
    assert s.verdicts == {"counted": 2, "duplicate": 1}
    assert s.max_bounded_time == T0
    utc = dict(tzinfo=None)
    as_dt = lambda t: dt.datetime.fromtimestamp(t, dt.UTC).replace(**utc)  # noqa: E731
    assert s.landed_hours == {as_dt(hour): 2, as_dt(hour - 3600): 1}
    antenna = {(r.ts, r.value) for r in rows if r.type == "antenna_bytes_total"}
    assert antenna == {(T0 - T0 % 300, 10), (hour - 300, 20)}
