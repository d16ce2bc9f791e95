"""Command line: ``python -m simulator [options]`` - send device telemetry to Kafka.

canonical mode: the 20 seed users on 5 antennas at a gentle rate (default 20 events/s) until
Ctrl-C, --count or --duration.  scale mode: --users N on --antennas M at --rate R events/s.

--history-hours H first replays the H whole hours before the current hour as fast as possible
(so the batch layer has data at once), then stops, or goes on in real time with --realtime.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.arguments import PROG, Phase, build_parser, build_plan
from simulator.events import Generator, Plan
from simulator.ground_truth import GroundTruth
from simulator.producer import SendStats, SimulatorError, connect, send_all


def _settings_defaults(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    """Bootstrap servers, topic and the security options (LAMBDA_KAFKA_CLIENT_PROPERTIES)."""
    from telemetry import config, kafka_client

    try:
        settings = config.load()
        security = kafka_client.python_options(settings)
    except config.ConfigError as exc:
        raise SimulatorError(f"configuration: {exc}") from None
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    return bootstrap, args.topic or settings.kafka_topic, security


def _install_stop_handlers(stop: threading.Event) -> dict[int, Any]:
    """Ctrl-C / SIGTERM set ``stop`` (a second Ctrl-C interrupts); returns the old handlers."""

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():  # second Ctrl-C: give up on the graceful stop
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        print(f"{PROG}: stopping, flushing what was sent...", file=sys.stderr, flush=True)

    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handler)
    return previous


def _describe(plan: Plan, phases: list[Phase], bootstrap: str, topic: str) -> str:
    parts = []
    for ph in phases:
        span = "until stopped" if ph.count is None else f"{ph.count} events"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ph.start))
        pace = "full speed" if ph.target_rate is None else f"paced at {ph.target_rate:g}/s"
        parts.append(f"{ph.label}: {span} from {when}Z at {ph.rate:g}/s event time, {pace}")
    return (
        f"{PROG}: {plan.users} users, {plan.antennas} antennas, seed {plan.seed} "
        f"-> {topic} on {bootstrap}; " + "; ".join(parts)
    )


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser(__doc__).parse_args(argv)
    plan, phases = build_plan(args, time.time())
    bootstrap, topic, security = _settings_defaults(args)
    if args.truth and not Path(args.truth).resolve().parent.is_dir():
        raise SimulatorError(f"--truth {args.truth}: its folder does not exist")
    print(_describe(plan, phases, bootstrap, topic), file=sys.stderr, flush=True)

    producer = connect(bootstrap, topic, client_options=security)
    stop = threading.Event()
    previous_handlers = _install_stop_handlers(stop)
    truth = GroundTruth() if args.truth else None
    generator = Generator(plan)
    total = SendStats()
    try:
        for phase in phases:
            start = phase.start if phase.label == "history" else int(time.time())
            messages = generator.phase(start, phase.rate, phase.count)
            try:
                stats = send_all(
                    messages,
                    producer,
                    topic,
                    target_rate=phase.target_rate,
                    truth=truth,
                    stop=stop,
                )
            except SimulatorError as exc:
                if exc.stats is not None:
                    total = total.merge(exc.stats)
                raise
            total = total.merge(stats)
            if stats.interrupted:
                break
    finally:
        with contextlib.suppress(Exception):  # best effort: send_all already flushed
            producer.close(timeout=10)
        for sig, old in previous_handlers.items():
            signal.signal(sig, old)
        if truth is not None:
            truth.write(args.truth)
    print(f"{PROG}: {total.summary()}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from kafka.errors import KafkaError

    try:
        return run(argv)
    except SimulatorError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:
        print(f"{PROG}: error: kafka: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
