"""The event simulator without Kafka: generation, ground truth, pacing and the CLI plan."""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
import uuid

import pytest

import simulator.__main__ as cli
from simulator import bench
from simulator.arguments import build_parser, build_plan
from simulator.events import (
    APPS,
    MALFORMED_REASONS,
    Event,
    Generator,
    Message,
    Plan,
    antenna_id,
    generate,
    user_id,
)
from simulator.ground_truth import GroundTruth
from simulator.producer import SimulatorError, connect, send_all
from simulator.producer_config import producer_config

T0 = 1_600_545_600  # 2020-09-19 20:00:00 UTC
MIN_EPOCH = 946_684_800
FIELD_TYPES = {"timestamp": int, "id": str, "antenna_id": str, "bytes": int, "app": str}

MIXED = Plan(
    count=5000,
    start=T0,
    rate=50.0,
    late_rate=0.1,
    late_seconds=600,
    duplicate_rate=0.05,
    malformed_rate=0.03,
    seed=7,
)


def problem(payload: bytes, now: int) -> str | None:
    """What is wrong with a payload, in the simulator's vocabulary (None = a good event)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return "not_json"
    if not isinstance(data, dict):
        return "not_json"
    if any(name not in data for name in FIELD_TYPES):
        return "missing_field"
    for name, kind in FIELD_TYPES.items():
        if type(data[name]) is not kind:
            return "wrong_type"
    if data["bytes"] < 0:
        return "negative_bytes"
    if data["timestamp"] < MIN_EPOCH:
        return "absurd_timestamp"
    if data["timestamp"] > now + 300:
        return "future_timestamp"
    if data["app"] == "":
        return "empty_app"
    return None


def test_ids_are_uuids_and_seed_users_come_first():
    for text in [user_id(1), user_id(20), user_id(123_456), antenna_id(0), antenna_id(4)]:
        assert str(uuid.UUID(text)) == text
    assert user_id(1) == "00000000-0000-0000-0000-000000000001"
    assert user_id(20) == "00000000-0000-0000-0000-000000000020"
    assert antenna_id(0) == "00000000-0000-0000-0000-100000000000"
    ids = {Event.from_json(m.payload).id for m in generate(Plan(count=2000, start=T0, rate=100))}
    assert ids == {user_id(n) for n in range(1, 21)}


def test_same_seed_same_messages_other_seed_other_messages():
    first = list(generate(MIXED))
    assert first == list(generate(MIXED))
    other = list(generate(Plan(**{**MIXED.__dict__, "seed": 8})))
    assert [m.payload for m in first] != [m.payload for m in other]


def test_valid_payload_is_compact_json_matching_event():
    messages = list(generate(Plan(users=50, antennas=7, count=500, start=T0, rate=10, seed=3)))
    antennas = {antenna_id(n) for n in range(7)}
    for m in messages:
        assert m.kind == "valid" and m.reason is None
        data = json.loads(m.payload)
        assert list(data) == ["timestamp", "id", "antenna_id", "bytes", "app"]
        event = Event(**data)
        assert event.to_json() == m.payload
        assert json.dumps(data, separators=(",", ":")).encode() == m.payload
        assert m.key == event.key() == event.id.encode()
        assert 0 <= event.bytes <= 100_000
        assert event.app in APPS
        assert event.antenna_id in antennas
        assert problem(m.payload, T0) is None


def test_event_time_follows_the_rate():
    messages = list(generate(Plan(count=100, start=T0, rate=20, seed=1)))
    stamps = [json.loads(m.payload)["timestamp"] for m in messages]
    assert stamps == [T0 + i // 20 for i in range(100)]
    slow = list(generate(Plan(count=4, start=T0, rate=0.5, seed=1)))
    assert [json.loads(m.payload)["timestamp"] for m in slow] == [T0, T0 + 2, T0 + 4, T0 + 6]


def test_every_malformed_reason_appears_and_is_really_wrong():
    reasons = set()
    for m in generate(MIXED):
        if m.kind == "malformed":
            reasons.add(m.reason)
            assert problem(m.payload, T0 + 3600) == m.reason, m.payload
            m.payload.decode("utf-8")  # ground truth stores payloads as text
            assert m.key is not None
        else:
            assert m.reason is None
            assert problem(m.payload, T0 + 3600) is None
    assert reasons == set(MALFORMED_REASONS)


def test_malformed_reasons_cycle_so_each_run_of_kinds_covers_all():
    plan = Plan(count=200, start=T0, malformed_rate=1.0, seed=11)
    reasons = [m.reason for m in generate(plan) if m.kind == "malformed"]
    assert len(reasons) == 200
    n = len(MALFORMED_REASONS)
    for i in range(0, 200 - n, n):
        assert set(reasons[i : i + n]) == set(MALFORMED_REASONS)


def test_duplicates_are_byte_identical_resends_of_the_previous_event():
    messages = list(generate(MIXED))
    duplicates = 0
    for prev, m in itertools.pairwise(messages):
        if m.kind == "duplicate":
            duplicates += 1
            assert prev.kind in ("valid", "late")
            assert m.payload == prev.payload and m.key == prev.key
    assert duplicates > 0
    assert messages[0].kind != "duplicate"


def test_late_events_are_late_by_late_seconds():
    slot = 0
    late = 0
    for m in generate(MIXED):
        if m.kind not in ("valid", "late"):
            continue
        expected = MIXED.start + int(slot / MIXED.rate)
        stamp = json.loads(m.payload)["timestamp"]
        if m.kind == "late":
            late += 1
            assert stamp == expected - MIXED.late_seconds
        else:
            assert stamp == expected
        slot += 1
    assert slot == MIXED.count
    assert late > 0


def test_distinct_events_never_share_content_even_when_crowded():
    # 2 users x 1 antenna x 5 apps at 2000 events/s: random draws would collide a lot.
    plan = Plan(
        users=2,
        antennas=1,
        count=30_000,
        start=T0,
        rate=2000.0,
        late_rate=0.3,
        late_seconds=5,
        duplicate_rate=0.1,
        seed=5,
    )
    generator = Generator(plan)
    events = [
        m.payload
        for m in generator.phase(plan.start, plan.rate, plan.count)
        if m.kind in ("valid", "late")
    ]
    # A second phase of the same generator (history -> real time) keeps the guarantee.
    later = plan.start + plan.count // int(plan.rate)
    events += [
        m.payload for m in generator.phase(later, plan.rate, 10_000) if m.kind in ("valid", "late")
    ]
    assert len(events) == 40_000
    assert len(set(events)) == len(events)
    contents = {tuple(json.loads(p).values()) for p in events}
    assert len(contents) == len(events)


def test_phase_cannot_go_back_in_time():
    generator = Generator(Plan(start=T0))
    list(generator.phase(T0, 10.0, 100))
    with pytest.raises(ValueError, match="before the last event time"):
        list(generator.phase(T0 - 100, 10.0, 10))


def test_counts_per_kind_follow_the_rates():
    plan = Plan(
        count=20_000,
        start=T0,
        rate=100,
        late_rate=0.1,
        duplicate_rate=0.05,
        malformed_rate=0.02,
        seed=2,
    )
    counts = {"valid": 0, "late": 0, "duplicate": 0, "malformed": 0}
    for m in generate(plan):
        counts[m.kind] += 1
    assert counts["valid"] + counts["late"] == 20_000
    assert counts["late"] == pytest.approx(2000, rel=0.1)
    assert counts["duplicate"] == pytest.approx(1000, rel=0.15)
    assert counts["malformed"] == pytest.approx(400, rel=0.25)


def test_zero_rates_give_only_valid_events_and_count_zero_gives_nothing():
    kinds = {m.kind for m in generate(Plan(count=1000, start=T0, seed=4))}
    assert kinds == {"valid"}
    assert list(generate(Plan(count=0, start=T0))) == []


def test_endless_plan_keeps_going():
    stream = generate(Plan(count=None, start=T0, rate=1000))
    assert sum(1 for _, _ in zip(range(50_000), stream, strict=False)) == 50_000


@pytest.mark.parametrize(
    "bad",
    [
        {"users": 0},
        {"antennas": 0},
        {"rate": 0},
        {"count": -1},
        {"late_rate": 1.5},
        {"malformed_rate": -0.1},
        {"late_seconds": 0},
        {"users": 1, "antennas": 1, "rate": 1e6},
    ],
)
def test_bad_plans_are_refused(bad):
    with pytest.raises(ValueError):
        Generator(Plan(**bad))


def test_ground_truth_round_trips(tmp_path):
    truth = GroundTruth()
    messages = list(generate(MIXED))
    for m in messages:
        truth.add(m)
    path = tmp_path / "truth.jsonl"
    truth.write(path)
    lines = path.read_text().splitlines()
    assert len(lines) == len(messages)
    first = json.loads(lines[0])
    assert {"kind", "reason", "payload"} <= set(first)
    loaded = GroundTruth.load(path)
    assert loaded.records == messages
    assert loaded.counts == truth.counts
    assert sum(truth.counts.values()) == len(messages)
    events = loaded.events()
    assert len(events) == MIXED.count
    assert len(set(events)) == len(events)
    marked = loaded.marked_events()
    assert sum(dup for _, dup in marked) == truth.counts["duplicate"]
    assert len(loaded.events(include_duplicates=True)) == len(marked)


class FakeFuture:
    def __init__(self, error: Exception | None):
        self.error = error

    def add_errback(self, fn):
        if self.error is not None:
            fn(self.error)
        return self


class FakeProducer:
    def __init__(self, fail_every: int = 0):
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.flushed = 0
        self.fail_every = fail_every

    def send(self, topic, value=None, key=None):
        self.sent.append((topic, value, key))
        failing = self.fail_every and len(self.sent) % self.fail_every == 0
        return FakeFuture(RuntimeError("broker said no") if failing else None)

    def flush(self, timeout=None):
        self.flushed += 1

    def close(self, timeout=None):
        self.closed = True


def test_send_all_sends_everything_in_order_and_records_truth():
    messages = list(generate(MIXED))
    producer, truth, lines = FakeProducer(), GroundTruth(), []
    stats = send_all(
        iter(messages), producer, "devices", truth=truth, log=lines.append, progress_every_s=0.0
    )
    assert [(v, k) for _, v, k in producer.sent] == [(m.payload, m.key) for m in messages]
    assert {t for t, _, _ in producer.sent} == {"devices"}
    assert producer.flushed == 1
    assert stats.sent == len(messages) and not stats.interrupted
    assert stats.counts == truth.counts
    assert truth.records == messages
    assert lines and lines[-1].startswith("simulator: sent ")
    assert "msg/s" in stats.summary()


def test_send_all_reports_lost_messages():
    producer = FakeProducer(fail_every=10)
    with pytest.raises(SimulatorError, match="10 of 100 messages were not delivered") as info:
        send_all(generate(Plan(count=100, start=T0)), producer, "devices", log=None)
    assert producer.flushed == 1
    assert info.value.stats is not None and info.value.stats.failed == 10


def test_send_all_paces_events_and_stops_when_asked():
    producer = FakeProducer()
    t0 = time.monotonic()
    stats = send_all(generate(Plan(count=21, start=T0)), producer, "t", target_rate=100.0, log=None)
    assert 0.18 <= time.monotonic() - t0 < 2.0  # event 20 is due 0.2 s after event 0
    assert stats.sent == 21

    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    stats = send_all(
        generate(Plan(count=None, start=T0)), producer, "t", target_rate=50.0, log=None, stop=stop
    )
    assert stats.interrupted
    assert 5 <= stats.sent <= 20
    assert producer.flushed == 2


def test_producer_settings_are_safe_and_never_create_topics():
    config = producer_config("127.0.0.1:19092")
    assert config["acks"] == "all"
    assert config["enable_idempotence"] is True
    assert config["allow_auto_create_topics"] is False
    assert config["max_in_flight_requests_per_connection"] <= 5
    assert config["linger_ms"] == 20 and config["batch_size"] == 256 * 1024
    assert config["compression_type"] in ("lz4", "gzip")
    assert config["retries"] > 1000


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


NOW = T0 + 1234.5  # 20:20:34.5


def test_cli_canonical_realtime_plan():
    plan, phases = build_plan(parse("--seed", "3"), NOW)
    assert (plan.users, plan.antennas, plan.seed) == (20, 5, 3)
    [phase] = phases
    assert phase.start == int(NOW) and phase.rate == 20 and phase.count is None
    assert phase.target_rate == 20
    _, [phase] = build_plan(parse("--duration", "10", "--rate", "50"), NOW)
    assert phase.count == 500


def test_cli_history_covers_whole_hours_then_realtime():
    args = parse(
        "--mode",
        "scale",
        "--users",
        "1000",
        "--antennas",
        "40",
        "--history-hours",
        "2",
        "--count",
        "72000",
        "--realtime",
        "--rate",
        "500",
    )
    plan, (history, live) = build_plan(args, NOW)
    assert (plan.users, plan.antennas) == (1000, 40)
    assert history.start == T0 - 7200 and history.count == 72_000
    assert history.rate == 10.0 and history.target_rate is None
    last = history.start + int((history.count - 1) / history.rate)
    assert T0 - 1 <= last < T0  # the history ends just before the current hour
    assert live.count is None and live.rate == 500 and live.target_rate == 500
    args = parse("--history-hours", "1", "--realtime", "--duration", "60", "--rate", "5")
    _, (history, live) = build_plan(args, NOW)
    assert history.count == 3600 * 5 and live.count == 300
    _, [history] = build_plan(parse("--history-hours", "1"), NOW)
    assert history.count == 3600 * 20 and history.rate == 20


@pytest.mark.parametrize(
    "argv",
    [
        ("--users", "50"),
        ("--realtime",),
        ("--history-hours", "1", "--duration", "5"),
        ("--history-hours", "0.0001"),
        ("--mode", "scale", "--users", "1", "--antennas", "1", "--rate", "1e7"),
    ],
)
def test_cli_refuses_inconsistent_arguments(argv):
    with pytest.raises(SimulatorError):
        build_plan(parse(*argv), NOW)


def test_cli_argument_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        parse("--count", "5", "--duration", "3")
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simulator: error: ")


def test_generation_rate_benchmark_runs():
    assert bench.generation_rate(5000) > 1000


def test_message_defaults():
    assert Message(b"x", None, "malformed").reason is None


def test_cli_end_to_end_with_a_fake_producer(monkeypatch, tmp_path, capsys):
    producer = FakeProducer()
    monkeypatch.setattr(cli, "connect", lambda bootstrap, topic, client_options=None: producer)
    truth_path = tmp_path / "truth.jsonl"
    argv = [
        "--bootstrap",
        "h:1",
        "--topic",
        "devices",
        "--history-hours",
        "1",
        "--count",
        "300",
        "--late-rate",
        "0.1",
        "--duplicate-rate",
        "0.1",
        "--malformed-rate",
        "0.1",
        "--seed",
        "9",
        "--truth",
        str(truth_path),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    truth = GroundTruth.load(truth_path)
    c = truth.counts
    assert out[-1].startswith(
        f"simulator: sent {len(truth)} messages (valid {c['valid']}, late {c['late']}, "
        f"duplicate {c['duplicate']}, malformed {c['malformed']}) in "
    )
    assert out[-1].endswith(" msg/s")
    assert c["valid"] + c["late"] == 300
    assert [v for _, v, _ in producer.sent] == [m.payload for m in truth.records]
    assert producer.closed


def test_cli_errors_are_one_line_and_exit_2(capsys, tmp_path):
    argv = ["--bootstrap", "h:1", "--topic", "t", "--truth", str(tmp_path / "no" / "t.jsonl")]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("simulator: error: --truth")


def test_unreachable_kafka_is_a_clear_error():
    t0 = time.monotonic()
    with pytest.raises(SimulatorError, match=r"Kafka at 127\.0\.0\.1:1 is unreachable"):
        connect("127.0.0.1:1", "devices", bootstrap_timeout_s=1.0)
    assert time.monotonic() - t0 < 10


class _Cluster:
    """The two ClusterMetadata calls a partitioner makes, for a topic with ``n`` partitions."""

    def __init__(self, n: int) -> None:
        self.n = n

    def topics(self) -> set[str]:
        return {"devices"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.n))

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.n))


def test_memoized_partitioner_matches_kafkas_default_partitioning():
    from kafka.partitioner import DefaultPartitioner

    from simulator.producer_config import key_hash_partitioner

    memoized, default = key_hash_partitioner(), DefaultPartitioner()
    keys = [user_id(n).encode() for n in range(500)] * 2  # each key twice: the memo is used
    for n in (1, 4, 7):  # the memo follows the partition count when partitions are added
        cluster = _Cluster(n)
        for key in keys:
            want = default.partition("devices", key, key, b"v", b"v", cluster)
            assert memoized.partition("devices", key, key, b"v", b"v", cluster) == want
    chosen = {memoized.partition("devices", k, k, b"v", b"v", _Cluster(4)) for k in keys}
    assert chosen == {0, 1, 2, 3}
    assert memoized.partition("devices", None, None, b"v", b"v", _Cluster(4)) in range(4)
