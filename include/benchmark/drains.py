"""The speed layer itself (spark-submit, live trigger) draining backlogs of N, N/4 and N/2
events, each from a topic, checkpoint and master dataset of its own. From the same runs: the
marginal drain rate (what the N/2 more events of the N drain cost, start-up and first-batch
costs cancelled out), the start-up's fixed cost, and the driver's cost per micro-batch."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from kafka.errors import KafkaError

from benchmark.figures import BenchmarkError, Figure, Target, log
from benchmark.kafka_io import backlog_plan, create_topic, delete_topic, produce
from benchmark.speed_log import BatchLine, DriverStats
from benchmark.submit import SpeedLayerRun
from telemetry import config

# From the project's performance goals.
SPEED_TARGETS = (Target("rate", 200_000), Target("ratio", 0.20))
MARGINAL_TARGET = Target("ratio", 0.35)
STARTUP_BASELINE = "batch_fixed"  # the hourly batch job's own spark-submit fixed cost


@dataclass
class Drain:
    """One drain: its figure (query started -> every record read), spark-submit's start to the
    query started and to the first batch applied, and the batches' lines."""

    figure: Figure
    to_query: float
    to_first_batch: float | None
    batches: list[BatchLine]

    @property
    def driver(self) -> DriverStats:
        return DriverStats.of(self.batches)


def speed_layer(
    env: dict[str, str],
    work: Path,
    events: int,
    timeout: float,
    key: str = "speed_layer",
    label: str = "speed layer end to end (spark-submit, live trigger)",
    baseline: str = "kafka_source",
    targets: tuple[Target, ...] = SPEED_TARGETS,
) -> Drain:
    """spark-submit the speed layer on ``env``'s topic and wait until it read ``events`` rows."""
    run = SpeedLayerRun(env, work / f"{key}.log", events)
    try:
        finished = run.done.wait(timeout)
    finally:
        run.stop()
    if run.t_done is None or run.t_started is None:
        why = "timed out" if not finished else f"exited with {run.proc.returncode}"
        raise BenchmarkError(
            f"speed layer {why} after reading {run.rows} of {events} rows; see {run.log_path}"
        )
    first = run.t_first_batch
    return Drain(
        Figure(key, label, events, run.t_done - run.t_started, baseline, targets),
        to_query=run.t_started - run.t_submit,
        to_first_batch=None if first is None else first - run.t_submit,
        batches=run.batch_lines(),
    )


def drain_growth(
    settings: config.Settings,
    env: dict[str, str],
    work: Path,
    sizes: list[int],
    users: int,
    antennas: int,
    start: int,
) -> list[Drain]:
    """The speed layer draining backlogs of each of ``sizes`` too: against the N-event drain
    (the baseline), a rate ratio near 1 means cost linear in the size."""
    drains = []
    for size in sizes:
        topic = create_topic(settings)
        try:
            log(f"speed layer draining a {size:,}-event backlog (growth)")
            produce(settings, topic, backlog_plan(size, users, antennas, start))
            grown = {
                **env,
                "LAMBDA_KAFKA_TOPIC": topic,
                "LAMBDA_CHECKPOINT_DIR": str(work / f"checkpoints_{size}"),
                "LAMBDA_RAW_DIR": str(work / f"raw_{size}"),
            }
            label = f"speed layer end to end, {size:,}-event backlog"
            timeout = max(300.0, size / 2000)
            drains.append(
                speed_layer(
                    grown, work, size, timeout, f"speed_layer_{size}", label, "speed_layer", ()
                )
            )
        finally:
            with contextlib.suppress(KafkaError):
                delete_topic(settings, topic)
            shutil.rmtree(work / f"raw_{size}", ignore_errors=True)
            shutil.rmtree(work / f"checkpoints_{size}", ignore_errors=True)
    return drains


def marginal(half: Figure, full: Figure) -> Figure:
    """(N - N/2) events over (t_N - t_N/2) seconds: what the speed layer drains once its
    start-up and first batches are paid for. Not measurable (seconds <= 0) when the bigger
    drain was not slower."""
    events = full.events - half.events
    seconds = full.seconds - half.seconds
    return Figure(
        "speed_layer_marginal",
        f"speed layer marginal drain, {half.events:,} -> {full.events:,} events",
        events,
        max(seconds, 0.0),
        "kafka_source",
        (MARGINAL_TARGET,),
        note=""
        if seconds > 0
        else f"marginal drain not measurable: the {full.events:,}-event drain took "
        f"{full.seconds:.2f} s, the {half.events:,}-event one {half.seconds:.2f} s",
    )


def startup(drain: Drain) -> list[Figure]:
    """The N-event drain's fixed cost before draining: spark-submit's start to the query
    started, and to the first micro-batch applied (its Spark jobs' first run in it)."""
    events = drain.figure.events
    return [
        Figure(
            "startup_query",
            f"speed layer start-up: spark-submit to query started ({events:,}-event drain)",
            None,
            drain.to_query,
            STARTUP_BASELINE,
        ),
        Figure(
            "startup_first_batch",
            f"speed layer start-up: spark-submit to first batch applied ({events:,}-event drain)",
            None,
            drain.to_first_batch or 0.0,
            STARTUP_BASELINE,
            note="" if drain.to_first_batch else "no batch-applied line in the N-event drain",
        ),
    ]
