"""Fuzzing through the real services: a few thousand hostile and valid payloads from the unit
fuzz generators (seeded) through a Kafka topic into the speed layer started with spark-submit.
The stream must survive all of them; every valid event must be counted once and landed in
Parquet, every other record quarantined with the reason the model gives."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict

import pytest

from telemetry.schema import EVENT_FIELDS, ValidationRules
from tests.unit import fuzz_payloads, validation_model

from .conftest import wait_until
from .test_speed_layer import METRIC_FIELDS, bytes_table, read_raw

pytestmark = pytest.mark.integration

PER_KIND = {kind: 200 for kind in fuzz_payloads.KINDS} | {"empty": 100}
WINDOW = 300  # the speed layer's default 5-minute windows
RECENT = 20 * 60  # valid events are at most this old: well inside the 30-minute watermark


def utc(epoch_seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).replace(tzinfo=None)


def expected_windows(events: list[tuple]) -> dict[tuple, int]:
    totals: dict[tuple, int] = defaultdict(int)
    for event in set(events):  # equal content = one event
        fields = dict(zip(EVENT_FIELDS, event, strict=True))
        start = utc(fields["timestamp"] - fields["timestamp"] % WINDOW)
        for metric, field in METRIC_FIELDS.items():
            totals[(start, metric, fields[field])] += fields["bytes"]
    return dict(totals)


def test_fuzzed_payloads_through_kafka_and_the_speed_layer(
    settings, pg, topic, producer, speed_layer, speed_layer_env, spark
):
    rules = ValidationRules.from_settings(settings)
    speed_layer.env["LAMBDA_WATERMARK"] = "30 minutes"  # nothing sent here is ever late
    now = int(time.time())
    drawn = fuzz_payloads.draw_payloads(
        fuzz_payloads.Frame(kafka_epoch=now, oldest=now - RECENT), PER_KIND
    )
    sent = [
        (kind, payload, producer.send(topic, payload, key=f"device-{i % 7}".encode()))
        for i, (kind, payload) in enumerate(drawn)
    ]
    producer.flush()
    # The topic stamps records with the broker's clock: the model needs that time per record.
    records = {}
    for kind, payload, future in sent:
        meta = future.get(timeout=60)
        outcome = validation_model.expected(payload, meta.timestamp // 1000, rules)
        records[(meta.partition, meta.offset)] = (kind, payload, meta.timestamp, outcome)
    valid = {coords: r for coords, r in records.items() if r[3].reason is None}
    rejected = {coords: r for coords, r in records.items() if r[3].reason is not None}
    kinds = Counter(kind for kind, *_ in records.values())
    print(f"\n{len(records)} records, {len(valid)} valid; by kind: {dict(kinds)}")
    assert len(records) >= 2_500 and len(kinds) >= 12 and len(valid) >= 500
    assert all(r[3].event[0] >= now - RECENT for r in valid.values())

    started = time.monotonic()
    speed_layer.start()
    expected = expected_windows([r[3].event for r in valid.values()])
    wait_until(lambda: bytes_table(pg) == expected, 300, "window totals of the valid events")
    quarantined = lambda: pg.execute("SELECT count(*) FROM quarantine").fetchone()[0]  # noqa: E731
    wait_until(lambda: quarantined() == len(rejected), 120, "every rejected record quarantined")
    print(f"processed in {time.monotonic() - started:.0f}s after the app started")

    # Quarantine: every row readable, each record once, with the model's reason and its bytes.
    rows = pg.execute(
        "SELECT kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason, payload,"
        " payload_length FROM quarantine"
    ).fetchall()
    assert len(rows) == len(rejected)
    wrong = []
    for topic_name, partition, offset, kafka_ts, reason, payload, length in rows:
        kind, sent_payload, ts_ms, outcome = rejected[(partition, offset)]
        stored = None if payload is None else bytes(payload)
        want = None if sent_payload is None else sent_payload[: rules.max_payload_bytes]
        if (topic_name, reason, stored, length, kafka_ts) != (
            topic,
            outcome.reason,
            want,
            len(sent_payload or b""),
            utc(ts_ms / 1000),
        ):
            wrong.append((kind, sent_payload, reason, outcome.reason))
    assert not wrong, f"{len(wrong)} quarantine rows differ, e.g. {wrong[:5]}"
    print("quarantined:", dict(Counter(r[4] for r in rows).most_common()))

    # Parquet: exactly the valid records, each with its Kafka coordinates.
    oldest = min(r[3].event[0] for r in valid.values())
    raw = read_raw(spark, speed_layer_env["LAMBDA_RAW_DIR"], oldest - oldest % 3600, 3).collect()
    landed = [(*(r[f] for f in EVENT_FIELDS), r.kafka_partition, r.kafka_offset) for r in raw]
    assert Counter(landed) == Counter((*r[3].event, *coords) for coords, r in valid.items())

    # A few more triggers: nothing changes, and the stream is still up with no failed query.
    time.sleep(3)
    assert bytes_table(pg) == expected and quarantined() == len(rejected)
    assert speed_layer.proc.poll() is None, speed_layer.tail()
    log = speed_layer.log.read_text(errors="replace")
    assert "terminated" not in log and "query failed" not in log, speed_layer.tail()
    assert speed_layer.stop() == 0
    assert "stopped cleanly" in speed_layer.log.read_text()
