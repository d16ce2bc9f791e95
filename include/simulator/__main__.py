"""Command line: ``python -m simulator [options]`` - send device telemetry to Kafka.

canonical mode: the 20 seed users on 5 antennas at a gentle rate (default 20 events/s) until
Ctrl-C, --count or --duration.  scale mode: --users N on --antennas M at --rate R events/s.

--history-hours H first replays the H whole hours before the current hour as fast as possible
(so the batch layer has data at once), then stops, or goes on in real time with --realtime.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from simulator.events import SEED_ANTENNAS, SEED_USERS, Generator, Plan
from simulator.ground_truth import GroundTruth
from simulator.producer import SendStats, SimulatorError, connect, send_all

PROG = "simulator"
DEFAULT_RATE = {"canonical": 20.0, "scale": 1000.0}


class Phase(NamedTuple):
    label: str
    start: int  # epoch second of the first event
    rate: float  # event-time spacing, events per second of event time
    count: int | None  # event slots; None = until stopped
    target_rate: float | None  # wall-clock pacing; None = as fast as possible


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not > 0")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not within [0, 1]")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--mode", choices=("canonical", "scale"), default="canonical")
    p.add_argument("--users", type=int, help="devices (scale mode; canonical uses 20)")
    p.add_argument("--antennas", type=int, help="antennas (scale mode; canonical uses 5)")
    p.add_argument(
        "--rate",
        type=_positive_float,
        help="events/s (canonical default 20, scale default 1000)",
    )
    amount = p.add_mutually_exclusive_group()
    amount.add_argument("--count", type=_non_negative_int, help="number of events to send")
    amount.add_argument("--duration", type=_positive_float, help="seconds of events to send")
    p.add_argument(
        "--history-hours",
        type=_positive_float,
        help="replay the H hours before the current hour at full speed first",
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="after --history-hours, go on in real time (until Ctrl-C or --duration)",
    )
    p.add_argument("--late-rate", type=_fraction, default=0.0, help="fraction of late events")
    p.add_argument(
        "--late-seconds", type=int, default=600, help="how late late events are (default 600)"
    )
    p.add_argument(
        "--duplicate-rate", type=_fraction, default=0.0, help="chance an event is resent"
    )
    p.add_argument(
        "--malformed-rate",
        type=_fraction,
        default=0.0,
        help="chance of a malformed message before an event",
    )
    p.add_argument("--seed", type=int, help="random seed (default: a new one, printed)")
    p.add_argument("--truth", help="write every message sent to this JSON-lines file")
    p.add_argument("--bootstrap", help="Kafka HOST:PORT (default from the configuration)")
    p.add_argument("--topic", help="Kafka topic (default from the configuration)")
    return p


def build_plan(args: argparse.Namespace, now: float) -> tuple[Plan, list[Phase]]:
    """The generation plan and its phases for parsed ``args`` at wall-clock time ``now``.

    Raises SimulatorError for inconsistent arguments.
    """
    if args.mode == "canonical":
        if args.users not in (None, SEED_USERS) or args.antennas not in (None, SEED_ANTENNAS):
            raise SimulatorError("--users/--antennas need --mode scale (canonical is 20 x 5)")
        users, antennas = SEED_USERS, SEED_ANTENNAS
    else:
        users = SEED_USERS if args.users is None else args.users
        antennas = SEED_ANTENNAS if args.antennas is None else args.antennas
    rate = args.rate or DEFAULT_RATE[args.mode]
    if args.realtime and not args.history_hours:
        raise SimulatorError("--realtime only makes sense with --history-hours")

    phases: list[Phase] = []
    if args.history_hours:
        if args.duration is not None and not args.realtime:
            raise SimulatorError(
                "--duration sets the real-time part: use it with --realtime "
                "(or --count for the history)"
            )
        span = int(args.history_hours * 3600)
        if span < 1:
            raise SimulatorError("--history-hours must cover at least one second")
        start = int(now) // 3600 * 3600 - span
        if args.count is not None:
            count, history_rate = args.count, max(args.count, 1) / span
        else:
            count, history_rate = int(span * rate), rate
        phases.append(Phase("history", start, history_rate, count, None))
        if args.realtime:
            live_count = None if args.duration is None else int(args.duration * rate)
            phases.append(Phase("realtime", int(now), rate, live_count, rate))
    else:
        if args.count is not None:
            count = args.count
        elif args.duration is not None:
            count = int(args.duration * rate)
        else:
            count = None
        phases.append(Phase("realtime", int(now), rate, count, rate))

    first = phases[0]
    plan = Plan(
        users=users,
        antennas=antennas,
        count=first.count,
        start=first.start,
        rate=first.rate,
        late_rate=args.late_rate,
        late_seconds=args.late_seconds,
        duplicate_rate=args.duplicate_rate,
        malformed_rate=args.malformed_rate,
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(2**31),
    )
    try:
        plan.validate()
        for phase in phases[1:]:
            Plan(users=users, antennas=antennas, rate=phase.rate).validate()
    except ValueError as exc:
        raise SimulatorError(str(exc)) from None
    return plan, phases


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
    args = build_parser().parse_args(argv)
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
