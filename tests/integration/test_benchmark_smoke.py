"""The benchmark's smoke version: a small backlog through every stage against the test services,
so `make bench` cannot rot. At this size the figures are start-up costs, not throughput: only
completeness is asserted (the benchmark itself checks that every stage saw every event, that
the hourly batch job counted them all and that DuckDB gives the same totals). The big-hour
series, the speed layer's growth drains and the live freshness run cost more speed-layer and
batch starts each: they run in `make bench` only."""

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
            "--fresh-seconds",
            "0",
            "--batch-events",
            "0",
            "--drain-steps",
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
    assert set(figures) == STAGES
    assert all(f["events"] == 5000 and f["seconds"] > 0 for f in figures.values())
    header, _rule, *rows = proc.stdout.strip().splitlines()
    assert header.split()[:3] == ["stage", "events", "seconds"]
    assert len(rows) == len(STAGES)
    # The events really went through the speed layer into PostgreSQL.
    assert pg.execute("SELECT count(*) FROM bytes").fetchone()[0] > 0
