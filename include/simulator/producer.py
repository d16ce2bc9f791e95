"""Send generated messages to Kafka with kafka-python: connect, check the topic, pace, report."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from simulator.events import KINDS, Message
from simulator.ground_truth import GroundTruth
from simulator.producer_config import producer_config


class SimulatorError(Exception):
    """A problem the user must fix (Kafka down, topic missing, bad arguments, lost messages).

    ``stats`` holds what was sent when the error happened while sending.
    """

    def __init__(self, message: str, stats: SendStats | None = None):
        super().__init__(message)
        self.stats = stats


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def check_topic(
    bootstrap: str,
    topic: str,
    bootstrap_timeout_s: float = 10.0,
    client_options: dict[str, Any] | None = None,
) -> None:
    """Raise SimulatorError if Kafka is unreachable or ``topic`` does not exist.

    Asks the cluster for its topic list (a metadata request that never creates a topic).
    """
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id="telemetry-simulator-check",
            bootstrap_timeout_ms=int(bootstrap_timeout_s * 1000),
            enable_auto_commit=False,
            **(client_options or {}),
        )
    except (KafkaError, OSError) as exc:
        raise SimulatorError(f"Kafka at {bootstrap} is unreachable: {exc}") from None
    try:
        topics = consumer.topics()
    except (KafkaError, OSError) as exc:
        raise SimulatorError(f"Kafka at {bootstrap} is unreachable: {exc}") from None
    finally:
        consumer.close()
    if topic not in topics:
        raise SimulatorError(f"topic {topic!r} does not exist on {bootstrap}")


def connect(
    bootstrap: str,
    topic: str,
    bootstrap_timeout_s: float = 10.0,
    client_options: dict[str, Any] | None = None,
) -> Any:
    """A KafkaProducer for an existing ``topic``; SimulatorError when that is impossible."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    check_topic(bootstrap, topic, bootstrap_timeout_s, client_options)
    try:
        producer = KafkaProducer(**producer_config(bootstrap, bootstrap_timeout_s, client_options))
    except (KafkaError, OSError) as exc:
        raise SimulatorError(f"Kafka at {bootstrap} is unreachable: {exc}") from None
    try:
        partitions = producer.partitions_for(topic)  # warms metadata before the first send
    except KafkaError as exc:
        producer.close(timeout=5)
        raise SimulatorError(f"topic {topic!r} is not usable on {bootstrap}: {exc}") from None
    if not partitions:
        producer.close(timeout=5)
        raise SimulatorError(f"topic {topic!r} does not exist on {bootstrap}")
    return producer


@dataclass
class SendStats:
    sent: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    elapsed: float = 0.0
    failed: int = 0
    first_error: str | None = None
    interrupted: bool = False

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def merge(self, other: SendStats) -> SendStats:
        counts = {k: self.counts.get(k, 0) + other.counts.get(k, 0) for k in KINDS}
        return SendStats(
            sent=self.sent + other.sent,
            counts=counts,
            elapsed=self.elapsed + other.elapsed,
            failed=self.failed + other.failed,
            first_error=self.first_error or other.first_error,
            interrupted=self.interrupted or other.interrupted,
        )

    def summary(self) -> str:
        c = self.counts
        return (
            f"sent {self.sent} messages (valid {c['valid']}, late {c['late']}, "
            f"duplicate {c['duplicate']}, malformed {c['malformed']}) "
            f"in {self.elapsed:.1f} s = {self.rate:.0f} msg/s"
        )


def send_all(
    messages: Iterable[Message],
    producer: Any,
    topic: str,
    progress_every_s: float = 2.0,
    target_rate: float | None = None,
    log: Callable[[str], None] | None = _stderr,
    truth: GroundTruth | None = None,
    stop: threading.Event | None = None,
    flush_timeout_s: float | None = 180.0,
) -> SendStats:
    """Send every message (value and key already bytes), then flush.

    ``target_rate`` paces the events (valid + late messages) to that many per second of wall
    clock; duplicates and malformed messages ride along with their event.  Without it, send as
    fast as the producer accepts.  Stops early when ``stop`` is set or on KeyboardInterrupt,
    and still flushes.  Progress lines go to ``log`` every ``progress_every_s`` seconds.
    Raises SimulatorError when messages could not be delivered.
    """
    stats = SendStats()
    counts = stats.counts
    errors: list[BaseException] = []

    def on_error(exc: BaseException) -> None:
        errors.append(exc)

    send = producer.send
    record = truth.add if truth is not None else None
    clock = time.monotonic
    t0 = clock()
    next_progress = t0 + progress_every_s
    last_sent, last_time = 0, t0
    interval = 1.0 / target_rate if target_rate else 0.0
    events = 0
    sent = 0
    try:
        for message in messages:
            if stop is not None and stop.is_set():
                stats.interrupted = True
                break
            kind = message.kind
            if interval and (kind == "valid" or kind == "late"):
                due = t0 + events * interval
                now = clock()
                if due > now:
                    if stop is not None:
                        if stop.wait(due - now):
                            stats.interrupted = True
                            break
                    else:
                        time.sleep(due - now)
                events += 1
            send(topic, value=message.payload, key=message.key).add_errback(on_error)
            sent += 1
            counts[kind] += 1
            if record is not None:
                record(message)
            if log is not None:
                now = clock()
                if now >= next_progress:
                    log(
                        f"simulator: sent {sent} msgs, "
                        f"{(sent - last_sent) / (now - last_time):.0f} msg/s"
                    )
                    last_sent, last_time = sent, now
                    next_progress = now + progress_every_s
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        stats.sent = sent
        try:
            producer.flush(timeout=flush_timeout_s)
        except KeyboardInterrupt:
            stats.interrupted = True
        except Exception as exc:  # noqa: BLE001 - reported below with the delivery errors
            errors.append(exc)
        stats.elapsed = clock() - t0
    if errors:
        stats.failed = len(errors)
        stats.first_error = f"{type(errors[0]).__name__}: {errors[0]}"
        raise SimulatorError(
            f"{stats.failed} of {sent} messages were not delivered to {topic!r}: "
            f"{stats.first_error}",
            stats,
        )
    return stats
