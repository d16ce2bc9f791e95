"""Throughput of each stage of the pipeline, side by side with the baselines measured in the same
run and the project's targets (met or missed), against the running Kafka broker and PostgreSQL
(``make bench`` starts them on their own ports and state folder).

    python -m benchmark [--events N] [--drain-steps 1|2|3] [--batch-events M] [--batch-steps 1|2|3]
                        [--bursts K] [--burst-events B] [--burst-gap G]
                        [--fresh-rates R1,R2] [--fresh-seconds S]
                        [--field-users F] [--field-antennas FA] [--daily-events D]
                        [--serving-devices S]
                        [--json FILE] [--keep]

One backlog of N events (two hours of event time, no duplicates, so every figure counts the same
events) goes through: message generation alone (the simulator's baseline), the simulator into
Kafka, the Spark Kafka source alone (the Spark stages' baseline), + parse and validation, the
seed's design (a streaming query per metric) and the one-pass speed layer, the speed layer
itself (spark-submit) draining the backlog (then backlogs of N/4 and N/2 events: growth, the
marginal rate from N/2 to N, the start-up's fixed cost, the driver's cost per micro-batch), and
the hourly batch job over the Parquet it landed (it must count N events) with DuckDB over the
same files (same totals, checked). Then hours of M/4, M/2 and M synthetic events: the batch job
against DuckDB on each (growth), and the whole lambda_hourly DAG run on the biggest (airflow dags
test). Last, one speed layer live on a topic of its own: K bursts of B events once it is idle
and warm (what one micro-batch costs), then freshness under each of the rates R for S seconds,
produce-to-visible delays of probe events. Then the drains and the live speed layer again with
the field's fleet (F devices on FA antennas, default 1,000,000 on 5,000), each figure against the
small fleet's, the daily recompute of a day of 24 hours of D events from the field's fleet, and
PostgreSQL at field size (an hour of windows of S devices: the speed layer's moves and the
dashboard's queries, benchmark.serving_size).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from kafka.errors import KafkaError

from benchmark import batch, daily, fleets, report, serving_size, speed_runs, stages
from benchmark.drains import Drain
from benchmark.figures import BenchmarkError, Figure, log
from benchmark.kafka_io import HISTORY_SECONDS, backlog_plan, create_topic, delete_topic, produce
from simulator.bench import generation_rate
from simulator.producer import SimulatorError
from telemetry import config

# Every speed layer the benchmark starts, whatever LAMBDA_TRIGGER the caller has.
SPEED_TRIGGER = "1 second"


def _rates(text: str) -> list[float]:
    try:
        rates = [float(r) for r in text.split(",") if r.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of rates: {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError(f"rates must be positive: {text!r}")
    return rates


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=500_000, help="backlog size (default 500000)")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--antennas", type=int, default=50)
    p.add_argument(
        "--drain-steps",
        type=int,
        choices=(1, 2, 3),
        default=3,
        help="how many backlogs of N, N/2, N/4 events the speed layer drains (default 3; "
        "the marginal drain rate needs 2)",
    )
    p.add_argument(
        "--batch-events",
        type=int,
        default=10_000_000,
        help="largest hour for the batch job against DuckDB (also N/4, N/2; 0: skip)",
    )
    p.add_argument(
        "--batch-steps",
        type=int,
        choices=(1, 2, 3),
        default=3,
        help="how many of the sizes N/4, N/2, N to run, largest first kept (default 3)",
    )
    p.add_argument(
        "--bursts", type=int, default=5, help="bursts sent to the live speed layer (0: skip)"
    )
    p.add_argument("--burst-events", type=int, default=1000, help="events per burst")
    p.add_argument(
        "--burst-gap", type=float, default=5.0, help="seconds idle before each burst (default 5)"
    )
    p.add_argument(
        "--fresh-rates",
        type=_rates,
        default=[5000.0, 20000.0],
        help="live loads for freshness, events/s, comma-separated (default 5000,20000)",
    )
    p.add_argument(
        "--fresh-seconds", type=float, default=180, help="how long each live load runs (0: skip)"
    )
    p.add_argument(
        "--field-users",
        type=int,
        default=1_000_000,
        help="devices of the field's fleet: the drains and live loads again with them (0: skip)",
    )
    p.add_argument("--field-antennas", type=int, default=5000)
    p.add_argument(
        "--daily-events",
        type=int,
        default=2_000_000,
        help="events per hour of the field fleet's day the daily recompute runs over (0: skip)",
    )
    p.add_argument(
        "--serving-devices",
        type=int,
        default=1_000_000,
        help="devices of the hour of windows loaded into PostgreSQL for the dashboard's "
        "queries and the speed layer's moves at field size (0: skip)",
    )
    p.add_argument("--json", help="also write every figure to this file")
    p.add_argument("--keep", action="store_true", help="keep the topic and the Parquet output")
    args = p.parse_args(argv)
    if args.events < 1000:
        p.error("--events must be at least 1000")
    if args.bursts < 0 or args.burst_events < 1:
        p.error("--bursts must be >= 0 and --burst-events >= 1")
    if args.field_users < 0 or args.field_antennas < 1 or args.daily_events < 0:
        p.error("--field-users and --daily-events must be >= 0, --field-antennas >= 1")
    return args


def print_report(figures: list[Figure], measured: list[Drain]) -> None:
    """The table, its notes, the drains' driver costs, freshness in detail."""
    parts = [report.table(figures), report.notes(figures)]
    if measured:
        parts.append(report.driver_table(measured))
    fresh = [f for f in figures if "freshness" in f.extra]
    if fresh:
        parts.append(report.freshness_table(fresh, SPEED_TRIGGER))
    print("\n\n".join(p for p in parts if p), flush=True)


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = config.load()
    work = settings.home / "bench" / time.strftime("%Y%m%dT%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    start = now - now % 3600 - HISTORY_SECONDS  # two complete hours of event time
    plan = backlog_plan(args.events, args.users, args.antennas, start)
    try:
        plan.validate()
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from None
    try:
        topic = create_topic(settings)
    except KafkaError as exc:
        raise BenchmarkError(f"Kafka at {settings.kafka_bootstrap}: {exc!r}") from None
    env = {
        **os.environ,
        "LAMBDA_KAFKA_TOPIC": topic,
        "LAMBDA_CHECKPOINT_DIR": str(work / "checkpoints"),
        "LAMBDA_RAW_DIR": str(work / "raw"),
        "LAMBDA_TRIGGER": SPEED_TRIGGER,
    }
    spark_timeout = max(300.0, args.events / 2000)
    log(f"{args.events:,} events, topic {topic}, {os.cpu_count()} cores, work folder {work}")
    figures: list[Figure] = []
    measured: list[Drain] = []
    serving = ""
    finished = False
    try:
        n_gen = min(args.events, 300_000)
        log(f"message generation alone ({n_gen:,} events)")
        rate = generation_rate(n_gen, args.users, args.antennas)
        figures.append(
            Figure("generation", "message generation alone (no I/O)", n_gen, n_gen / rate)
        )
        log("simulator -> Kafka")
        figures.append(produce(settings, topic, plan))
        log("Spark stages: source, parse, seed's design, one pass (spark-submit)")
        stages.prepare_seed_table(settings)
        figures += stages.spark_stages(env, args.events, spark_timeout)
        stages.forget_topic(settings, topic)  # the end-to-end run starts from nothing applied
        drained, measured = speed_runs.speed_layer_figures(settings, env, work, args, start)
        figures += drained
        log("hourly batch job over the landed Parquet (spark-submit)")
        figures += batch.batch_hourly(
            settings, env, datetime.fromtimestamp(start, UTC), args.events, spark_timeout
        )
        if args.batch_events > 0:
            n = args.batch_events
            sizes = [n // 4, n // 2, n][-args.batch_steps :]
            people = (args.users, args.antennas)
            batch.batch_against_duckdb(settings, env, work, sizes, people, figures)
        if args.bursts > 0 or args.fresh_seconds > 0:
            figures += speed_runs.live_figures(settings, env, work, args)
        if args.field_users > 0:
            field, field_drains = speed_runs.field_fleet_figures(settings, env, work, args, start)
            figures += field
            fleet = f"{args.field_users:,} devices"
            figures += fleets.driver_cpu(measured[0], field_drains[0], fleet)
            measured += field_drains
        if args.daily_events > 0:
            devices = args.field_users or args.users
            antennas = args.field_antennas if args.field_users else args.antennas
            figures += daily.daily_recompute(
                settings, env, work, args.daily_events, devices, antennas
            )
        if args.serving_devices > 0:
            serving = serving_size.measure(
                settings, args.serving_devices, args.field_antennas, runs=20, batches=10
            )
        finished = True
    finally:
        if not finished and figures:  # a long run's figures are not lost to a late error
            log("stopped by an error; the figures measured before it:")
            print_report(figures, measured)
        if not args.keep:
            with contextlib.suppress(KafkaError):  # never hide the error that got us here
                delete_topic(settings, topic)
            shutil.rmtree(work / "raw", ignore_errors=True)
            shutil.rmtree(work / "checkpoints", ignore_errors=True)
        stages.drop_seed_table(settings)
    print_report(figures, measured)
    if serving:
        print(f"\n{serving}", flush=True)
    if args.json:
        report.write_json(args.json, figures, measured)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except (BenchmarkError, SimulatorError, config.ConfigError) as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
