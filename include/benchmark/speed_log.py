"""The speed layer's log lines the benchmark reads: its query started, the listener's progress
(rows read per micro-batch) and the writer's per-batch line (records, duration, steps and, once
the speed layer prints them, the Python driver's CPU and memory). Pure parsing, unit-tested."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

STARTED = re.compile(r"\[speed-layer\] query (\w+) started")
PROGRESS = re.compile(r"\[speed-layer\] (\w+) batch \d+: (\d+) rows")
# The driver part is new: without it the line ends after the step list.
APPLIED = re.compile(
    r"\[speed-layer\] batch (\d+) applied: (\d+) records, .*?, ([\d.]+) s \((.*?)\)"
    r"(?:; driver cpu ([\d.]+) s, rss (\d+) MiB)?"
)
STEP = re.compile(r"(\w+) ([\d.]+)")


@dataclass(frozen=True)
class BatchLine:
    """One micro-batch the speed layer applied, as its log line tells it."""

    batch_id: int
    records: int
    seconds: float
    steps: dict[str, float]
    driver_cpu: float | None = None  # the driver's CPU seconds in this batch
    rss_mib: int | None = None  # the driver's resident memory after it


def parse_applied(line: str) -> BatchLine | None:
    """The batch line in ``line``, None when it is another line."""
    m = APPLIED.search(line)
    if m is None:
        return None
    return BatchLine(
        batch_id=int(m.group(1)),
        records=int(m.group(2)),
        seconds=float(m.group(3)),
        steps={k: float(v) for k, v in STEP.findall(m.group(4))},
        driver_cpu=float(m.group(5)) if m.group(5) is not None else None,
        rss_mib=int(m.group(6)) if m.group(6) is not None else None,
    )


@dataclass(frozen=True)
class DriverStats:
    """The driver's cost per micro-batch over one drain; None: the log did not say."""

    batches: int
    peak_rss_mib: int | None
    max_cpu: float | None
    median_cpu: float | None

    @staticmethod
    def of(batches: Sequence[BatchLine]) -> DriverStats:
        cpu = [b.driver_cpu for b in batches if b.driver_cpu is not None]
        rss = [b.rss_mib for b in batches if b.rss_mib is not None]
        return DriverStats(
            batches=len(batches),
            peak_rss_mib=max(rss) if rss else None,
            max_cpu=max(cpu) if cpu else None,
            median_cpu=statistics.median(cpu) if cpu else None,
        )


@dataclass(frozen=True)
class BurstCost:
    """What one burst of events cost the speed layer: the micro-batches that held it."""

    batches: tuple[BatchLine, ...]

    @property
    def seconds(self) -> float:
        return sum(b.seconds for b in self.batches)

    @property
    def split(self) -> bool:
        return len(self.batches) > 1


def burst_cost(batches: Sequence[BatchLine], events: int) -> BurstCost | None:
    """The first batches after a burst was sent that hold its ``events`` records (a burst the
    trigger cut in two is in two batches); None while they do not hold them all yet."""
    held, total = [], 0
    for b in batches:
        held.append(b)
        total += b.records
        if total >= events:
            return BurstCost(tuple(held))
    return None
