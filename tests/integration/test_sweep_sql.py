"""The sweep's choice of intervals (sql/batch/sweep_*.sql) against PostgreSQL, as the Airflow
role runs it: missed hours and days, hours and days with events landed after their batch read
them, each requested once. The DAG that runs them is tested on the Airflow side."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from telemetry import config

pytestmark = pytest.mark.integration

AS_OF = dt.datetime(2004, 5, 5, 12)  # the sweep run's end; no other test uses 2004
H = dt.timedelta(hours=1)
EARLY, LATER = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
PARAMS = {
    "interval_end": f"{AS_OF.isoformat()}+00:00",
    "lookback_hours": 200,
    "max_wait_seconds": 1800,
    "day_settle_seconds": 1800 + 3600,
    "retry_seconds": 7200,
}


def sweep(settings: config.Settings, kind: str, params: dict = PARAMS) -> list[tuple]:
    sql = (config.REPO_ROOT / "sql" / "batch" / f"sweep_{kind}s.sql").read_text()
    params = {k: v for k, v in params.items() if f"%({k})s" in sql}
    with psycopg.connect(settings.as_role("airflow").pg_dsn) as conn:
        return sorted(conn.execute(sql, params).fetchall())


def confirm(settings: config.Settings, claimed: list[tuple]) -> None:
    """What the sweep's confirm task does once a claim's run exists."""
    sql = (config.REPO_ROOT / "sql" / "batch" / "sweep_confirm.sql").read_text()
    with psycopg.connect(settings.as_role("airflow").pg_dsn) as conn:
        for _, run_id in claimed:
            assert conn.execute(sql, {"run_id": run_id}).rowcount == 1, run_id


def land(pg, hour: dt.datetime, at: dt.datetime) -> None:
    pg.execute(
        "INSERT INTO landed_hours VALUES (%s, 1, %s) ON CONFLICT (timestamp)"
        " DO UPDATE SET landed_at = EXCLUDED.landed_at",
        (hour, at),
    )


def computed(pg, hour: dt.datetime, read_from: dt.datetime) -> None:
    pg.execute(
        "INSERT INTO batch_hourly_stats (timestamp, events, duplicates, late_events, read_from)"
        " VALUES (%s, 1, 0, 0, %s)",
        (hour, read_from),
    )


def intervals(claimed: list[tuple], length: dt.timedelta) -> list[tuple[dt.datetime, ...]]:
    """The data interval of each run (Airflow's manual runs: the one ending before run_after)."""
    found = []
    for run_after, _ in claimed:
        moment = dt.datetime.fromisoformat(run_after).replace(tzinfo=None)
        end = moment.replace(minute=0, second=0, microsecond=0)
        if length == dt.timedelta(days=1):
            end = end.replace(hour=0)
        assert moment > end, "run_after inside the next interval, never a scheduled run's date"
        found.append((end - length, end))
    return found


def test_sweep_requests_missed_and_stale_intervals_once(pg, settings):
    today = AS_OF.replace(hour=0)
    land(pg, today + 9 * H, EARLY)  # settled, never computed (the scheduler was down)
    land(pg, today + 11 * H, EARLY)  # not settled: its scheduled run goes first
    land(pg, today + 8 * H, EARLY)
    computed(pg, today + 8 * H, LATER)  # computed after its last landing: exact
    land(pg, today + 7 * H, LATER)
    computed(pg, today + 7 * H, EARLY)  # events landed after the batch read it
    settled = today - dt.timedelta(days=2)
    land(pg, settled + 10 * H, EARLY)  # a settled day without a daily run
    done = today - dt.timedelta(days=3)
    land(pg, done + 5 * H, EARLY)
    pg.execute("INSERT INTO serving_days (timestamp, read_from) VALUES (%s, %s)", (done, LATER))
    late = today - dt.timedelta(days=4)
    land(pg, late + 5 * H, LATER)  # landed after the daily run read it
    pg.execute("INSERT INTO serving_days (timestamp, read_from) VALUES (%s, %s)", (late, EARLY))
    old = AS_OF - dt.timedelta(hours=300)
    land(pg, old, EARLY)  # beyond the look-back: left alone

    hours = sweep(settings, "hour")
    assert intervals(hours, H) == [(today + 7 * H, today + 8 * H), (today + 9 * H, today + 10 * H)]
    assert all(run_id.startswith("sweep__2004-05-05T0") for _, run_id in hours)
    days = sweep(settings, "day")
    day = dt.timedelta(days=1)
    assert intervals(days, day) == [(late, late + day), (settled, settled + day)]

    confirm(settings, hours + days)  # their runs were created
    assert sweep(settings, "hour") == [] and sweep(settings, "day") == [], "requested twice"
    land(pg, today + 9 * H, LATER)  # more events landed in a requested hour
    again = sweep(settings, "hour")
    assert intervals(again, H) == [(today + 9 * H, today + 10 * H)]
    assert again[0] != hours[1], "a new request is a new run (run id and logical date)"


def test_a_claim_whose_run_was_not_created_is_claimed_at_the_next_sweep(pg, settings):
    day = AS_OF.replace(hour=0) - dt.timedelta(days=6)
    hour_as_of = day + 12 * H  # the day not settled yet: its hours are swept
    land(pg, day + 3 * H, EARLY)
    land(pg, day + 4 * H, EARLY)
    # A day's look-back: the other test's intervals stay out of it.
    params = {**PARAMS, "interval_end": f"{hour_as_of.isoformat()}+00:00", "lookback_hours": 24}
    first = sweep(settings, "hour", params)
    assert intervals(first, H) == [(day + 3 * H, day + 4 * H), (day + 4 * H, day + 5 * H)]
    confirm(settings, first[:1])  # the second hour's trigger failed: no run, no confirmation
    second = sweep(settings, "hour", params)
    assert intervals(second, H) == [(day + 4 * H, day + 5 * H)], "the unrun claim held"
    assert second[0] != first[1], "claimed again as a new run"
    confirm(settings, second)
    assert sweep(settings, "hour", params) == []
    # The same for a day, swept once it has settled.
    day_as_of = day + dt.timedelta(days=1, seconds=PARAMS["day_settle_seconds"])
    params = {**params, "interval_end": f"{day_as_of.isoformat()}+00:00"}
    claimed = sweep(settings, "day", params)
    assert intervals(claimed, dt.timedelta(days=1)) == [(day, day + dt.timedelta(days=1))]
    assert intervals(sweep(settings, "day", params), dt.timedelta(days=1)) == [
        (day, day + dt.timedelta(days=1))
    ]
