"""The speed layer running live on a topic of its own, as in production: what one micro-batch
of a small burst costs once it is idle and warm (the floor under any freshness), then freshness
under sustained loads. One live speed layer serves the bursts and every load rate in turn (one
start-up, not one per rate; it is let go idle between them)."""

from __future__ import annotations

import contextlib
import shutil
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from kafka.errors import KafkaError

from benchmark import freshness
from benchmark.figures import BenchmarkError, Figure, Target, log
from benchmark.kafka_io import Bursts, create_topic, delete_topic
from benchmark.speed_log import BurstCost, burst_cost
from benchmark.submit import SpeedLayerRun
from telemetry import config

# From the project's performance goals.
MICRO_BATCH_TARGET = Target("seconds", 1.0)  # the median burst's batch
FRESHNESS_TARGETS = {5000.0: Target("seconds", 5.0), 20000.0: Target("seconds", 10.0)}  # p95
WARM_BATCHES = 2  # batches applied before the bursts: Spark's first jobs and the JIT are paid
BURST_TIMEOUT = 180.0


@contextlib.contextmanager
def live_speed_layer(
    settings: config.Settings, env: dict[str, str], work: Path
) -> Iterator[tuple[SpeedLayerRun, str]]:
    """A speed layer started on a new topic, checkpoint and master dataset, once its query
    started; stopped and its scratch removed at the end."""
    topic = create_topic(settings)
    live_env = {
        **env,
        "LAMBDA_KAFKA_TOPIC": topic,
        "LAMBDA_CHECKPOINT_DIR": str(work / "live"),
        "LAMBDA_RAW_DIR": str(work / "live_raw"),
    }
    run = SpeedLayerRun(live_env, work / "speed_layer_live.log")
    try:
        run.wait_started()
        yield run, topic
    finally:
        run.stop()
        with contextlib.suppress(KafkaError):
            delete_topic(settings, topic)
        shutil.rmtree(work / "live", ignore_errors=True)
        shutil.rmtree(work / "live_raw", ignore_errors=True)


def _send_and_wait(run: SpeedLayerRun, bursts: Bursts) -> BurstCost:
    """One burst sent; the batches that held it, once applied."""
    mark = len(run.batch_lines())
    bursts.send()
    held: list[BurstCost] = []

    def applied() -> bool:
        cost = burst_cost(run.batch_lines(mark), bursts.size)
        held[:] = [cost] if cost else []
        return cost is not None

    run.wait_until(applied, BURST_TIMEOUT, f"a burst of {bursts.size:,} events to be applied")
    return held[0]


def micro_batches(
    run: SpeedLayerRun,
    settings: config.Settings,
    topic: str,
    count: int,
    size: int,
    gap: float,
    people: tuple[int, int],
) -> list[Figure]:
    """Warm-up bursts until ``WARM_BATCHES`` batches were applied, then ``count`` bursts of
    ``size`` events, each sent once the speed layer was idle for ``gap`` seconds: the median
    and the max of what each burst's batches took (the sum when the trigger cut it in two)."""
    bursts = Bursts(settings, topic, *people, size)
    try:
        warm = 0
        while warm < WARM_BATCHES:
            warm += len(_send_and_wait(run, bursts).batches)
        log(f"warm after {warm} batches; {count} bursts of {size:,} events, {gap:g} s apart")
        costs = []
        for _ in range(count):
            run.wait_idle(gap, BURST_TIMEOUT)
            costs.append(_send_and_wait(run, bursts))
    finally:
        bursts.close()
    split = [c for c in costs if c.split]
    summed = " (a split burst: sum of its batches)" if split else ""
    note = "; ".join(
        f"a burst split over batches {'+'.join(str(b.batch_id) for b in c.batches)}: "
        f"its cost is the sum of their durations ({c.seconds:.2f} s)"
        for c in split
    )
    extra = {
        "bursts": [
            {"batches": [b.batch_id for b in c.batches], "seconds": c.seconds, "split": c.split}
            for c in costs
        ]
    }
    seconds = [c.seconds for c in costs]
    of = f"{count} burst{'s' if count != 1 else ''}"
    return [
        Figure(
            "micro_batch",
            f"micro-batch of {size:,} events, median of {of} (live, warm){summed}",
            size,
            statistics.median(seconds),
            "kafka_source",
            (MICRO_BATCH_TARGET,),
            note=note,
            extra=extra,
        ),
        Figure(
            "micro_batch_max",
            f"micro-batch of {size:,} events, max of {of}{summed}",
            size,
            max(seconds),
            "kafka_source",
        ),
    ]


def freshness_runs(
    run: SpeedLayerRun,
    settings: config.Settings,
    topic: str,
    rates: Sequence[float],
    seconds: float,
    people: tuple[int, int],
    baseline: str | None,
) -> list[Figure]:
    """freshness.measure at each rate, lowest first, each from an idle speed layer (the last
    rate's backlog drained): p95 produce-to-visible delay, compared with ``baseline`` (the
    micro-batch's cost, the floor under it)."""
    figures = []
    for rate in sorted(rates):
        run.wait_idle(3.0, max(300.0, seconds * 3))
        log(f"freshness: {rate:,.0f} events/s for {seconds:g} s live")
        f = freshness.measure(settings, topic, rate, seconds, *people, warmup=min(30.0, seconds))
        if f.probes_sent == 0:
            raise BenchmarkError(f"freshness at {rate:,.0f} events/s sent no probe")
        target = FRESHNESS_TARGETS.get(float(rate))
        figures.append(
            Figure(
                f"freshness_{rate:.0f}",
                f"freshness p95 at {rate:,.0f} events/s, produce -> visible in bytes",
                None,
                f.p95,
                baseline,
                (target,) if target else (),
                note=""
                if f.probes_seen == f.probes_sent
                else f"freshness at {rate:,.0f} events/s: probes seen "
                f"{f.probes_seen} of {f.probes_sent}",
                extra={"freshness": asdict(f)},
            )
        )
    return figures
