"""The speed layer in the field's conditions, live (event times near now, broker times real):
a device clock minutes ahead, a backlog several micro-batches long, a topic recreated behind
the offsets PostgreSQL holds. Real Kafka, PostgreSQL and spark-submit; each failed before its
fix."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import time

import pytest
from kafka.admin import KafkaAdminClient

from simulator.events import Event, user_id
from telemetry.kafka_topics import new_topic

from .conftest import REPO, wait_until
from .test_always_on import ANTENNA, send
from .test_speed_layer import bytes_table, expected_windows, window_watermark

pytestmark = pytest.mark.integration

CAP = 1000  # LAMBDA_MAX_OFFSETS_PER_TRIGGER for this test
BACKLOG = 4500
APPLIED = re.compile(r"batch (\d+) applied: (\d+) records")


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


def applied_batches(log: str) -> list[int]:
    """Records per applied micro-batch, in order (the speed layer's log)."""
    return [int(n) for _, n in APPLIED.findall(log)]


def test_fast_clock_backlog_and_recreated_topic(
    pg, settings, topic, producer, speed_layer, speed_layer_env
):
    speed_layer.env["LAMBDA_MAX_OFFSETS_PER_TRIGGER"] = str(CAP)
    now = int(time.time())
    # One device 4 minutes ahead (the future limit is 5): first in its partition, so it is in
    # the first micro-batch. Then a backlog of the fleet, on time, several batches long.
    fast = Event(now + 240, user_id(9), ANTENNA, 7, "SKYPE")
    fleet = [
        Event(now - 30 + i % 20, user_id(1 + i % 50), ANTENNA, 100 + i % 1000, f"APP{i % 7}")
        for i in range(BACKLOG)
    ]
    send(producer, topic, [fast])
    send(producer, topic, fleet)
    sent_at = time.time()
    speed_layer.start()
    expected = expected_windows([fast, *fleet])
    wait_until(lambda: bytes_table(pg) == expected, 180, "every event counted, none late")

    # The watermark follows broker time, not the fast clock.
    watermark = window_watermark(pg)
    assert watermark is not None and watermark <= utc(sent_at + 5 - 60), watermark

    # The backlog drained in bounded micro-batches, and the speed layer said how far behind.
    sizes = applied_batches(speed_layer.log.read_text())
    assert sum(sizes) == BACKLOG + 1 and max(sizes) <= CAP and len(sizes) >= 5, sizes
    assert re.search(r"[1-9]\d* records behind", speed_layer.log.read_text())
    wait_until(
        lambda: pg.execute("SELECT offsets_behind FROM speed_layer_progress").fetchone()[0] == 0,
        30,
        "offsets_behind 0 once drained",
    )
    landed = pg.execute("SELECT sum(events) FROM landed_hours").fetchone()[0]
    assert landed == BACKLOG + 1
    assert speed_layer.stop() == 0

    # The topic deleted and recreated with fewer records than were applied: the speed layer
    # refuses to start (it would skip the new records as applied) and says what to do.
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.delete_topics([topic])
    wait_until(lambda: topic not in admin.list_topics(), 60, "topic deleted")
    for _ in range(30):  # the broker needs a moment before the name can be used again
        try:
            admin.create_topics([new_topic(topic, settings)])
            break
        except Exception:  # noqa: BLE001 (TopicAlreadyExistsError while it is being deleted)
            time.sleep(1)
    admin.close()
    newer = [Event(now + i, user_id(2), ANTENNA, 5, "NEW") for i in range(10)]
    send(producer, topic, newer)
    refused = subprocess.run(
        ["bash", str(REPO / "include/scripts/spark_submit.sh"), "spark_apps/speed_layer.py"],
        cwd=REPO,
        env=speed_layer.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = refused.stdout + refused.stderr
    assert refused.returncode == 3, said[-3000:]
    assert "recreated" in said and "forget-offsets" in said, said[-3000:]

    # The documented way on: forget the offsets (and the checkpoint), start again.
    subprocess.run(
        ["bash", str(REPO / "include/scripts/speed_layer.sh"), "forget-offsets"],
        cwd=REPO,
        env=speed_layer.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    speed_layer.start()
    expected = expected_windows([fast, *fleet, *newer])
    wait_until(lambda: bytes_table(pg) == expected, 120, "the new topic's records counted")
    assert speed_layer.stop() == 0
