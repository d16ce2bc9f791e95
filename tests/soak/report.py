"""The soak's slice table, its closing line and what makes it fail (pure: tests/unit)."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass

from .watch import Slice

# The limits: freshness may not drift by more than 1.5x (+1 s), memory by 1.25x.
FRESHNESS_DRIFT, FRESHNESS_SLACK_S, MEMORY_DRIFT = 1.5, 1.0, 1.25


@dataclass(frozen=True)
class HourlyRun:
    """The lambda_hourly run the schedule made for the hour that ended under load."""

    hour: dt.datetime
    state: str | None
    seconds: float | None
    freshness_p95: float | None  # of the probes sent while it ran
    published: bool


def quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def delays_in(probes, start: float, end: float) -> list[float]:
    return [p.delay for p in probes if start <= p.sent_at < end]


def slice_rows(slices: list[Slice], probes) -> list[dict]:
    rows = []
    for i, s in enumerate(slices):
        delays = delays_in(probes, s.start, s.end)
        rows.append(
            {
                "slice": i,  # 0: the warm-up
                "minutes": (s.end - s.start) / 60,
                "probes": len(delays),
                "p50": quantile(delays, 0.5),
                "p95": quantile(delays, 0.95),
                "batch_p50": statistics.median(s.batches) if s.batches else math.nan,
                "batch_max": max(s.batches, default=math.nan),
                "jvm": s.jvm_mib,
                "python": s.python_mib,
                "behind": s.behind,
                "state": s.state_mib,
                "bytes": s.table_mib.get("bytes", 0) + s.index_mib.get("bytes", 0),
                "by_hour": s.table_mib.get("bytes_by_hour", 0)
                + s.index_mib.get("bytes_by_hour", 0),
                "files": s.open_hour_files,
            }
        )
    return rows


def failures(rows: list[dict], found: dict, hourly: HourlyRun | None) -> list[str]:
    """Every reason to fail, in words; empty when the soak passed."""
    bad = []
    for key in ("lost", "doubled", "unknown", "wrong_verdict", "wrong_content", "wrong_reason"):
        if found.get(key, 0):
            bad.append(f"{key} {found[key]}")
    for table, n in found.get("tables", {}).items():
        if n:
            bad.append(f"{table}: {n} rows differ from the ground truth")
    if found.get("unacknowledged"):
        bad.append(f"{found['unacknowledged']} records were never acknowledged by Kafka")
    measured = [r for r in rows if r["slice"] > 0]
    if len(measured) < 2:
        bad.append("fewer than two slices after the warm-up: nothing to compare")
        return bad
    first, last = measured[0], measured[-1]
    limit = FRESHNESS_DRIFT * first["p95"] + FRESHNESS_SLACK_S
    if not last["p95"] <= limit:
        bad.append(f"freshness p95 {last['p95']:.2f} s in the last slice > {limit:.2f} s")
    for part in ("jvm", "python"):
        if not last[part] <= MEMORY_DRIFT * first[part]:
            bad.append(
                f"{part} resident memory {last[part]:.0f} MiB in the last slice >"
                f" {MEMORY_DRIFT}x the first slice's {first[part]:.0f} MiB"
            )
    if hourly is None:
        bad.append("no scheduled lambda_hourly run for an hour that ended under load")
    elif hourly.state != "success" or not hourly.published:
        bad.append(f"the hourly run for {hourly.hour:%H:00} was {hourly.state}, not published")
    return bad


HEADER = (
    "slice  min  probes  fresh p50/p95 (s)  batch p50/max (s)  JVM/Python RSS (MiB)"
    "  behind max  state MiB  bytes MiB  by_hour MiB  open-hour files"
)


def render_row(r: dict) -> str:
    return (
        f"{r['slice'] or 'warm':>5} {r['minutes']:4.1f} {r['probes']:7d}"
        f" {r['p50']:8.2f} /{r['p95']:6.2f}"
        f" {r['batch_p50']:8.2f} /{r['batch_max']:6.2f}"
        f" {r['jvm']:10.0f} /{r['python']:5.0f}"
        f" {r['behind']:10.0f} {r['state']:10.1f} {r['bytes']:10.0f} {r['by_hour']:12.0f}"
        f" {r['files']:16d}"
    )


def render(rows: list[dict], found: dict, hourly: HourlyRun | None, context: str) -> str:
    lines = ["", f"=== soak: {context}", HEADER, *map(render_row, rows)]
    if hourly is not None:
        lines.append(
            f"lambda_hourly for {hourly.hour:%Y-%m-%d %H:00} under load: {hourly.state},"
            f" {hourly.seconds or math.nan:.0f} s, freshness p95 while it ran"
            f" {hourly.freshness_p95 or math.nan:.2f} s,"
            f" published {'yes' if hourly.published else 'NO'}"
        )
    tables = found.get("tables", {})
    lines.append(
        "tables equal to the ground truth: "
        + ", ".join(f"{t} {'yes' if n == 0 else f'NO ({n} differ)'}" for t, n in tables.items())
    )
    lines.append(closing_line(rows, found, hourly))
    return "\n".join(lines)


def closing_line(rows: list[dict], found: dict, hourly: HourlyRun | None) -> str:
    measured = [r for r in rows if r["slice"] > 0]
    first, last = (measured[0], measured[-1]) if measured else ({}, {})
    return (
        f"soak: {found.get('records', 0):,} records, lost {found.get('lost', 0)},"
        f" doubled {found.get('doubled', 0)}, freshness p95 {first.get('p95', math.nan):.2f}"
        f" -> {last.get('p95', math.nan):.2f} s, JVM {first.get('jvm', math.nan):.0f} ->"
        f" {last.get('jvm', math.nan):.0f} MiB, Python driver {first.get('python', math.nan):.0f}"
        f" -> {last.get('python', math.nan):.0f} MiB, hourly run"
        f" {'published' if hourly and hourly.published else 'NOT published'}"
    )
