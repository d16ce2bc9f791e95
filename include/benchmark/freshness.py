"""Freshness: how long after an event is produced its window total shows it in ``bytes``, with
the speed layer running live under a sustained load.

A load thread sends the simulator's events at ``rate`` per second (event time = now). After a
warm-up (the speed layer's first micro-batches include its JIT warm-up), once a second a probe
event with its own app name (``probe-<n>``) is sent too, and the time of the send
noted; a poller looks the probes not yet seen up in ``bytes`` every 100 ms, by primary key (a
scan of ``bytes`` for them would cost the machine more as the table grows, a load on the speed
layer's two cores that grows with the fleet), and notes when each one's window row appears.
Delay = first seen - sent, p50 / p95 / max over the probes.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from simulator.events import Generator, Plan
from simulator.producer import connect, send_all
from telemetry import config

PROBE_USER = "00000000-0000-0000-0000-00000000f00d"
PROBE_ANTENNA = "00000000-0000-0000-0000-10000000f00d"


@dataclass(frozen=True)
class Freshness:
    target_rate: float
    achieved_rate: float
    seconds: float
    probes_sent: int
    probes_seen: int
    p50: float
    p95: float
    max: float


def visible(conn: psycopg.Connection, windows: dict[str, datetime]) -> list[str]:
    """The probes (app name -> its window's start) whose window row is in ``bytes``, looked up
    by primary key."""
    rows = conn.execute(
        "SELECT id FROM bytes WHERE (timestamp, type, id) IN"
        " (SELECT w, 'app_bytes_total', a FROM unnest(%s::TIMESTAMP[], %s::TEXT[]) AS p(w, a))",
        (list(windows.values()), list(windows)),
    ).fetchall()
    return [app for (app,) in rows]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(
    settings: config.Settings,
    topic: str,
    rate: float,
    seconds: float,
    users: int,
    antennas: int,
    warmup: float = 30.0,
) -> Freshness:
    """Run the load for ``warmup`` + ``seconds``, the probes for the last ``seconds``, against
    a running speed layer on ``topic``."""
    stop = threading.Event()
    sent: dict[str, float] = {}
    windows: dict[str, datetime] = {}  # probe -> its window's start, as bytes keys it
    seen: dict[str, float] = {}
    load_stats = {}

    def load() -> None:
        producer = connect(settings.kafka_bootstrap, topic)
        plan = Plan(users=users, antennas=antennas, start=int(time.time()), rate=rate, seed=11)
        messages = Generator(plan).phase(plan.start, rate, int(rate * (warmup + seconds)))
        try:
            load_stats["stats"] = send_all(
                messages, producer, topic, target_rate=rate, log=None, stop=stop
            )
        finally:
            producer.close(timeout=10)

    def probes() -> None:
        producer = connect(settings.kafka_bootstrap, topic)
        try:
            n = 0
            if stop.wait(warmup):
                return
            while not stop.wait(1.0):
                app, now = f"probe-{uuid.uuid4().hex[:8]}-{n}", int(time.time())
                window = now - now % settings.window_seconds
                windows[app] = datetime.fromtimestamp(window, UTC).replace(tzinfo=None)
                payload = {
                    "timestamp": now,
                    "id": PROBE_USER,
                    "antenna_id": PROBE_ANTENNA,
                    "bytes": 1,
                    "app": app,
                }
                sent[app] = time.perf_counter()
                producer.send(topic, value=json.dumps(payload).encode()).get(timeout=10)
                n += 1
        finally:
            producer.close(timeout=10)

    def poll() -> None:
        with psycopg.connect(settings.as_role("reader").pg_dsn, autocommit=True) as conn:
            while not stop.is_set() or len(seen) < len(sent):
                now = time.perf_counter()
                waiting = [app for app in list(sent) if app not in seen]
                if waiting:
                    for app in visible(conn, {a: windows[a] for a in waiting}):
                        seen.setdefault(app, now)
                if stop.is_set() and now > deadline:
                    break
                time.sleep(0.1)

    deadline = float("inf")
    threads = [threading.Thread(target=f, daemon=True) for f in (load, probes, poll)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    threads[0].join(warmup + seconds + 120)
    elapsed = time.perf_counter() - started
    stop.set()
    deadline = time.perf_counter() + 30  # the last probes get 30 s to show up
    for t in threads[1:]:
        t.join(60)
    delays = [seen[app] - t for app, t in sent.items() if app in seen]
    stats = load_stats.get("stats")
    achieved = stats.sent / stats.elapsed if stats and stats.elapsed else 0.0
    if not delays:
        delays = [float("inf")]
    return Freshness(
        target_rate=rate,
        achieved_rate=achieved,
        seconds=elapsed,
        probes_sent=len(sent),
        probes_seen=len(seen),
        p50=statistics.median(delays),
        p95=_quantile(delays, 0.95),
        max=max(delays),
    )
