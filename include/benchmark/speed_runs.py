"""The speed layer's runs of the benchmark: the drains of a backlog (the N-event one, its
growth, the start-up and the marginal rate), the live speed layer (bursts, freshness), and both
again with the field's fleet, each figure against the small fleet's (benchmark.fleets)."""

from __future__ import annotations

import argparse
import contextlib
import shutil
from pathlib import Path

from kafka.errors import KafkaError

from benchmark import drains, fleets, live
from benchmark.drains import Drain
from benchmark.figures import Figure, log
from benchmark.kafka_io import backlog_plan, create_topic, delete_topic, produce
from telemetry import config


def speed_layer_figures(
    settings: config.Settings, env: dict[str, str], work: Path, args: argparse.Namespace, start: int
) -> tuple[list[Figure], list[Drain]]:
    """The N-event drain, its start-up, the growth drains and the marginal rate."""
    log("speed layer draining the backlog (spark-submit)")
    full = drains.speed_layer(env, work, args.events, max(300.0, args.events / 2000))
    sizes = [args.events // 4, args.events // 2][3 - args.drain_steps :]
    grown = drains.drain_growth(settings, env, work, sizes, args.users, args.antennas, start)
    figures = [full.figure, *drains.startup(full), *(d.figure for d in grown)]
    half = next((d for d in grown if d.figure.events == args.events // 2), None)
    if half is not None:
        figures.append(drains.marginal(half.figure, full.figure))
    return figures, [full, *grown]


def live_figures(
    settings: config.Settings, env: dict[str, str], work: Path, args: argparse.Namespace
) -> list[Figure]:
    """The bursts, then freshness at each rate, from one live speed layer."""
    figures: list[Figure] = []
    people = (args.users, args.antennas)
    log("a live speed layer on a topic of its own (spark-submit)")
    with live.live_speed_layer(settings, env, work) as (run, topic):
        if args.bursts > 0:
            figures += live.micro_batches(
                run, settings, topic, args.bursts, args.burst_events, args.burst_gap, people
            )
        if args.fresh_seconds > 0:
            baseline = "micro_batch" if args.bursts > 0 else None
            figures += live.freshness_runs(
                run, settings, topic, args.fresh_rates, args.fresh_seconds, people, baseline
            )
    return figures


def field_fleet_figures(
    settings: config.Settings, env: dict[str, str], work: Path, args: argparse.Namespace, start: int
) -> tuple[list[Figure], list[Drain]]:
    """The drains and the live speed layer again with the field's fleet, on a topic of its own."""
    fleet = f"{args.field_users:,} devices"
    field = argparse.Namespace(**{**vars(args), "users": args.field_users})
    field.antennas = args.field_antennas
    topic = create_topic(settings)
    folder = work / "field"
    try:
        log(f"the field's fleet: {fleet} on {args.field_antennas:,} antennas")
        produce(settings, topic, backlog_plan(args.events, field.users, field.antennas, start))
        field_env = {
            **env,
            "LAMBDA_KAFKA_TOPIC": topic,
            "LAMBDA_CHECKPOINT_DIR": str(folder / "checkpoints"),
            "LAMBDA_RAW_DIR": str(folder / "raw"),
        }
        folder.mkdir(parents=True, exist_ok=True)
        drained, measured = speed_layer_figures(settings, field_env, folder, field, start)
        if args.bursts > 0 or args.fresh_seconds > 0:
            drained += live_figures(settings, field_env, folder, field)
    finally:
        with contextlib.suppress(KafkaError):
            delete_topic(settings, topic)
        # The speed layers' logs stay (per-step timings of each micro-batch); the data goes.
        for data in [*folder.glob("raw*"), *folder.glob("checkpoints*")]:
            shutil.rmtree(data, ignore_errors=True)
    return (
        [fleets.field_figure(f, fleet) for f in drained],
        [fleets.field_drain(d, fleet) for d in measured],
    )
