"""The daily compaction and a batch job on the same hour at once (the 23:00 hourly run and the
compaction of its day both start just after midnight): the job must not read the compacted
file beside the originals it replaces, nor lose a file removed under its read."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import threading
import time

import pytest
from pyspark.sql import functions as F

import compact_day
from telemetry import raw_store, transforms

from .conftest import REPO, SUBMIT

pytestmark = pytest.mark.integration

HOUR = dt.datetime(2003, 3, 3, 23)  # an hour no other test uses
T0 = int(HOUR.replace(tzinfo=dt.UTC).timestamp())
USER = "00000000-0000-0000-0000-000000000001"
ANTENNA = "00000000-0000-0000-0000-100000000001"
SCHEMA = (
    "timestamp long, id string, antenna_id string, bytes long, app string,"
    " kafka_partition int, kafka_offset long, kafka_timestamp long, speed_status string"
)


def land(spark, root: str, offsets: range, batch_id: int) -> None:
    rows = [(T0 + o, USER, ANTENNA, 10 + o, "SKYPE", 0, o, T0 + o, "counted") for o in offsets]
    frame = (
        spark.createDataFrame(rows, SCHEMA)
        .withColumn("kafka_timestamp", F.timestamp_seconds("kafka_timestamp"))
        .transform(transforms.with_event_time)
    )
    raw_store.land_batch(frame, root, batch_id)


def waiting_for_a_lock(pg) -> bool:
    found = pg.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone()[0]
    return found > 0


def test_a_batch_job_waits_for_the_compaction_of_its_hour(pg, settings, spark, tmp_path):
    root = str(tmp_path / "raw")
    land(spark, root, range(0, 50), 0)
    land(spark, root, range(50, 100), 1)
    local = dataclasses.replace(settings, raw_dir=root)
    paused = threading.Event()

    def between_moves() -> None:
        """The compacted file is in, the originals not yet removed: hold here until the batch
        job waits on the hour's lock (at most 90 s: without the lock it never does)."""
        paused.set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not waiting_for_a_lock(pg):
            time.sleep(0.2)

    compaction = threading.Thread(
        target=compact_day.compact_hour, args=(spark, local, HOUR, between_moves)
    )
    compaction.start()
    assert paused.wait(60), "the compaction never reached its moves"
    job = subprocess.run(
        ["bash", str(SUBMIT), "spark_apps/batch_hourly.py", "--start", HOUR.isoformat()],
        cwd=REPO,
        env={**os.environ, "LAMBDA_RAW_DIR": root},
        capture_output=True,
        text=True,
        timeout=300,
    )
    compaction.join(120)
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    stats = pg.execute(
        "SELECT events, duplicates, read_from IS NOT NULL FROM batch_hourly_stats"
        " WHERE timestamp = %s",
        (HOUR,),
    ).fetchall()
    assert stats == [(100, 0, True)], "the job read the compacted file and its originals"
    total = pg.execute(
        "SELECT value FROM bytes_hourly WHERE timestamp = %s AND type = 'app_bytes_total'",
        (HOUR,),
    ).fetchone()[0]
    assert total == sum(10 + o for o in range(100))
