"""make soak: the whole stack as `make up` runs it (started by include/scripts/soak.sh on its own
ports and state folder), under the field's load for an hour or more across a UTC hour boundary.

While the load runs (tests/soak/load.py, its own process), a probe a second measures freshness
and the watcher samples the speed layer, Kafka, PostgreSQL and the open hour, kept in slices.
The scheduler runs lambda_hourly and lambda_sweep on their real schedules. Afterwards: the
stream drained, lambda_hourly run once more for every hour that ended (its late events arrived
after its scheduled run; the sweep would rerun it half an hour later), then the ledger checked by
Spark against the Parquet dataset, the quarantine and every serving table.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer

from telemetry import config

from ..airflow_api import AirflowApi
from . import report, verify
from .ledger import LedgerWriter
from .load import LATE_SECONDS
from .probes import Probes
from .watch import Watcher, records_behind, relation_sizes

pytestmark = pytest.mark.soak
HOUR = dt.timedelta(hours=1)


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


def floor_hour(epoch: float) -> dt.datetime:
    return utc(epoch - epoch % 3600)


def start_load(settings: config.Settings, options, ledger: Path) -> subprocess.Popen:
    log = (settings.home / "logs" / "soak-load.log").open("ab")
    args = ["--ledger", str(ledger), "--rate", str(options.rate), "--devices", str(options.devices)]
    args += ["--antennas", str(options.antennas), "--seed", str(options.seed)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.soak.load", *args],
        cwd=config.REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def hourly_runs(settings: config.Settings, since: dt.datetime) -> list[tuple]:
    """lambda_hourly's scheduled runs of the hours that ended after ``since``: (interval start,
    state, start, end), from Airflow's metadata database."""
    with psycopg.connect(settings.as_role("metadata").pg_dsn) as pg:
        return pg.execute(
            "SELECT data_interval_start, state, start_date, end_date FROM dag_run"
            " WHERE dag_id = 'lambda_hourly' AND run_type = 'scheduled'"
            " AND data_interval_end > %s ORDER BY data_interval_start",
            (since.replace(tzinfo=dt.UTC),),
        ).fetchall()


def boundary_run(settings, began: float, probes, timeout: float = 1800) -> report.HourlyRun | None:
    """The scheduled run of the first hour that ended under load (once it finished: an hour
    that ended near the load's end may still be running), and the freshness meanwhile."""
    deadline = time.monotonic() + timeout
    while (runs := hourly_runs(settings, utc(began))) and runs[0][1] not in ("success", "failed"):
        if time.monotonic() > deadline:
            break
        time.sleep(10)
    if not runs:
        return None
    start, state, run_start, run_end = runs[0]
    hour = start.astimezone(dt.UTC).replace(tzinfo=None)
    seconds = fresh = None
    if run_start and run_end:
        seconds = (run_end - run_start).total_seconds()
        delays = report.delays_in(probes, run_start.timestamp(), run_end.timestamp())
        fresh = report.quantile(delays, 0.95) if delays else None
    with psycopg.connect(settings.pg_dsn) as pg:
        published = pg.execute(
            "SELECT published_at FROM serving_hours WHERE timestamp = %s", (hour,)
        ).fetchone()
    return report.HourlyRun(hour, state, seconds, fresh, published is not None)


def rerun_hours(settings, hours: list[dt.datetime], timeout: float = 3600) -> None:
    """lambda_hourly once more for each hour (after its late events), as the sweep would."""
    api = AirflowApi.when_up(settings, timeout=300)
    stamp = f"{time.time():.0f}"
    ids = []
    for hour in hours:
        run_id = f"soak__{hour:%Y-%m-%dT%H}__{stamp}"
        # A logical date inside the next hour, none of the schedule's (unique per DAG).
        logical = hour + HOUR + dt.timedelta(seconds=1 + int(stamp) % 59)  # not in the future
        api.trigger("lambda_hourly", run_id, hour, hour + HOUR, logical)
        ids.append(run_id)
    deadline = time.monotonic() + timeout
    while True:
        states = [api.run_state("lambda_hourly", run_id) for run_id in ids]
        if all(s in ("success", "failed") for s in states):
            break
        assert time.monotonic() < deadline, f"the reruns did not finish: {states}"
        time.sleep(10)
    assert states == ["success"] * len(ids), dict(zip(ids, states, strict=True))


def wait_drained(settings, timeout: float = 1800) -> None:
    """The speed layer applied every record the topic holds."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    deadline = time.monotonic() + timeout
    try:
        while (behind := records_behind(settings, consumer)) > 0:
            assert time.monotonic() < deadline, f"not drained: {behind} records behind"
            time.sleep(2)
    finally:
        consumer.close()


def test_soak(settings, soak_options, request, capsys):
    o = soak_options
    ledger_dir = settings.home / "soak" / "ledger"
    relation_sizes(settings)  # the database answers before anything starts
    began = time.time()
    load = start_load(settings, o, ledger_dir)
    probe_ledger = LedgerWriter(ledger_dir, "probes")
    probes = Probes(settings, probe_ledger)
    probes.start()
    watcher = Watcher(settings, began, o.warmup_minutes * 60, o.slice_minutes * 60)
    watcher.start()
    shown = 0
    planned_end = began + (o.warmup_minutes + o.minutes) * 60
    try:
        while time.time() < planned_end:
            time.sleep(5)
            assert load.poll() is None, "the load stopped (logs/soak-load.log)"
            probe_ledger.flush()
            done = watcher.slices[:-1]
            rows = report.slice_rows(done, probes.probes)
            with capsys.disabled():  # progress: a line per slice as it closes
                if rows and shown == 0:
                    print("\n" + report.HEADER)
                for row in rows[shown:]:
                    print(report.render_row(row), flush=True)
            shown = len(rows)
    finally:
        load.send_signal(signal.SIGTERM)
        load.wait(600)
        ended = time.time()
        probes.close()
        probe_ledger.flush()
    slices = watcher.finish(min(ended, planned_end))  # no slice of the stopping load
    rows = report.slice_rows(slices, probes.probes)
    stats = json.loads((ledger_dir.parent / "load-stats.json").read_text())
    hourly = boundary_run(settings, began, probes.probes)

    wait_drained(settings)
    first = floor_hour(began - LATE_SECONDS)
    hours = []
    hour = first
    while hour + HOUR <= utc(ended):
        hours.append(hour)
        hour += HOUR
    rerun_hours(settings, hours)
    spark = request.getfixturevalue("spark")  # only now: its JVM stays out of the measurement
    ledger = spark.read.parquet(str(ledger_dir))
    start, end = first - HOUR, floor_hour(ended) + 2 * HOUR
    found = verify.records(spark, settings, ledger, start, end, settings.kafka_topic)
    found["tables"] = verify.tables(spark, settings, ledger, start, end, first, hour)
    found["unacknowledged"] = stats["unacknowledged"] + probe_ledger.unacknowledged

    context = (
        f"{o.warmup_minutes:g} + {o.minutes:g} min at {o.rate:,.0f} events/s,"
        f" {o.devices:,} devices, {o.antennas:,} antennas"
        f" (achieved {stats['events'] / stats['seconds']:,.0f} events/s);"
        f" batch hours checked {first:%H:00}-{hour:%H:00}"
    )
    summary = report.render(rows, found, hourly, context)
    if watcher.errors:
        summary += "\nwatcher errors: " + "; ".join(watcher.errors[:5])
    with capsys.disabled():
        print(summary, flush=True)
    (settings.home / "logs" / "soak-summary.txt").write_text(summary)
    bad = report.failures(rows, found, hourly)
    assert not bad, "; ".join(bad)
