"""The soak's load, in a process of its own (its Python work stays off the probes' GIL): the
simulator's fleet at a steady rate, event time = now, until SIGTERM, every acknowledged record
in the ledger.

The fleet is the field's: devices whose clocks run 15 minutes behind (late events: behind the
watermark, landed for the batch layer), byte-identical resends, and malformed records (a clock
a week or a century ahead among them), each with the verdict or the quarantine reason it must
get. The first ``warmup`` seconds carry no late event: the speed layer's very first micro-batch
has no watermark yet, so a late event there would rightly be counted.

    python -m tests.soak.load --ledger DIR --rate 5000 --devices 1000000 --antennas 5000
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import Producer

from simulator.events import Generator, Message, Plan
from simulator.producer import check_topic
from telemetry import config

from .ledger import LedgerWriter

LATE_SECONDS = 900
SHARES = {"late_rate": 0.002, "duplicate_rate": 0.002, "malformed_rate": 0.001}
FLUSH_SECONDS = 5.0
PACE_SECONDS = 0.01


def messages(args: argparse.Namespace, start: int) -> Iterator[Message]:
    """The warm-up's messages (no late event), then the field's mix, endless."""
    warm_slots = int(args.warmup * args.rate)
    plan = Plan(users=args.devices, antennas=args.antennas, rate=args.rate, seed=args.seed)
    yield from Generator(plan).phase(start, args.rate, warm_slots)
    field = Plan(
        users=args.devices,
        antennas=args.antennas,
        rate=args.rate,
        seed=args.seed + 1,
        late_seconds=LATE_SECONDS,
        **SHARES,
    )
    yield from Generator(field).phase(start + int(args.warmup), args.rate, None)


def producer(settings: config.Settings) -> Producer:
    """librdkafka's producer, with the simulator's guarantees (acks from every replica,
    idempotence) and its partitioning (murmur2 of the key, as Java's). The soak's load shares
    the two cores it measures: kafka-python's send() cost ~100 us of Python a record, half a
    core at 5,000 events/s, as much as the speed layer it loads."""
    return Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "client.id": "telemetry-soak-load",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "compression.type": "lz4",
            "partitioner": "murmur2_random",
        }
    )


class Stop:
    """Set by SIGTERM/SIGINT. A plain flag: a handler that sets a threading.Event can deadlock
    on the Event's own lock when the signal arrives while the main thread waits on it (seen
    once: the load never stopped)."""

    requested = False

    def request(self, *_) -> None:
        self.requested = True


def send(args: argparse.Namespace, ledger: LedgerWriter, stop: Stop) -> dict:
    settings = config.load()
    check_topic(settings.kafka_bootstrap, settings.kafka_topic)
    out, topic = producer(settings), settings.kafka_topic
    began = time.monotonic()
    start, slots, sent, last_report = int(time.time()), 0, 0, began
    resent = "duplicate"  # a resend's verdict: a late event's resend is late too
    try:
        for message in messages(args, start):
            if message.kind in ("valid", "late"):
                # Paced in steps of at least PACE_SECONDS: a wait per event (5,000 wake-ups a
                # second) cost more CPU than producing the event.
                ahead = began + slots / args.rate - time.monotonic()
                if ahead > PACE_SECONDS:
                    time.sleep(ahead)
                slots += 1
                resent = "duplicate" if message.kind == "valid" else "late"
            if stop.requested:
                break
            expect = {"valid": "counted", "late": "late", "malformed": message.reason}.get(
                message.kind, resent
            )
            report = ledger.delivered(message.kind, expect, message.payload)
            while True:
                try:
                    out.produce(topic, message.payload, message.key, on_delivery=report)
                    break
                except BufferError:  # librdkafka's queue is full: serve reports, then again
                    out.poll(0.1)
            out.poll(0)
            sent += 1
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                rate = slots / (last_report - began)
                print(f"soak load: {sent:,} records sent, {rate:,.0f} events/s", flush=True)
    finally:
        left = out.flush(300)
        if left:
            ledger.on_error(RuntimeError(f"{left} records unacknowledged after 300 s"), left)
    return {"sent": sent, "events": slots, "seconds": time.monotonic() - began}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.soak.load")
    p.add_argument("--ledger", type=Path, required=True)
    p.add_argument("--rate", type=float, default=5000.0)
    p.add_argument("--devices", type=int, default=1_000_000)
    p.add_argument("--antennas", type=int, default=5000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--warmup", type=float, default=60.0)
    args = p.parse_args(argv)
    stop = Stop()
    signal.signal(signal.SIGTERM, stop.request)
    signal.signal(signal.SIGINT, stop.request)
    ledger = LedgerWriter(args.ledger, "load")
    flushing = threading.Event()

    def flusher() -> None:
        while not flushing.wait(FLUSH_SECONDS):
            ledger.flush()

    thread = threading.Thread(target=flusher, daemon=True)
    thread.start()
    stats = send(args, ledger, stop)
    flushing.set()
    thread.join()
    ledger.flush()
    stats |= {
        "acknowledged": ledger.acknowledged,
        "unacknowledged": ledger.unacknowledged,
        "first_error": ledger.first_error,
    }
    (args.ledger.parent / "load-stats.json").write_text(json.dumps(stats))  # beside the ledger
    print(f"soak load: done, {json.dumps(stats)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
