"""The simulator's command line: its arguments and the generation plan they describe."""

from __future__ import annotations

import argparse
import random
import sys
from typing import NamedTuple, NoReturn

from simulator.events import SEED_ANTENNAS, SEED_USERS, Plan
from simulator.producer import SimulatorError

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


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=description, formatter_class=argparse.RawTextHelpFormatter)
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
