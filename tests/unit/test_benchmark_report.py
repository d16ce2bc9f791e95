"""The benchmark's parsing of the speed layer's lines, its targets and its derived figures: the
smoke run cannot reach every case (a split burst, a missing driver part, a missed target)."""

from __future__ import annotations

import json
import math

from benchmark import report
from benchmark.drains import Drain, marginal, startup
from benchmark.figures import Figure, Target
from benchmark.speed_log import DriverStats, burst_cost, parse_applied

TODAY = (
    "[speed-layer] batch 7 applied: 1000 records, counted 1000, late 0, duplicate 0, "
    "rejected 0, 900 window rows, watermark 2026-12-02 16:58:58, 1.23 s "
    "(read 0.10, judge 0.05, land 0.50, sum 0.20, postgres 0.10)"
)
WITH_DRIVER = (
    "[speed-layer] batch 8 applied: 250 records, counted 250, late 0, duplicate 0, rejected 0, "
    "20 window rows, watermark None, 0.42 s (judge 0.10, land 0.20, postgres 0.10, state 0.02); "
    "driver cpu 0.123 s, rss 912 MiB (wall 0.45 s)"
)


def test_batch_line_without_the_driver_part_parses_with_none():
    b = parse_applied(TODAY)
    assert (b.batch_id, b.records, b.seconds) == (7, 1000, 1.23)
    assert b.steps == {"read": 0.10, "judge": 0.05, "land": 0.50, "sum": 0.20, "postgres": 0.10}
    assert b.driver_cpu is None and b.rss_mib is None


def test_batch_line_with_the_driver_part():
    b = parse_applied(WITH_DRIVER)
    assert (b.batch_id, b.records, b.seconds, b.driver_cpu, b.rss_mib) == (8, 250, 0.42, 0.123, 912)
    assert parse_applied("[speed-layer] speed_layer batch 8: 250 rows, 10 rows/s") is None


def test_driver_stats_and_their_absence():
    lines = [parse_applied(WITH_DRIVER), parse_applied(WITH_DRIVER.replace("0.123", "0.5"))]
    s = DriverStats.of(lines)
    assert (s.batches, s.peak_rss_mib, s.max_cpu) == (2, 912, 0.5)
    assert math.isclose(s.median_cpu, 0.3115)
    assert DriverStats.of([parse_applied(TODAY)]) == DriverStats(1, None, None, None)


def test_a_burst_split_over_two_batches_costs_both():
    first = parse_applied(TODAY.replace("1000 records", "400 records"))
    second = parse_applied(WITH_DRIVER.replace("250 records", "600 records"))
    assert burst_cost([first], 1000) is None
    cost = burst_cost([first, second], 1000)
    assert cost.split and math.isclose(cost.seconds, 1.23 + 0.42)
    assert not burst_cost([parse_applied(TODAY)], 1000).split


def test_targets_met_missed_and_not_measurable():
    base = Figure("kafka_source", "source", 1000, 1.0)
    fast = Figure("x", "x", 1000, 2.0, "kafka_source", (Target("ratio", 0.35),))
    assert fast.targets[0].verdict(fast, base) == "met >= 0.35x"
    slow = Figure("y", "y", 1000, 4.0, "kafka_source")
    assert Target("ratio", 0.35).verdict(slow, base) == "MISSED >= 0.35x"
    assert Target("rate", 1000).verdict(slow, None) == "MISSED >= 1,000/s (0.25x)"
    assert Target("slowdown", 10).met(slow, base) is True
    assert Target("slowdown", 3).verdict(slow, base) == "MISSED <= 3x time (4.00x)"
    assert Target("rate", 200_000).verdict(slow, None) == "MISSED >= 200,000/s (0.0013x)"
    assert Target("seconds", 1).verdict(Figure("z", "z", None, 0.0), None) == "n/a <= 1 s"
    never = Figure("f", "f", None, float("inf"))
    assert Target("seconds", 5).met(never, None) is False


def test_marginal_drain_rate():
    half = Figure("speed_layer_250000", "half", 250_000, 30.0)
    full = Figure("speed_layer", "full", 500_000, 50.0)
    m = marginal(half, full)
    assert (m.events, m.seconds, m.rate, m.baseline) == (250_000, 20.0, 12_500.0, "kafka_source")
    assert not m.note
    flat = marginal(half, Figure("speed_layer", "full", 500_000, 29.0))
    assert not flat.measured and "not measurable" in flat.note
    assert flat.targets[0].verdict(flat, Figure("kafka_source", "k", 1, 1.0)).startswith("n/a")


def test_table_and_json_carry_every_figure(tmp_path):
    full = Drain(
        Figure("speed_layer", "speed layer end to end", 4000, 8.0, "kafka_source"),
        to_query=20.0,
        to_first_batch=35.0,
        batches=[parse_applied(TODAY), parse_applied(WITH_DRIVER)],
    )
    figures = [
        Figure("kafka_source", "Spark Kafka source alone", 4000, 1.0),
        full.figure,
        *startup(full),
        Figure("batch_fixed", "batch fixed cost", None, 10.0),
    ]
    text = report.table(figures)
    assert "0.12x kafka_source" in text  # 500 events/s against 4,000
    assert "3.50x time batch_fixed" in text  # 35 s against 10 s
    drivers = report.driver_table([full])
    assert "912" in drivers and "baseline" in drivers
    out = tmp_path / "figures.json"
    report.write_json(out, figures, [full])
    document = json.loads(out.read_text())
    assert [f["key"] for f in document["figures"]][-3:] == [
        "startup_query",
        "startup_first_batch",
        "batch_fixed",
    ]
    assert document["drains"][0]["driver"]["peak_rss_mib"] == 912
