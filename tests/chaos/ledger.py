"""The chaos run's producer: a steady, seeded stream of events (about 1% hostile payloads) with
a ledger of every record Kafka acknowledged, and the ground truth the checks compare with."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from kafka import KafkaProducer

from simulator.events import Event, user_id

APPS = ("SKYPE", "FACEBOOK", "WHATSAPP", "FACETIME", "TELEGRAM", "'; DROP TABLE bytes; --")
ANTENNAS = [f"00000000-0000-0000-0000-10000000000{i}" for i in range(5)]
HOUR = 3600
# Devices whose clocks are off, by user number: seconds ahead (+) or behind (-) of the stream's
# event time. Within the chaos run's watermark delay (30 minutes): every event still counts.
CLOCK_SKEW = {19: 240, 20: 180, 17: -240, 18: -150}


@dataclass(frozen=True)
class Record:
    """One acknowledged Kafka record: where it is, what it carried, what must become of it."""

    partition: int
    offset: int
    payload: bytes
    event: Event | None  # a valid event, or None
    reason: str | None  # the quarantine reason a hostile payload must get


def hostile(rng: random.Random, valid: Event) -> tuple[bytes, str]:
    """A payload a broken or malicious device could send, with the reason it must be given."""
    base = dataclasses.asdict(valid)
    kinds = [
        (b"\x00\x01\x02\xff\xfe", "invalid_utf8"),
        (b"\x00\x00\x00 NUL and nothing else", "not_json"),
        (b"", "empty_payload"),
        (b'{"timestamp": ', "not_json"),
        (json.dumps({**base, "app": "x\u0000"}).encode(), "control_character:app"),
        (json.dumps({**base, "bytes": 2**62}).encode(), "bytes_too_large"),
        (json.dumps({**base, "bytes": -5}).encode(), "negative_bytes"),
        (json.dumps({**base, "timestamp": int(time.time()) + 86_400}).encode(), "future_timestamp"),
        (json.dumps({k: v for k, v in base.items() if k != "id"}).encode(), "missing_field:id"),
        (json.dumps({**base, "bytes": "9000"}).encode(), "wrong_type:bytes"),
        (json.dumps({**base, "app": "Z" * 5000}).encode(), "payload_too_large"),
    ]
    return rng.choice(kinds)


@dataclass
class Ledger:
    records: list[Record] = field(default_factory=list)
    unacknowledged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def valid_events(self) -> list[Event]:
        return [r.event for r in self.records if r.event is not None]

    def hostile_records(self) -> list[Record]:
        return [r for r in self.records if r.event is None]


class SteadyProducer(threading.Thread):
    """Sends ``rate`` records per second until stopped. Event times walk through two hours from
    ``first_hour`` over ``planned_seconds`` (later ones stay in the last second of it), so the
    batch layer has whole, long-finished hours to compute while faults hit the stream. The
    devices of CLOCK_SKEW report times minutes off (kept inside the two hours); ``burst`` sends
    many records at once (a backlog)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        first_hour: dt.datetime,
        rate: float,
        planned_seconds: float,
        seed: int,
        hostile_share: float = 0.01,
    ) -> None:
        super().__init__(name="chaos-producer", daemon=True)
        self.topic = topic
        self.start_epoch = int(first_hour.replace(tzinfo=dt.UTC).timestamp())
        self.rate = rate
        self.planned = planned_seconds
        self.rng = random.Random(seed)
        self.burst_rng = random.Random(seed + 1)  # used from the harness's thread
        self.began = time.monotonic()
        self.hostile_share = hostile_share
        self.ledger = Ledger()
        self.stopping = threading.Event()
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,  # a resend after a broker restart is not a second record
            linger_ms=20,
            retries=2**31 - 1,
            delivery_timeout_ms=600_000,  # a broker away for minutes is waited for
            request_timeout_ms=10_000,
            reconnect_backoff_max_ms=2_000,
        )

    def _event(self, elapsed: float, rng: random.Random) -> Event:
        user = rng.randint(1, 20)
        offset = int(elapsed / self.planned * 2 * HOUR) + CLOCK_SKEW.get(user, 0)
        return Event(
            self.start_epoch + max(0, min(2 * HOUR - 1, offset)),
            user_id(user),
            rng.choice(ANTENNAS),
            rng.randint(0, 100_000),
            rng.choice(APPS),
        )

    def _acked(self, payload: bytes, event: Event | None, reason: str | None):
        def callback(metadata) -> None:
            record = Record(metadata.partition, metadata.offset, payload, event, reason)
            with self.ledger.lock:
                self.ledger.records.append(record)

        return callback

    def _failed(self, _exc) -> None:
        with self.ledger.lock:
            self.ledger.unacknowledged += 1

    def _send(self, elapsed: float, rng: random.Random) -> None:
        event = self._event(elapsed, rng)
        if rng.random() < self.hostile_share:
            payload, reason = hostile(rng, event)
            event = None
        else:
            payload, reason = event.to_json(), None
        key = (event.id if event else "hostile-device").encode()
        future = self.producer.send(self.topic, payload, key=key)
        future.add_callback(self._acked(payload, event, reason))
        future.add_errback(self._failed)

    def burst(self, n: int) -> None:
        """Send ``n`` records at once (besides the steady stream) and wait for their acks."""
        elapsed = time.monotonic() - self.began
        for _ in range(n):
            self._send(elapsed, self.burst_rng)
        self.producer.flush()

    def run(self) -> None:
        self.began = time.monotonic()
        sent = 0
        while not self.stopping.is_set():
            elapsed = time.monotonic() - self.began
            due = int(elapsed * self.rate)
            while sent < due:
                self._send(elapsed, self.rng)
                sent += 1
            time.sleep(0.01)
        self.producer.flush()
        self.producer.close()


def expected_windows(events: list[Event], seconds: int) -> dict[tuple, int]:
    """Bytes per (window start, type, key); equal events count once (the product's rule)."""
    totals: dict[tuple, int] = defaultdict(int)
    for e in set(events):
        start = dt.datetime.fromtimestamp(e.timestamp - e.timestamp % seconds, dt.UTC)
        start = start.replace(tzinfo=None)
        totals[(start, "antenna_bytes_total", e.antenna_id)] += e.bytes
        totals[(start, "user_bytes_total", e.id)] += e.bytes
        totals[(start, "app_bytes_total", e.app)] += e.bytes
    return dict(totals)
