"""The speed layer stays on: records that used to stop it are quarantined and a PostgreSQL
restart is waited out. Real Kafka, PostgreSQL and spark-submit; each test failed before its
fix. (The supervisor that restarts a killed app is exercised by the chaos run, tests/chaos.)"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time

import psycopg
import pytest

from simulator.events import Event, user_id

from .conftest import REPO, wait_until
from .test_speed_layer import bytes_table, expected_windows

pytestmark = pytest.mark.integration

ANTENNA = "00000000-0000-0000-0000-100000000001"
SCRIPTS = REPO / "include" / "scripts"


def on_time_events(n: int, start: int, app: str = "SKYPE") -> list[Event]:
    return [Event(start + i % 50, user_id(1 + i % 5), ANTENNA, 100 + i, app) for i in range(n)]


def send(producer, topic: str, events: list[Event]) -> None:
    for e in events:
        producer.send(topic, e.to_json(), key=e.key())
    producer.flush()


def quarantine_reasons(pg) -> dict[int, str]:
    rows = pg.execute("SELECT kafka_offset, reason FROM quarantine").fetchall()
    return dict(rows)


def test_poison_records_are_quarantined_and_the_stream_goes_on(pg, topic, producer, speed_layer):
    now = int(time.time())
    start = now - now % 300  # on-time events in the current window
    valid = dataclasses.asdict(Event(start, user_id(1), ANTENNA, 10, "SKYPE"))
    poison = [
        b"\x00\x01\x02\xff binary from a broken device",  # NUL bytes: PostgreSQL text refuses them
        json.dumps({**valid, "app": "x\u0000"}).encode(),  # NUL inside a JSON string
        json.dumps({**valid, "bytes": 2**62}).encode(),  # two of these overflow BIGINT
        json.dumps({**valid, "bytes": 2**62 + 1}).encode(),
        json.dumps({**valid, "timestamp": now + 23 * 3600}).encode(),  # clock ahead
        json.dumps({**valid, "app": "A" * 3000}).encode(),  # past the index-row limit
    ]
    speed_layer.start()
    # One partition (one key) so the Kafka offsets follow the send order.
    for p in poison:
        producer.send(topic, p, key=b"k")
    producer.flush()
    wait_until(lambda: len(quarantine_reasons(pg)) == len(poison), 120, "quarantined poison")
    # The watermark did not jump a day ahead: on-time events sent after the poison all count.
    events = on_time_events(100, start)
    send(producer, topic, events)
    expected = expected_windows(events)
    wait_until(lambda: bytes_table(pg) == expected, 120, "on-time totals after the poison")

    assert speed_layer.proc.poll() is None, speed_layer.tail()
    reasons = quarantine_reasons(pg)
    assert [reasons[i] for i in sorted(reasons)] == [
        "invalid_utf8",
        "control_character:app",
        "bytes_too_large",
        "bytes_too_large",
        "future_timestamp",
        "app_too_long",
    ]
    stored = pg.execute("SELECT payload, payload_length FROM quarantine ORDER BY kafka_offset")
    assert [(bytes(p), n) for p, n in stored.fetchall()] == [(p, len(p)) for p in poison]
    assert speed_layer.stop() == 0


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", *args], cwd=REPO, capture_output=True, text=True, timeout=180, check=True
    )


@pytest.mark.fault
def test_postgres_restart_is_waited_out(settings, topic, producer, speed_layer):
    now = int(time.time())
    start = now - now % 300
    first, second, third = (on_time_events(60, start, app) for app in ("A1", "A2", "A3"))
    with psycopg.connect(settings.pg_dsn, autocommit=True) as pg:
        pg.execute("TRUNCATE bytes")
    speed_layer.start()
    send(producer, topic, first)
    with psycopg.connect(settings.pg_dsn, autocommit=True) as pg:
        wait_until(lambda: bytes_table(pg) == expected_windows(first), 120, "first totals")
    try:
        run_script(str(SCRIPTS / "postgres.sh"), "stop")
        send(producer, topic, second)  # micro-batches now fail to write and retry
        time.sleep(10)
    finally:
        run_script(str(SCRIPTS / "postgres.sh"), "start")
    send(producer, topic, third)
    expected = expected_windows(first + second + third)
    with psycopg.connect(settings.pg_dsn, autocommit=True) as pg:
        wait_until(lambda: bytes_table(pg) == expected, 120, "totals after the restart")
    assert speed_layer.proc.poll() is None, speed_layer.tail()
    assert "retrying in" in speed_layer.log.read_text()
    assert speed_layer.stop() == 0
