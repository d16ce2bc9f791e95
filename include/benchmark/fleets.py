"""The speed layer at field cardinality: the same drains and live loads again with the field's
fleet (default 1,000,000 devices on 5,000 antennas), each figure next to the small fleet's same
figure (1.00x: cardinality costs nothing), held to the field's targets."""

from __future__ import annotations

import math
from dataclasses import replace

from benchmark.drains import Drain
from benchmark.figures import Figure, Target

# The field's targets, at 1,000,000 devices (the freshness figures keep their own, 5 s at 5,000
# events/s and 10 s at 20,000, and must see every probe).
FIELD_MARGINAL_TARGET = Target("ratio", 0.8)  # the marginal drain against the small fleet's
DRIVER_CPU_TARGETS = (Target("seconds", 1.0), Target("slowdown", 1.5))  # <= 1 s, and flat
# Compared with the small fleet's figure, no target of its own at field cardinality.
UNTARGETED = ("speed_layer", "startup_query", "startup_first_batch", "micro_batch")


def field_figure(figure: Figure, fleet: str) -> Figure:
    """``figure`` measured with the field's fleet: its key suffixed, compared with the small
    fleet's same figure. A freshness run that lost probes never made them visible: its p95 is
    infinite, which misses its limit."""
    targets = figure.targets
    if figure.key == "speed_layer_marginal":
        targets = (FIELD_MARGINAL_TARGET,)
    elif figure.key.startswith(UNTARGETED):
        targets = ()
    seconds = figure.seconds
    fresh = figure.extra.get("freshness")
    if fresh and fresh["probes_seen"] < fresh["probes_sent"]:
        seconds = math.inf
    return replace(
        figure,
        key=f"{figure.key}_field",
        label=f"{figure.label} [{fleet}]",
        seconds=seconds,
        baseline=figure.key,
        targets=targets,
    )


def field_drain(drain: Drain, fleet: str) -> Drain:
    return replace(drain, figure=replace(drain.figure, label=f"{drain.figure.label} [{fleet}]"))


def driver_cpu(small: Drain, field: Drain, fleet: str) -> list[Figure]:
    """The Python driver's median CPU per micro-batch in the N-event drain of each fleet: at
    most 1 s with the field's fleet, and flat (at most 1.5x the small fleet's)."""
    label = "driver CPU per micro-batch, median of the N-event drain"
    base = Figure("driver_cpu", label, None, small.driver.median_cpu or 0.0)
    return [
        base,
        Figure(
            "driver_cpu_field",
            f"{label} [{fleet}]",
            None,
            field.driver.median_cpu or 0.0,
            "driver_cpu",
            DRIVER_CPU_TARGETS,
        ),
    ]
