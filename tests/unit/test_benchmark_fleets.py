"""The field fleet's figures (benchmark.fleets): each compared with the small fleet's same
figure, held to the field's targets; a freshness run that lost probes misses its limit."""

from __future__ import annotations

import math

from benchmark import fleets
from benchmark.figures import Figure, Target

FLEET = "1,000,000 devices"


def fresh(seen: int, sent: int) -> Figure:
    return Figure(
        "freshness_5000",
        "freshness p95 at 5,000 events/s",
        None,
        3.0,
        "micro_batch",
        (Target("seconds", 5.0),),
        extra={"freshness": {"probes_seen": seen, "probes_sent": sent}},
    )


def test_a_field_figure_is_compared_with_the_small_fleets_same_figure():
    small = fresh(10, 10)
    field = fleets.field_figure(small, FLEET)
    assert (field.key, field.baseline) == ("freshness_5000_field", "freshness_5000")
    assert field.label.endswith(f"[{FLEET}]") and field.targets == small.targets
    assert field.vs(small) == 1.0  # cardinality cost nothing
    assert field.targets[0].met(field, small)


def test_lost_probes_miss_the_freshness_limit():
    field = fleets.field_figure(fresh(67, 129), FLEET)
    assert math.isinf(field.seconds)
    assert not field.targets[0].met(field, fresh(10, 10))


def test_the_marginal_drain_is_held_to_the_small_fleets_and_the_drain_to_nothing():
    marginal = Figure("speed_layer_marginal", "marginal", 250_000, 10.0, "kafka_source")
    field = fleets.field_figure(marginal, FLEET)
    assert field.targets == (fleets.FIELD_MARGINAL_TARGET,) and field.baseline == marginal.key
    slower = Figure(field.key, field.label, 250_000, 15.0, marginal.key, field.targets)
    assert not slower.targets[0].met(slower, marginal)  # 0.67x the small fleet's rate
    drain = Figure(
        "speed_layer", "end to end", 500_000, 20.0, "kafka_source", (Target("ratio", 0.2),)
    )
    assert fleets.field_figure(drain, FLEET).targets == ()
