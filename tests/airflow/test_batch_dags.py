"""The batch DAGs for real: dag.test() and scheduler backfills that spark-submit the batch jobs
over Parquet with known content, checked against figures computed here independently."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry import raw_layout

from .. import system
from ..airflow_api import AirflowApi
from .conftest import REPO, event, run_dag, snapshot, table, wait_until

USERS = {
    f"00000000-0000-0000-0000-0000000000{n:02d}": name
    for n, name in [(1, "andres"), (3, "juan"), (4, "fede")]
}
ANDRES, JUAN, FEDE = USERS
UNKNOWN = "00000000-0000-0000-0000-000000009999"
QUOTA = {ANDRES: 200_000, JUAN: 100_000, FEDE: 5_000}
ANTENNA_B = "00000000-0000-0000-0000-100000000002"
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def email(user: str) -> str:
    return f"{USERS[user]}@gmail.com" if user in USERS else user


def expected_hourly(events: list[dict]) -> list[tuple]:
    """(timestamp, type, id, value) rows, duplicates (equal content) counted once."""
    totals: dict[tuple, int] = defaultdict(int)
    seen = set()
    for e in events:
        content = (e["timestamp"], e["id"], e["antenna_id"], e["bytes"], e["app"])
        if content in seen:
            continue
        seen.add(content)
        hour = dt.datetime.fromtimestamp(e["timestamp"] - e["timestamp"] % 3600, dt.UTC)
        hour = hour.replace(tzinfo=None)
        totals[(hour, "antenna_bytes_total", e["antenna_id"])] += e["bytes"]
        totals[(hour, "user_bytes_total", email(e["id"]))] += e["bytes"]
        totals[(hour, "app_bytes_total", e["app"])] += e["bytes"]
    return sorted((*k, v) for k, v in totals.items())


def hour_events(hour: dt.datetime) -> list[dict]:
    m = dt.timedelta(minutes=1)
    counted, late = "counted", "late"  # what the speed layer did with each (its provenance)
    return [
        event(hour + 1 * m, ANDRES, 150_000, speed_status=counted),
        event(hour + 2 * m, ANDRES, 40_000, app="WHATSAPP", speed_status=late),
        # A producer retry: same content, as late as the first copy.
        event(hour + 2 * m, ANDRES, 40_000, app="WHATSAPP", speed_status=late),
        event(hour + 3 * m, JUAN, 99_999, antenna=ANTENNA_B, speed_status=late),
        event(hour + 4 * m, FEDE, 4_000, speed_status=counted),
        event(hour + 58 * m, FEDE, 1_500, app="TELEGRAM", speed_status=counted),  # fede: 5,500
        event(hour + 30 * m, UNKNOWN, 777, speed_status=counted),  # no user_metadata row
    ]


def speed_saw(pg, start: dt.datetime, end: dt.datetime, events: list[dict]) -> None:
    """The speed layer's window rows for [start, end): the events it counted (their
    provenance), nothing else, as its writer leaves them (bytes_by_hour follows by trigger)."""
    pg.execute("DELETE FROM bytes WHERE timestamp >= %s AND timestamp < %s", (start, end))
    for e in events:
        if e["speed_status"] != "counted":
            continue
        window = dt.datetime.fromtimestamp(e["timestamp"] - e["timestamp"] % 300, dt.UTC)
        for type_, key in (
            ("antenna_bytes_total", e["antenna_id"]),
            ("user_bytes_total", e["id"]),
            ("app_bytes_total", e["app"]),
        ):
            pg.execute(
                "INSERT INTO bytes VALUES (%s, %s, %s, %s) ON CONFLICT (timestamp, type, id)"
                " DO UPDATE SET value = bytes.value + EXCLUDED.value",
                (window.replace(tzinfo=None), key, e["bytes"], type_),
            )


BACKFILL_HOURS = (13, 14)


@pytest.fixture(scope="module")
def landed(base_day, land) -> None:
    """The module's events in one landing (each costs a Spark start): hour 10:00 of the base
    day plus one event of 11:00 that must not count in it, and the backfill test's hours."""
    hour = base_day + dt.timedelta(hours=10)
    backfill = [e for h in BACKFILL_HOURS for e in hour_events(base_day + h * HOUR)]
    land([*hour_events(hour), event(hour + dt.timedelta(minutes=61), ANDRES, 5), *backfill])


@pytest.fixture(scope="module")
def batch_job_nice() -> Iterator[dict[int, int]]:
    """The nice value of every process of a batch job this module's DAG runs start."""
    with system.NiceSampler(str(REPO / "spark_apps" / "batch_")) as seen:
        yield seen


@pytest.fixture(scope="module")
def hourly_case(base_day, landed, pg, batch_job_nice):
    """Hour 10:00 of the base day, computed by lambda_hourly."""
    hour = base_day + dt.timedelta(hours=10)
    events = hour_events(hour)
    speed_saw(pg, base_day, base_day + DAY, events)
    # 12:00 has only speed-layer rows: served from the speed layer.
    pg.execute(
        "INSERT INTO bytes VALUES (%s, 'SKYPE', 42, 'app_bytes_total')",
        (hour + dt.timedelta(hours=2, minutes=5),),
    )
    assert run_dag("lambda_hourly", hour, HOUR) == "success"
    return hour, events


def test_hourly_run_gives_exact_totals_quota_serving_and_reconciliation(hourly_case, pg):
    hour, events = hourly_case
    end = hour + dt.timedelta(hours=1)
    assert table(
        pg,
        "SELECT timestamp, type, id, value FROM bytes_hourly WHERE timestamp >= %s"
        " AND timestamp < %s",
        hour,
        end,
    ) == expected_hourly(events)
    assert table(
        pg, "SELECT email, usage, quota, timestamp FROM user_quota_limit WHERE timestamp = %s", hour
    ) == [("fede@gmail.com", 5_500, 5_000, hour)]
    stats = table(
        pg, "SELECT events, duplicates FROM batch_hourly_stats WHERE timestamp = %s", hour
    )
    assert stats == [(len(events) - 1, 1)]

    serving = table(
        pg,
        "SELECT timestamp, type, id, value, source FROM serving_bytes_hourly"
        " WHERE timestamp >= %s AND timestamp < %s",
        hour,
        hour + dt.timedelta(hours=3),
    )
    batch_rows = [(*r, "batch") for r in expected_hourly(events)]
    speed_rows = [(hour + dt.timedelta(hours=2), "app_bytes_total", "SKYPE", 42, "speed")]
    assert serving == sorted(batch_rows + speed_rows)

    total = sum(e["bytes"] for e in events) - 40_000  # the retry counted once
    missed_by_speed = 99_999 + 40_000  # dropped as late: the whole difference, explained
    recon = table(
        pg,
        "SELECT type, speed_total, batch_total, difference, late_events, late_bytes,"
        " unseen_bytes, unexplained FROM reconciliation WHERE timestamp = %s",
        hour,
    )
    assert recon == [
        (t, total - missed_by_speed, total, missed_by_speed, 2, missed_by_speed, 0, 0)
        for t in ("antenna_bytes_total", "app_bytes_total", "user_bytes_total")
    ]


def test_batch_jobs_run_below_the_streams_priority(hourly_case, batch_job_nice, settings):
    """On one machine the top of the hour's batch job must not take the live stream's cores
    (the first soak: freshness p95 57 s while it ran): spark-submit, its JVM and the Python
    driver run at LAMBDA_BATCH_NICE, the speed layer at the default priority."""
    assert settings.batch_nice > 0
    assert batch_job_nice, "no batch job process seen during the hourly run"
    assert set(batch_job_nice.values()) == {settings.batch_nice}, batch_job_nice


def test_rerunning_an_hour_leaves_identical_tables(hourly_case, pg):
    hour, _ = hourly_case
    window = (hour, hour + dt.timedelta(hours=1))
    before = snapshot(pg, *window)
    assert run_dag("lambda_hourly", hour, HOUR) == "success"
    assert snapshot(pg, *window) == before


def test_late_event_is_counted_by_the_daily_run(hourly_case, base_day, land, pg, settings):
    hour, events = hourly_case
    late = event(
        hour + dt.timedelta(minutes=20),
        JUAN,
        1_234,
        arrival_delay_s=3 * 3600,
        offset=99,
        speed_status="late",
    )
    land([late])  # lands after the hour's run
    before = table(
        pg,
        "SELECT type, batch_total, difference, late_events FROM reconciliation"
        " WHERE timestamp = %s",
        hour,
    )
    hour_dir = Path(raw_layout.hour_folder(settings.raw_dir, hour))
    assert len(list(hour_dir.glob("*.parquet"))) >= 2

    assert run_dag("lambda_daily", base_day, DAY) == "success"

    assert table(
        pg, "SELECT timestamp, type, id, value FROM bytes_hourly WHERE timestamp = %s", hour
    ) == expected_hourly([*events, late])
    after = table(
        pg,
        "SELECT type, batch_total, difference, late_events FROM reconciliation"
        " WHERE timestamp = %s",
        hour,
    )
    assert [(t, b + 1_234, d + 1_234, n + 1) for t, b, d, n in before] == after
    daily = table(
        pg, "SELECT type, sum(value) FROM bytes_daily WHERE timestamp = %s GROUP BY 1", base_day
    )
    every_event = [
        *events,
        late,
        *(e for h in BACKFILL_HOURS for e in hour_events(base_day + h * HOUR)),
    ]
    day_total = sum(r[3] for r in expected_hourly(every_event) if r[1] == "app_bytes_total")
    assert daily == [
        (t, day_total + 5)
        for t in ("antenna_bytes_total", "app_bytes_total", "user_bytes_total")  # + the 11:00 event
    ]
    # Compaction: one file per hour folder, the same rows.
    assert len(list(hour_dir.glob("*.parquet"))) == 1


def backfill_with_cli(start: dt.datetime, last: dt.datetime) -> None:
    created = subprocess.run(
        [
            str(REPO / "include/scripts/airflow.sh"),
            "cli",
            "backfill",
            "create",
            "--dag-id",
            "lambda_hourly",
            "--from-date",
            f"{start.isoformat()}+00:00",
            "--to-date",
            f"{last.isoformat()}+00:00",
            "--reprocess-behavior",
            "completed",
            "--max-active-runs",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-3000:]


def backfill(airflow_db, start: dt.datetime, last: dt.datetime, create) -> None:
    """Create a backfill over [start, last] (logical dates) with `create`; returns when the
    scheduler has finished every run of the range after the request, fails on a failed run."""
    requested = airflow_db.execute("SELECT now()").fetchone()[0]
    create(start, last)
    expected = int((last - start) / HOUR) + 1

    def finished() -> bool:
        done, failed = airflow_db.execute(
            "SELECT count(*) FILTER (WHERE state = 'success' AND end_date > %s),"
            " count(*) FILTER (WHERE state = 'failed' AND end_date > %s) FROM dag_run"
            " WHERE dag_id = 'lambda_hourly' AND logical_date BETWEEN %s AND %s",
            (requested, requested, start.replace(tzinfo=dt.UTC), last.replace(tzinfo=dt.UTC)),
        ).fetchone()
        assert failed == 0, "a backfill run failed"
        open_backfills = airflow_db.execute(
            "SELECT count(*) FROM backfill WHERE dag_id = 'lambda_hourly' AND completed_at IS NULL"
        ).fetchone()[0]
        return done == expected and open_backfills == 0

    wait_until(finished, 600, f"the backfill of {start} .. {last}")


def test_backfill_gives_exact_hours(base_day, landed, pg, airflow_db, settings):
    """The command line's backfill of two hours, both exact. (The UI's backfill dialog, POST
    /api/v2/backfills, drives the chaos run's batch layer; re-running an hour is tested above.)"""
    hours = [base_day + h * HOUR for h in BACKFILL_HOURS]
    speed_saw(pg, hours[0], hours[-1] + HOUR, [e for h in hours for e in hour_events(h)])
    api = AirflowApi(settings)
    api.set_paused("lambda_hourly", False)  # a paused DAG's backfill runs stay queued
    try:
        backfill(airflow_db, hours[0], hours[-1], backfill_with_cli)
    finally:
        # Paused again, as at creation: should the scheduler make scheduled runs (make test
        # turns them off), they would race the later tests' runs (a dag_run deadlock was seen).
        api.set_paused("lambda_hourly", True)
    both = snapshot(pg, hours[0], hours[-1] + HOUR)
    assert both["bytes_hourly"] == expected_hourly([e for h in hours for e in hour_events(h)])
    assert [r[0] for r in both["stats"]] == hours
    assert [r[:3] for r in both["user_quota_limit"]] == [("fede@gmail.com", 5_500, 5_000)] * 2


def test_reconciling_an_hour_emits_the_published_asset(hourly_case, airflow_db):
    """reconcile_hour's outlet: an asset event a downstream DAG can be scheduled on."""
    events = table(
        airflow_db,
        "SELECT a.uri, e.source_task_id FROM asset_event e JOIN asset a ON a.id = e.asset_id"
        " WHERE a.name = %s AND e.source_dag_id = 'lambda_hourly'",
        "serving_bytes_hourly",
    )
    assert events, "no asset event of serving_bytes_hourly from lambda_hourly"
    assert {task for _, task in events} == {"reconcile_hour"}
    assert events[0][0].startswith("postgres://") and events[0][0].endswith(
        "/public/serving_bytes_hourly"
    )


CHECKS = ["check_hour_figures", "check_hour_types_agree", "check_hour_explained"]


def test_a_bad_published_hour_fails_its_checks_visibly(hourly_case, pg, settings):
    """After publishing, one exact total turned negative and the reconciliation left 7 bytes
    unexplained: each check fails its own task (in the UI, and through the failure notifier in
    batch_task_failures). The same bad reconciliation of an hour older than the windows'
    retention is no verdict (nothing left to compare against): its check passes."""
    hour, _ = hourly_case
    assert run_dag("lambda_hourly", hour, HOUR, CHECKS) == "success"
    old_hour = hour - dt.timedelta(days=settings.retain_windows_days + 1)
    app_row = "timestamp = %s AND type = 'app_bytes_total' AND id = 'SKYPE'"
    pg.execute(f"UPDATE bytes_hourly SET value = -value WHERE {app_row}", (hour,))
    pg.execute(
        "UPDATE reconciliation SET unexplained = 7 WHERE timestamp = %s"
        " AND type = 'app_bytes_total'",
        (hour,),
    )
    pg.execute(
        "INSERT INTO reconciliation (timestamp, type, speed_total, batch_total, difference,"
        " late_events, quarantined_events, unexplained) VALUES (%s, 'app_bytes_total', 0, 7, 7,"
        " 0, 0, 7)",
        (old_hour,),
    )
    try:
        assert run_dag("lambda_hourly", hour, HOUR, CHECKS) == "failed"
        assert run_dag("lambda_hourly", old_hour, HOUR, CHECKS) == "success"
    finally:
        pg.execute(f"UPDATE bytes_hourly SET value = -value WHERE {app_row}", (hour,))
        pg.execute("UPDATE reconciliation SET unexplained = 0 WHERE timestamp = %s", (hour,))
        pg.execute("DELETE FROM reconciliation WHERE timestamp = %s", (old_hour,))
    failed = table(
        pg,
        "SELECT DISTINCT task_id FROM batch_task_failures WHERE dag_id = 'lambda_hourly'"
        " AND task_id LIKE 'check_hour_%%' ORDER BY 1",
    )
    assert failed == [(c,) for c in sorted(CHECKS)]
