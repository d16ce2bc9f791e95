"""What the benchmark measures and what it is held to: one ``Figure`` per table row, compared
with a baseline measured in the same run (machines differ, ratios travel), and the project's
performance goals as ``Target``\\ s, each met or missed."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

# What a Target's limit bounds: the figure's events/s from below ("rate"), its events/s as a
# multiple of its baseline's from below ("ratio"), its seconds as a multiple of its baseline's
# from above ("slowdown"), its seconds from above ("seconds").
TARGET_KINDS = ("rate", "ratio", "slowdown", "seconds")


def times(ratio: float) -> str:
    """``0.35x``; two significant digits below 0.1, so a far-off ratio does not print 0.00x."""
    if ratio >= 10:
        return f"{ratio:.0f}x"
    return f"{ratio:.2f}x" if ratio >= 0.1 or ratio == 0 else f"{ratio:.2g}x"


class BenchmarkError(Exception):
    """A stage failed or miscounted: the run stops with this message."""


def log(line: str) -> None:
    """Progress on stderr: stdout carries the tables only."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Target:
    """One performance goal of the project for a figure, with its limit (see TARGET_KINDS)."""

    kind: str
    limit: float

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {self.kind!r}")

    def describe(self) -> str:
        return {
            "rate": f">= {self.limit:,.0f}/s",
            "ratio": f">= {self.limit:.2f}x",
            "slowdown": f"<= {self.limit:g}x time",
            "seconds": f"<= {self.limit:g} s",
        }[self.kind]

    def value(self, figure: Figure, base: Figure | None) -> float | None:
        """What the limit is compared with; None when the figure or its baseline is missing."""
        if not figure.measured:
            return None
        if self.kind == "rate":
            return figure.rate
        if self.kind == "seconds":
            return figure.seconds
        if base is None or not base.measured:
            return None
        if self.kind == "ratio":
            return figure.rate / base.rate if base.rate else None
        return figure.seconds / base.seconds

    def met(self, figure: Figure, base: Figure | None) -> bool | None:
        value = self.value(figure, base)
        if value is None:
            return None
        return value >= self.limit if self.kind in ("rate", "ratio") else value <= self.limit

    def verdict(self, figure: Figure, base: Figure | None) -> str:
        """``met >= 0.35x``, ``MISSED <= 1 s``, ``n/a <= 10x time``; a rate target also shows
        the fraction of it reached, a slowdown target the slowdown (the table's ratio column
        shows the baseline's rate over it)."""
        met = self.met(figure, base)
        word = "n/a" if met is None else "met" if met else "MISSED"
        text = f"{word} {self.describe()}"
        if self.kind == "rate" and met is not None:
            text += f" ({times(figure.rate / self.limit)})"
        elif self.kind == "slowdown" and met is not None:
            text += f" ({times(self.value(figure, base))})"
        return text


@dataclass
class Figure:
    """One row of the table. ``events`` None: a duration only (start-up, delay), compared with
    its baseline by seconds; otherwise by events/s. ``seconds`` <= 0: not measurable; inf: never
    happened (a probe never seen), which misses any limit."""

    key: str
    label: str
    events: int | None
    seconds: float
    baseline: str | None = None  # key of the figure this one is compared with
    targets: tuple[Target, ...] = ()
    note: str = ""  # printed under the table when set
    extra: dict = field(default_factory=dict)  # goes to the JSON only

    @property
    def measured(self) -> bool:
        return self.seconds > 0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.events and self.measured else 0.0

    def vs(self, base: Figure | None) -> float | None:
        """events/s over the baseline's, or for a duration its seconds over the baseline's."""
        if base is None or not (self.measured and base.measured):
            return None
        if self.events is None or base.events is None:
            return self.seconds / base.seconds
        return self.rate / base.rate if base.rate else None

    def as_dict(self, base: Figure | None) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "events": self.events,
            "seconds": self.seconds if self.measured and math.isfinite(self.seconds) else None,
            "rate": self.rate if self.events else None,
            "baseline": self.baseline,
            "vs_baseline": self.vs(base),
            "targets": [
                {
                    "kind": t.kind,
                    "limit": t.limit,
                    "value": t.value(self, base),
                    "met": t.met(self, base),
                }
                for t in self.targets
            ],
            "note": self.note,
            **self.extra,
        }
