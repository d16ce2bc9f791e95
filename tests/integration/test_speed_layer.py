"""The speed layer end to end: simulator events through a real Kafka broker, the app started
with spark-submit, results read back from PostgreSQL and from the Parquet master dataset."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from collections import Counter, defaultdict

import pytest

from simulator.events import MALFORMED_REASONS, Event, Generator, Plan, user_id
from simulator.ground_truth import GroundTruth
from telemetry import raw_store

from .conftest import wait_until

pytestmark = pytest.mark.integration

WINDOW = 300
WATERMARK = 60
METRIC_FIELDS = {
    "antenna_bytes_total": "antenna_id",
    "user_bytes_total": "id",
    "app_bytes_total": "app",
}


def expected_windows(events: list[Event]) -> dict[tuple, int]:
    """Bytes per (5-minute window start, type, key), computed from the ground truth alone."""
    totals: dict[tuple, int] = defaultdict(int)
    for e in set(events):  # equal content = one event
        start = dt.datetime.fromtimestamp(e.timestamp - e.timestamp % WINDOW, dt.UTC)
        for metric, field in METRIC_FIELDS.items():
            totals[(start.replace(tzinfo=None), metric, getattr(e, field))] += e.bytes
    return dict(totals)


def bytes_table(pg) -> dict[tuple, int]:
    rows = pg.execute("SELECT timestamp, type, id, value FROM bytes").fetchall()
    return {(ts, t, i): v for ts, t, i, v in rows}


def antenna_sum(pg) -> int:
    row = pg.execute("SELECT coalesce(sum(value), 0) FROM bytes WHERE type = 'antenna_bytes_total'")
    return row.fetchone()[0]


def window_watermark(pg) -> dt.datetime | None:
    row = pg.execute(
        "SELECT watermark FROM speed_layer_progress WHERE query_name = 'speed_layer'"
    ).fetchone()
    return row[0] if row else None


def send(producer, topic, messages, truth: GroundTruth | None = None) -> None:
    for m in messages:
        producer.send(topic, m.payload, key=m.key)
        if truth is not None:
            truth.add(m)
    producer.flush()


def hour_start(hours_ago: int) -> int:
    now = int(time.time())
    return now - now % 3600 - hours_ago * 3600


def read_raw(spark, root, start: int, hours: int):
    begin = dt.datetime.fromtimestamp(start, dt.UTC).replace(tzinfo=None)
    return raw_store.read_hours(spark, str(root), begin, begin + dt.timedelta(hours=hours))


def test_speed_layer_totals_quarantine_and_parquet(
    pg, topic, producer, speed_layer, speed_layer_env, spark
):
    t0 = hour_start(3)
    truth = GroundTruth()
    generator = Generator(Plan(seed=7, duplicate_rate=0.05, malformed_rate=0.03))
    # Phase 1, sent before the app starts: 20 minutes of event time, with duplicates and every
    # kind of malformed record. One micro-batch sees it all: the watermark becomes t0 + 18:59.
    send(producer, topic, generator.phase(t0, 1.0, 1200), truth)
    on_time = truth.events()
    speed_layer.start()
    wait_until(lambda: antenna_sum(pg) == sum(e.bytes for e in set(on_time)), 180, "phase 1 totals")
    # Spark drops a row as late by the watermark of the *previous* micro-batch, so phase 2 waits
    # for the empty batch that carries the new watermark; sent earlier, the late events would
    # still be counted (seen in CI on a loaded machine).
    watermark = dt.datetime.fromtimestamp(t0 + 19 * 60 - 1, dt.UTC).replace(tzinfo=None)
    wait_until(lambda: window_watermark(pg) == watermark, 60, f"watermark {watermark}")

    # Phase 2, one key so one partition and a fixed order: a late event beyond the watermark
    # (its window closed), resent copies of recent events, then late events within it.
    user = user_id(3)
    antenna = "00000000-0000-0000-0000-100000000001"
    beyond = [Event(t0 + 300 + i, user, antenna, 1000 + i, "SKYPE") for i in range(3)]
    recent = [e for e in on_time if e.timestamp >= t0 + 19 * 60 + 10][:3]
    within = [Event(t0 + 19 * 60 + 20 + i, user, antenna, 500 + i, "TELEGRAM") for i in range(3)]
    phase2 = [*beyond, *recent, *within]
    for e in phase2:
        producer.send(topic, e.to_json(), key=user.encode())
    producer.send(topic, b"{broken", key=user.encode())
    producer.flush()

    expected = expected_windows(on_time + within)
    wait_until(lambda: bytes_table(pg) == expected, 120, "phase 2 totals")
    time.sleep(3)  # a few more triggers: nothing else may arrive
    assert bytes_table(pg) == expected
    assert len(recent) == 3 and len(expected) > 50

    # Quarantine: every malformed record, with a reason of the kind the simulator injected.
    malformed = [m for m in _truth_lines(truth) if m["kind"] == "malformed"]
    wait_until(
        lambda: pg.execute("SELECT count(*) FROM quarantine").fetchone()[0] == len(malformed) + 1,
        60,
        "quarantine rows",
    )
    rows = pg.execute(
        "SELECT payload, reason, kafka_topic, kafka_partition, kafka_offset FROM quarantine"
    ).fetchall()
    reasons = {bytes(payload).decode(): reason for payload, reason, *_ in rows}
    for m in malformed:
        assert reasons[m["payload"]].split(":")[0] == m["reason"], m
    assert reasons["{broken"] == "not_json"
    assert {r[2] for r in rows} == {topic}
    assert {m["reason"] for m in malformed} == set(MALFORMED_REASONS)

    # Parquet: exactly the valid messages (copies and late ones included), each in its hour.
    raw = read_raw(spark, speed_layer_env["LAMBDA_RAW_DIR"], t0, 1).collect()
    sent_valid = [
        Event.from_json(m["payload"]) for m in _truth_lines(truth) if m["kind"] != "malformed"
    ] + phase2
    assert len(raw) == len(sent_valid)
    assert Counter(Event(r.timestamp, r.id, r.antenna_id, r.bytes, r.app) for r in raw) == Counter(
        sent_valid
    )
    assert len({(r.kafka_partition, r.kafka_offset) for r in raw}) == len(raw)
    for r in raw:
        event_time = dt.datetime.fromtimestamp(r.timestamp, dt.UTC)
        assert (r.year, r.month, r.day, r.hour) == (
            event_time.year,
            event_time.month,
            event_time.day,
            event_time.hour,
        )
    assert speed_layer.stop() == 0
    assert "stopped cleanly" in speed_layer.log.read_text()


def _truth_lines(truth: GroundTruth) -> list[dict]:
    out = io.StringIO()
    truth.write_to(out)
    return [json.loads(line) for line in out.getvalue().splitlines()]
