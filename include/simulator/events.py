"""Seeded, deterministic generation of device telemetry events (pure: no I/O, no Kafka).

One event is one JSON object per Kafka message, keyed by the device id::

    {"timestamp":1600545287,"id":"00000000-0000-0000-0000-000000000001",
     "antenna_id":"00000000-0000-0000-0000-100000000000","bytes":9082,"app":"SKYPE"}

The stream mixes four kinds of messages, all decided by ``random.Random(plan.seed)``:

* ``valid``     - a new event at the current event time;
* ``late``      - a new event whose timestamp is ``late_seconds`` behind the current event time;
* ``duplicate`` - a byte-identical resend of the valid/late message emitted just before it;
* ``malformed`` - something the pipeline must reject, ``reason`` tells what is wrong.

Valid and late events occupy the event slots ``i = 0, 1, ...`` of the time series (event ``i``
is at ``start + int(i / rate)``); duplicates and malformed messages are extra messages that take
no slot.  The rates are per event slot: ``late_rate`` is the fraction of slots that are late,
``duplicate_rate`` the chance that an event is resent, ``malformed_rate`` the chance that a
malformed message is inserted before a slot.

No two distinct events share their full content (id, timestamp, antenna_id, bytes, app):
a per-second set rejects repeats, and valid events carry even byte counts while late events
carry odd ones, so a late event can never collide with the on-time events of the second it
lands in (which were generated long before and are no longer remembered).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

APPS: tuple[str, ...] = ("SKYPE", "FACEBOOK", "WHATSAPP", "FACETIME", "TELEGRAM")
FIELDS: tuple[str, ...] = ("timestamp", "id", "antenna_id", "bytes", "app")
KINDS: tuple[str, ...] = ("valid", "late", "duplicate", "malformed")
MALFORMED_REASONS: tuple[str, ...] = (
    "not_json",
    "missing_field",
    "wrong_type",
    "negative_bytes",
    "absurd_timestamp",
    "future_timestamp",
    "empty_app",
)
MAX_BYTES = 100_000
SEED_USERS = 20
SEED_ANTENNAS = 5


def user_id(n: int) -> str:
    """Device id number ``n`` (1-based); ids 1..20 are the seed users."""
    return f"00000000-0000-0000-0000-{n:012d}"


def antenna_id(n: int) -> str:
    """Antenna id number ``n`` (0-based)."""
    return f"00000000-0000-0000-0000-1{n:011d}"


@dataclass(frozen=True)
class Event:
    timestamp: int
    id: str
    antenna_id: str
    bytes: int
    app: str

    def to_json(self) -> bytes:
        """Compact JSON, fields in the canonical order (identical to the generated payloads)."""
        return (
            f'{{"timestamp":{self.timestamp},"id":"{self.id}","antenna_id":"{self.antenna_id}",'
            f'"bytes":{self.bytes},"app":"{self.app}"}}'
        ).encode()

    def key(self) -> bytes:
        return self.id.encode()

    @classmethod
    def from_json(cls, payload: bytes | str) -> Event:
        data = json.loads(payload)
        return cls(**{name: data[name] for name in FIELDS})


class Message(NamedTuple):
    """One Kafka message: value bytes, key bytes, what it is, and why it is malformed."""

    payload: bytes
    key: bytes | None
    kind: str
    reason: str | None = None


@dataclass(frozen=True)
class Plan:
    """What to generate.  ``count`` = number of event slots (valid + late); None = endless."""

    users: int = SEED_USERS
    antennas: int = SEED_ANTENNAS
    count: int | None = None
    start: int = 1_600_545_600
    rate: float = 20.0
    late_rate: float = 0.0
    late_seconds: int = 600
    duplicate_rate: float = 0.0
    malformed_rate: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be >= 1, got {self.users}")
        if self.antennas < 1:
            raise ValueError(f"antennas must be >= 1, got {self.antennas}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if not self.rate > 0 or math.isinf(self.rate):
            raise ValueError(f"rate must be a positive number of events/s, got {self.rate}")
        if self.late_seconds < 1:
            raise ValueError(f"late_seconds must be >= 1, got {self.late_seconds}")
        if self.start < 0:
            raise ValueError(f"start must be an epoch second >= 0, got {self.start}")
        for name in ("late_rate", "duplicate_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        _check_capacity(self.users, self.antennas, self.rate)


def _check_capacity(users: int, antennas: int, rate: float) -> None:
    # Distinct contents available per second and parity: keep the redraw loop short.
    per_second = users * antennas * len(APPS) * (MAX_BYTES // 2)
    if math.ceil(rate) > per_second // 4:
        raise ValueError(
            f"rate {rate} events/s is too high for {users} users x {antennas} antennas: "
            f"at most {per_second // 4} distinct events fit in one second"
        )


class Generator:
    """Stateful generator: several phases (e.g. history replay, then real time) share one
    random stream, one malformed-reason cycle and one uniqueness memory."""

    def __init__(self, plan: Plan):
        plan.validate()
        self.plan = plan
        self._rng = random.Random(plan.seed)
        self._users = [user_id(n) for n in range(1, plan.users + 1)]
        self._keys = [u.encode() for u in self._users]
        self._antennas = [antenna_id(n) for n in range(plan.antennas)]
        self._reason_index = self._rng.randrange(len(MALFORMED_REASONS))
        self._seen_ts = -1  # second of the on-time events remembered in _seen
        self._seen: set[int] = set()
        self._late_ts = -1
        self._late_seen: set[int] = set()

    def phase(self, start: int, rate: float, count: int | None) -> Iterator[Message]:
        """Messages for ``count`` event slots (None = endless) from event time ``start``."""
        plan = self.plan
        if start < self._seen_ts:
            raise ValueError(f"phase start {start} is before the last event time {self._seen_ts}")
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        _check_capacity(plan.users, plan.antennas, rate)
        rnd = self._rng.random
        users, keys, antennas, apps = self._users, self._keys, self._antennas, APPS
        n_users, n_antennas, n_apps = len(users), len(antennas), len(apps)
        half = MAX_BYTES // 2 + 1  # even values 0..MAX_BYTES
        late_half = MAX_BYTES // 2  # odd values 1..MAX_BYTES-1
        late_rate, late_seconds = plan.late_rate, plan.late_seconds
        dup_rate, bad_rate = plan.duplicate_rate, plan.malformed_rate
        inv_rate = 1.0 / rate
        slots = itertools.count() if count is None else range(count)
        for i in slots:
            ts = start + int(i * inv_rate)
            if bad_rate and rnd() < bad_rate:
                yield self._malformed(ts)
            late = late_rate and rnd() < late_rate
            if late:
                ts -= late_seconds
                if ts != self._late_ts:
                    self._late_ts = ts
                    self._late_seen = set()
                seen = self._late_seen
                kind = "late"
            else:
                if ts != self._seen_ts:
                    self._seen_ts = ts
                    self._seen = set()
                seen = self._seen
                kind = "valid"
            u = int(rnd() * n_users)
            a = int(rnd() * n_antennas)
            p = int(rnd() * n_apps)
            base = ((u * n_antennas + a) * n_apps + p) * (MAX_BYTES + 1)
            while True:
                b = int(rnd() * late_half) * 2 + 1 if late else int(rnd() * half) * 2
                if base + b not in seen:
                    seen.add(base + b)
                    break
            payload = (
                f'{{"timestamp":{ts},"id":"{users[u]}","antenna_id":"{antennas[a]}",'
                f'"bytes":{b},"app":"{apps[p]}"}}'
            ).encode()
            key = keys[u]
            yield Message(payload, key, kind, None)
            if dup_rate and rnd() < dup_rate:
                yield Message(payload, key, "duplicate", None)

    def _malformed(self, ts: int) -> Message:
        rng = self._rng
        reason = MALFORMED_REASONS[self._reason_index]
        self._reason_index = (self._reason_index + 1) % len(MALFORMED_REASONS)
        u = rng.randrange(len(self._users))
        record: dict[str, object] = {
            "timestamp": ts,
            "id": self._users[u],
            "antenna_id": rng.choice(self._antennas),
            "bytes": rng.randint(0, MAX_BYTES),
            "app": rng.choice(APPS),
        }
        if reason == "not_json":
            text = json.dumps(record, separators=(",", ":"))
            payload = text[: rng.randrange(1, len(text) - 1)].encode()
            if rng.random() < 0.25:
                payload = b"device " + self._keys[u] + b" says hello"
            return Message(payload, self._keys[u], "malformed", reason)
        if reason == "missing_field":
            del record[rng.choice(FIELDS)]
        elif reason == "wrong_type":
            field = rng.choice(("timestamp", "bytes", "id", "app"))
            record[field] = {
                "timestamp": "yesterday",
                "bytes": "lots",
                "id": 42,
                "app": ["SKYPE"],
            }[field]
        elif reason == "negative_bytes":
            record["bytes"] = -rng.randint(1, MAX_BYTES)
        elif reason == "absurd_timestamp":
            record["timestamp"] = rng.randint(0, 946_684_799)  # before 2000-01-01
        elif reason == "future_timestamp":  # a device clock a week or a century ahead
            record["timestamp"] = ts + rng.choice((7, 100 * 365)) * 86_400
        elif reason == "empty_app":
            record["app"] = ""
        payload = json.dumps(record, separators=(",", ":")).encode()
        return Message(payload, self._keys[u], "malformed", reason)


def generate(plan: Plan) -> Iterator[Message]:
    """All messages of ``plan``: ``plan.count`` event slots from ``plan.start`` at ``plan.rate``."""
    return Generator(plan).phase(plan.start, plan.rate, plan.count)
