"""make soak's verdict: what fails it and what does not (tests/soak/report.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from tests.soak import report
from tests.soak.watch import Slice

HOUR = dt.datetime(2026, 12, 6, 20)


@dataclass
class P:
    sent_at: float
    delay: float


def slices(jvm=(900.0, 950.0), python=(150.0, 152.0), delays=((2.0, 3.0), (2.5, 3.5))):
    """A warm-up slow and small (never the baseline), then one slice per figure."""
    warm = Slice(-300.0, 0.0, batches=[9.0], jvm_mib=100.0, python_mib=50.0)
    out, probes = [warm], [P(-200.0, 60.0)]
    for i, (j, p, ds) in enumerate(zip(jvm, python, delays, strict=True)):
        s = Slice(i * 300.0, (i + 1) * 300.0, batches=[1.0, 2.0], jvm_mib=j, python_mib=p)
        out.append(s)
        probes += [P(s.start + k, d) for k, d in enumerate(ds)]
    return report.slice_rows(out, probes)


CLEAN = {"records": 10, "lost": 0, "doubled": 0, "tables": {"bytes": 0, "bytes_hourly": 0}}
PUBLISHED = report.HourlyRun(HOUR, "success", 60.0, 4.0, True)


def test_a_steady_run_passes_and_its_closing_line_says_so():
    rows = slices()
    assert report.failures(rows, CLEAN, PUBLISHED) == []
    text = report.render(rows, CLEAN, PUBLISHED, "test")
    assert text.splitlines()[-1].startswith("soak: 10 records, lost 0, doubled 0")
    assert "hourly run published" in text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"delays": ((2.0, 3.0), (5.0, 5.6))}, "freshness p95 5.60 s in the last slice > 5.50 s"),
        ({"jvm": (900.0, 1130.0)}, "jvm resident memory 1130 MiB"),
        ({"python": (150.0, 190.0)}, "python resident memory 190 MiB"),
    ],
)
def test_drift_beyond_the_limits_fails(change, reason):
    bad = report.failures(slices(**change), CLEAN, PUBLISHED)
    assert len(bad) == 1 and bad[0].startswith(reason), bad


def test_an_unseen_probe_in_the_last_slice_fails_freshness():
    bad = report.failures(slices(delays=((2.0, 3.0), (2.0, float("inf")))), CLEAN, PUBLISHED)
    assert bad and bad[0].startswith("freshness p95 inf"), bad


def test_records_tables_and_the_boundary_hour_fail_it():
    found = {**CLEAN, "lost": 2, "doubled": 1, "tables": {"bytes": 0, "bytes_hourly": 3}}
    failed_run = report.HourlyRun(HOUR, "failed", 60.0, None, False)
    bad = report.failures(slices(), found, failed_run)
    assert bad == [
        "lost 2",
        "doubled 1",
        "bytes_hourly: 3 rows differ from the ground truth",
        "the hourly run for 20:00 was failed, not published",
    ]
    assert "no scheduled lambda_hourly run" in report.failures(slices(), CLEAN, None)[0]
