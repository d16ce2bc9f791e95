"""The Parquet master dataset on a local folder: landing per micro-batch, replays, compaction."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from telemetry import raw_store, transforms

HOUR = dt.datetime(2026, 11, 27, 10)
T0 = int(HOUR.replace(tzinfo=dt.UTC).timestamp())
USER = "00000000-0000-0000-0000-000000000001"
ANTENNA = "00000000-0000-0000-0000-100000000001"
SCHEMA = (
    "timestamp long, id string, antenna_id string, bytes long, app string,"
    " kafka_partition int, kafka_offset long, kafka_timestamp long"
)


def batch(spark, offsets: range, resent_of: int | None = None):
    """Events at Kafka offsets; ``resent_of`` adds a producer's resent copy of that offset's event
    (same content, its own offset)."""
    rows = [(T0 + o, USER, ANTENNA, 100 + o, "SKYPE", 0, o, T0 + o) for o in offsets]
    if resent_of is not None:
        o = resent_of
        rows.append((T0 + o, USER, ANTENNA, 100 + o, "SKYPE", 0, 10_000 + o, T0 + o + 1))
    return (
        spark.createDataFrame(rows, SCHEMA)
        .withColumn("kafka_timestamp", F.timestamp_seconds("kafka_timestamp"))
        .transform(transforms.with_event_time)
    )


def hour_rows(spark, root) -> list:
    frame = raw_store.read_hours(spark, str(root), HOUR, HOUR + dt.timedelta(hours=1))
    return sorted(frame.select("kafka_offset").collect())


def hour_files(root) -> list[str]:
    folder = root / "year=2026" / "month=11" / "day=27" / "hour=10"
    return sorted(p.name for p in folder.glob("*.parquet"))


def test_a_replayed_batch_replaces_its_own_files(spark, tmp_path):
    raw_store.land_batch(batch(spark, range(0, 3)), str(tmp_path), 0)
    raw_store.land_batch(batch(spark, range(0, 3)), str(tmp_path), 0)
    assert len(hour_rows(spark, tmp_path)) == 3
    assert all(name.startswith("batch-0000000000-") for name in hour_files(tmp_path))


def test_a_reset_checkpoint_never_replaces_older_files_under_the_same_batch_id(spark, tmp_path):
    """A new checkpoint numbers its batches from 0 again: its batch 0 holds other offsets than
    the old batch 0, whose files are not yet compacted, and both must stay."""
    raw_store.land_batch(batch(spark, range(0, 3)), str(tmp_path), 0)
    raw_store.land_batch(batch(spark, range(3, 6)), str(tmp_path), 0)
    assert [r.kafka_offset for r in hour_rows(spark, tmp_path)] == list(range(6))


def test_compaction_keeps_every_row_and_drops_a_replay_that_came_after_it(spark, tmp_path):
    root = str(tmp_path)
    raw_store.land_batch(batch(spark, range(0, 3)), root, 0)
    raw_store.land_batch(batch(spark, range(3, 5), resent_of=1), root, 1)
    first = raw_store.compact_hour(spark, root, HOUR)
    assert first.rows == 6 and first.copies_dropped == 0  # the resent copy is a row of its own
    assert len(hour_files(tmp_path)) == 1 and hour_files(tmp_path)[0].startswith("compacted-")

    # Batch 1 replayed after a crash, after the compaction merged its first landing.
    raw_store.land_batch(batch(spark, range(3, 5), resent_of=1), root, 1)
    assert len(hour_rows(spark, tmp_path)) == 9
    files = hour_files(tmp_path)
    second = raw_store.compact_hour(spark, root, HOUR)
    assert (second.files_replaced, second.rows, second.copies_dropped) == (len(files), 6, 3)
    offsets = [r.kafka_offset for r in hour_rows(spark, tmp_path)]
    assert offsets == [0, 1, 2, 3, 4, 10_001]
    assert raw_store.compact_hour(spark, root, HOUR) == (0, 0, 0)  # one file: nothing to do


def test_a_compaction_killed_mid_way_is_finished_by_the_next_one(spark, tmp_path):
    """Killed between moving the compacted file in and removing the originals (the chaos run's
    failpoint): the next compaction leaves one file, every row once and no staging folder."""
    root = str(tmp_path)
    raw_store.land_batch(batch(spark, range(0, 3)), root, 0)
    raw_store.land_batch(batch(spark, range(3, 5)), root, 1)
    originals = len(hour_files(tmp_path))

    class KilledError(Exception):
        pass

    def kill() -> None:
        raise KilledError

    try:
        raw_store.compact_hour(spark, root, HOUR, before_removing_originals=kill)
    except KilledError:
        pass
    assert len(hour_files(tmp_path)) == originals + 1  # the compacted file and the originals
    done = raw_store.compact_hour(spark, root, HOUR)
    assert (done.files_replaced, done.rows, done.copies_dropped) == (originals + 1, 5, 5)
    assert [r.kafka_offset for r in hour_rows(spark, tmp_path)] == [0, 1, 2, 3, 4]
    assert list((tmp_path / "_staging").glob("*")) == []


def test_a_compaction_in_the_same_second_as_a_killed_one_keeps_every_row(
    spark, tmp_path, monkeypatch
):
    """The killed compaction's file and the next one's were both named after the second they
    ran in: within one second the second moved its file onto the first's, then deleted it as an
    original, and the hour was empty (seen once in CI)."""
    monkeypatch.setattr(raw_store, "_stamp", lambda: "20261206T120000")
    root = str(tmp_path)
    raw_store.land_batch(batch(spark, range(0, 3)), root, 0)
    raw_store.land_batch(batch(spark, range(3, 5)), root, 1)

    def kill() -> None:
        raise InterruptedError

    with pytest.raises(InterruptedError):
        raw_store.compact_hour(spark, root, HOUR, before_removing_originals=kill)
    raw_store.compact_hour(spark, root, HOUR)
    assert [r.kafka_offset for r in hour_rows(spark, tmp_path)] == [0, 1, 2, 3, 4]
    assert len(hour_files(tmp_path)) == 1
