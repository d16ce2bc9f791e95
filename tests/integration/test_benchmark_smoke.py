"""The benchmark's smoke version: a small backlog through every stage against the test services,
so `make bench` cannot rot. At this size the figures are start-up costs, not throughput: only
completeness is asserted (the benchmark itself checks that every stage saw every event and that
the hourly batch job counted them all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.integration

STAGES = {
    "generation",
    "simulator",
    "kafka_source",
    "parse_validate",
    "seed_design",
    "one_pass",
    "speed_layer",
    "batch_wall",
    "batch_compute",
}


def test_benchmark_runs_every_stage_and_counts_every_event(pg, tmp_path):
    figures_file = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark",
            "--events",
            "5000",
            "--fresh-rate",
            "200",
            "--fresh-seconds",
            "8",
            "--batch-events",
            "20000",
            "--batch-steps",
            "1",
            "--json",
            str(figures_file),
        ],
        cwd=REPO,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    figures = {f["key"]: f for f in json.loads(figures_file.read_text())}
    fresh = figures.pop("freshness")
    # The batch job against DuckDB on a 20,000-event hour: both gave the same totals (checked by
    # the benchmark itself, which fails otherwise).
    assert figures.pop("duckdb_0")["events"] == figures.pop("batch_0")["events"] == 20000
    assert fresh["probes_sent"] >= 5 and fresh["probes_seen"] == fresh["probes_sent"]
    assert 0 < fresh["p50"] <= fresh["p95"] <= fresh["max"] < 60
    assert set(figures) == STAGES
    assert all(f["events"] == 5000 and f["seconds"] > 0 for f in figures.values())
    lines = proc.stdout.strip().splitlines()
    cut = next(i for i, line in enumerate(lines) if line.startswith("freshness"))
    assert "p95" in lines[cut + 2]
    header, _rule, *rows = lines[:cut]
    assert header.split()[:3] == ["stage", "events", "seconds"]
    assert len(rows) == len(STAGES) + 2  # + DuckDB and the batch job on the big hour
    # The events really went through the speed layer into PostgreSQL.
    assert pg.execute("SELECT count(*) FROM bytes").fetchone()[0] > 0
