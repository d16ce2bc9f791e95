"""Freshness under the soak's load, as the benchmark measures it (benchmark.freshness): a probe
event with its own app name once a second, in the ledger like every record, and a poller that
looks the unseen probes up in ``bytes`` by primary key every 100 ms. Each probe keeps its send
time, so the slices take the probes sent in them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from benchmark.freshness import PROBE_ANTENNA, PROBE_USER, visible
from simulator.producer import connect
from telemetry import config

from .ledger import LedgerWriter


@dataclass
class Probe:
    app: str
    window: datetime
    sent_at: float  # wall clock (time.time()), to place it in a slice
    sent_perf: float
    seen_perf: float | None = None

    @property
    def delay(self) -> float:
        return float("inf") if self.seen_perf is None else self.seen_perf - self.sent_perf


class Probes:
    def __init__(self, settings: config.Settings, ledger: LedgerWriter) -> None:
        self.settings, self.ledger = settings, ledger
        self.probes: list[Probe] = []
        self.stop = threading.Event()
        self.closed = False
        self.threads = [
            threading.Thread(target=self._send, name="soak-probes", daemon=True),
            threading.Thread(target=self._poll, name="soak-poller", daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def close(self, grace: float = 60.0) -> None:
        """Stop sending; the last probes get ``grace`` seconds to show up."""
        self.stop.set()
        self.threads[0].join(30)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.seen_perf is None for p in self.probes):
            time.sleep(0.5)
        self.closed = True
        self.threads[1].join(10)

    def _send(self) -> None:
        producer = connect(self.settings.kafka_bootstrap, self.settings.kafka_topic)
        window_seconds = self.settings.window_seconds
        try:
            n = 0
            while not self.stop.wait(1.0):
                now = int(time.time())
                app = f"probe-{uuid.uuid4().hex[:8]}-{n}"
                payload = json.dumps(
                    {
                        "timestamp": now,
                        "id": PROBE_USER,
                        "antenna_id": PROBE_ANTENNA,
                        "bytes": 1,
                        "app": app,
                    }
                ).encode()
                window = datetime.fromtimestamp(now - now % window_seconds, UTC)
                probe = Probe(app, window.replace(tzinfo=None), time.time(), time.perf_counter())
                future = producer.send(self.settings.kafka_topic, value=payload)
                future.add_callback(self.ledger.on_ack("probe", "counted", payload))
                future.add_errback(self.ledger.on_error)
                future.get(timeout=60)
                self.probes.append(probe)
                n += 1
        finally:
            producer.close(timeout=10)

    def _poll(self) -> None:
        reader = self.settings.as_role("reader").pg_dsn
        with psycopg.connect(reader, autocommit=True) as conn:
            while not self.closed:
                waiting = {p.app: p for p in list(self.probes) if p.seen_perf is None}
                if waiting:
                    now = time.perf_counter()
                    for app in visible(conn, {a: p.window for a, p in waiting.items()}):
                        waiting[app].seen_perf = now
                time.sleep(0.1)
