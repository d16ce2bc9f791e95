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

from simulator.events import Generator, Message, Plan
from simulator.producer import connect
from telemetry import config

from .ledger import LedgerWriter

LATE_SECONDS = 900
SHARES = {"late_rate": 0.002, "duplicate_rate": 0.002, "malformed_rate": 0.001}
FLUSH_SECONDS = 5.0


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


def send(args: argparse.Namespace, ledger: LedgerWriter, stop: threading.Event) -> dict:
    settings = config.load()
    producer = connect(settings.kafka_bootstrap, settings.kafka_topic)
    began = time.monotonic()
    start, slots, sent, last_report = int(time.time()), 0, 0, began
    resent = "duplicate"  # a resend's verdict: a late event's resend is late too
    try:
        for message in messages(args, start):
            if message.kind in ("valid", "late"):
                due = began + slots / args.rate
                if due > time.monotonic() and stop.wait(due - time.monotonic()):
                    break
                slots += 1
                resent = "duplicate" if message.kind == "valid" else "late"
            if stop.is_set():
                break
            expect = {"valid": "counted", "late": "late", "malformed": message.reason}.get(
                message.kind, resent
            )
            future = producer.send(settings.kafka_topic, value=message.payload, key=message.key)
            future.add_callback(ledger.on_ack(message.kind, expect, message.payload))
            future.add_errback(ledger.on_error)
            sent += 1
            if time.monotonic() - last_report >= 60:
                last_report = time.monotonic()
                rate = slots / (last_report - began)
                print(f"soak load: {sent:,} records sent, {rate:,.0f} events/s", flush=True)
    finally:
        producer.flush(timeout=300)
        producer.close(timeout=30)
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
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
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
