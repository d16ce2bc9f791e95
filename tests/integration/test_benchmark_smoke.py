"""The benchmark's smoke version: a small backlog through every stage against the test services,
so `make bench` cannot rot (the field fleet and the daily recompute too, at a few thousand
devices and events, and PostgreSQL's part at 2,000 devices). At this size the figures are
start-up costs, not throughput: only
completeness is asserted (the benchmark itself checks that every stage saw every event, that
the hourly batch job counted them all and that DuckDB gives the same totals), and that every
figure is there: the start-up, one 1,000-event burst and a short freshness load on the live
speed layer, the drain's parsed batch lines. The big-hour series and the speed layer's growth
drains (hence the marginal drain rate, unit-tested in tests/unit/test_benchmark_report.py) cost
more speed-layer and batch starts each: they run in `make bench` only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO

# make bench runs it before the long run (a broken stage fails in two minutes, not twenty);
# make test leaves it out: it kept make test over 20 minutes.
pytestmark = [pytest.mark.integration, pytest.mark.bench]

STAGES = {
    "generation",
    "simulator",
    "kafka_source",
    "parse_validate",
    "seed_design",
    "one_pass",
    "speed_layer",
    "batch_wall",
    "duckdb",
    "batch_compute",
}  # each over the whole backlog
DURATIONS = {"startup_query", "startup_first_batch", "batch_fixed", "freshness_2000"}
BURSTS = {"micro_batch", "micro_batch_max"}
# The same speed-layer figures with a (small here) field fleet, against the small fleet's.
FIELD = {
    f"{k}_field"
    for k in ("speed_layer", "startup_query", "startup_first_batch", "freshness_2000", *BURSTS)
}
DRIVER = {"driver_cpu", "driver_cpu_field"}
DAILY_EVENTS = 500  # an hour of the field fleet's day


def test_benchmark_runs_every_stage_and_counts_every_event(pg, tmp_path):
    figures_file = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark",
            "--events",
            "5000",
            "--batch-events",
            "0",
            "--drain-steps",
            "1",
            # The live speed layer: one burst once warm, then one short load.
            "--bursts",
            "1",
            "--burst-gap",
            "2",
            "--fresh-rates",
            "2000",
            "--fresh-seconds",
            "5",
            "--field-users",
            "3000",
            "--field-antennas",
            "20",
            "--daily-events",
            str(DAILY_EVENTS),
            "--serving-devices",
            "2000",
            "--json",
            str(figures_file),
        ],
        cwd=REPO,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    document = json.loads(figures_file.read_text())
    figures = {f["key"]: f for f in document["figures"]}
    assert set(figures) == STAGES | DURATIONS | BURSTS | FIELD | DRIVER | {"daily_field"}
    assert all(figures[k]["events"] == 5000 and figures[k]["seconds"] > 0 for k in STAGES)
    assert all(figures[k]["events"] is None and figures[k]["seconds"] > 0 for k in DURATIONS)
    assert figures["startup_first_batch"]["seconds"] > figures["startup_query"]["seconds"]
    assert figures["startup_query"]["vs_baseline"] > 0  # against batch_fixed
    # The burst: found in the live speed layer's batch lines, timed, held to its target.
    burst = figures["micro_batch"]
    assert burst["events"] == 1000 and burst["seconds"] > 0
    assert len(burst["bursts"]) == 1 and burst["bursts"][0]["batches"]
    assert [t["met"] is not None for t in burst["targets"]] == [True]
    assert figures["micro_batch_max"]["seconds"] >= burst["seconds"]
    fresh = figures["freshness_2000"]["freshness"]
    assert fresh["probes_sent"] > 0 and fresh["probes_seen"] > 0  # its p95 is finite
    # The field fleet's figures: each against the small fleet's same figure.
    assert all(figures[k]["baseline"] == k.removesuffix("_field") for k in FIELD)
    assert figures["speed_layer_field"]["events"] == 5000
    assert figures["speed_layer_field"]["vs_baseline"] > 0
    assert figures["driver_cpu_field"]["baseline"] == "driver_cpu"
    assert [t["kind"] for t in figures["driver_cpu_field"]["targets"]] == ["seconds", "slowdown"]
    # The daily recompute: every event of the 24 hours counted, each process's memory sampled.
    daily = figures["daily_field"]
    assert daily["events"] == 24 * DAILY_EVENTS and daily["seconds"] > 0
    assert daily["bytes_hourly_rows"] > 0
    assert all(daily["peak_rss_mib"][kind] > 0 for kind in ("driver", "jvm", "workers"))
    # The drains' batch lines were parsed: every record in them, the driver's cost if printed.
    drain, field_drain = document["drains"]
    assert sum(b["records"] for b in field_drain["batches"]) == 5000
    assert sum(b["records"] for b in drain["batches"]) == 5000
    assert all(b["seconds"] > 0 for b in drain["batches"])
    assert all(b["driver_cpu"] is None or b["driver_cpu"] > 0 for b in drain["batches"])
    assert drain["driver"]["batches"] == len(drain["batches"])
    assert [t["met"] is not None for t in figures["speed_layer"]["targets"]] == [True, True]
    # The printed report: the table (a row per figure), the driver's and freshness' parts.
    table, *parts = proc.stdout.strip().split("\n\n")
    header, _rule, *rows = table.splitlines()
    assert header.split()[:3] == ["stage", "events", "seconds"]
    assert len(rows) == len(figures)
    assert any(p.startswith("driver per micro-batch") for p in parts)
    assert any(p.startswith("freshness,") for p in parts)
    serving = next(p for p in parts if p.startswith("PostgreSQL at field size"))
    assert "2,000 devices" in serving and "traffic_windows user" in serving
    # The events really went through the speed layer into PostgreSQL.
    assert pg.execute("SELECT count(*) FROM bytes").fetchone()[0] > 0
