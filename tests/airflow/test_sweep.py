"""Complete without a person: lambda_sweep runs, under the real scheduler, what a downtime left
inexact: stale hours of a day still under way, a missed day, both at once, nothing at all; a
claim an earlier sweep made without creating its run is run; a day that got events after its
daily run is run again. Each sweep is a scheduler run of lambda_sweep for the 15 minutes ending
at its as-of time, as the schedule makes it; the runs it triggers are the scheduler's too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ..airflow_api import AirflowApi
from .conftest import event, table, wait_until
from .test_batch_dags import JUAN, expected_hourly, hour_events, speed_saw

SWEEP_INTERVAL = dt.timedelta(minutes=15)
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
TODAY = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
# Days no other test uses, further apart than the sweep's look-back (72 h), so each sweep below
# sees its own test's intervals only.
HOURS_DAY = TODAY - 8 * DAY  # hours of a day under way, the day not settled
MISSED_DAY = TODAY - 13 * DAY  # a day whose daily run never came
BOTH_DAY = TODAY - 30 * DAY  # a missed day, and hours of the day after it
QUIET_AS_OF = TODAY - 40 * DAY  # nothing landed within the look-back
STALE_HOURS = [HOURS_DAY + 3 * H, HOURS_DAY + 5 * H]
MISSED_HOUR = MISSED_DAY + 10 * H
BOTH_HOURS = [BOTH_DAY + 10 * H, BOTH_DAY + DAY]


@pytest.fixture(scope="module")
def sweeping(land, pg, settings) -> Iterator[AirflowApi]:
    """The module's events in one landing (each costs a Spark start) with the speed layer's
    rows of what it counted (the hourly runs check the two layers agree), and the three DAGs
    unpaused, so the scheduler runs what the sweep triggers (no scheduled runs in tests)."""
    hours = [*STALE_HOURS, MISSED_HOUR, *BOTH_HOURS]
    land([e for hour in hours for e in hour_events(hour)])
    for hour in hours:
        speed_saw(pg, hour, hour + H, hour_events(hour))
    api = AirflowApi(settings)
    dags = ("lambda_sweep", "lambda_hourly", "lambda_daily")
    for dag_id in dags:
        api.set_paused(dag_id, False)
    try:
        yield api
    finally:
        for dag_id in dags:
            api.set_paused(dag_id, True)


def sweep_at(api: AirflowApi, airflow_db, as_of: dt.datetime) -> dict[str, set[str]]:
    """One scheduler run of lambda_sweep as of ``as_of``; the states of each of its tasks."""
    run_id = f"test_sweep__{as_of:%Y%m%dT%H%M}"
    api.trigger("lambda_sweep", run_id, as_of - SWEEP_INTERVAL, as_of)
    wait_until(
        lambda: api.run_state("lambda_sweep", run_id) in ("success", "failed"),
        300,
        f"lambda_sweep run {run_id}",
    )
    assert api.run_state("lambda_sweep", run_id) == "success"
    states: dict[str, set[str]] = {}
    for task_id, state in airflow_db.execute(
        "SELECT task_id, state FROM task_instance WHERE dag_id = 'lambda_sweep' AND run_id = %s",
        (run_id,),
    ):
        states.setdefault(task_id, set()).add(state)
    return states


def swept_runs(airflow_db, since: dt.datetime) -> dict[str, list[tuple[str, str]]]:
    """The runs the sweep triggered after ``since`` (the metadata DB's clock), per DAG."""
    found: dict[str, list[tuple[str, str]]] = {"lambda_hourly": [], "lambda_daily": []}
    for dag_id, run_id, state in airflow_db.execute(
        "SELECT dag_id, run_id, state FROM dag_run WHERE run_id LIKE 'sweep\\_\\_%%'"
        " AND queued_at > %s ORDER BY run_id",
        (since,),
    ):
        found[dag_id].append((run_id, state))
    return found


def wait_swept(airflow_db, since: dt.datetime, hourly: list[str], daily: list[str]) -> None:
    """Until the sweep's runs since ``since`` are exactly these intervals' (their run ids'
    middle part) and all succeeded."""

    def done() -> bool:
        runs = swept_runs(airflow_db, since)
        assert not any(s == "failed" for rs in runs.values() for _, s in rs), runs
        for dag_id, want in (("lambda_hourly", hourly), ("lambda_daily", daily)):
            made = sorted(run_id.split("__")[1] for run_id, _ in runs[dag_id])
            assert set(made) <= set(want), f"{dag_id}: runs for {made}, expected {want}"
            if made != sorted(want) or any(s != "success" for _, s in runs[dag_id]):
                return False
        return True

    wait_until(done, 900, f"the sweep's runs: hourly {hourly}, daily {daily}")


def now(airflow_db) -> dt.datetime:
    return airflow_db.execute("SELECT now()").fetchone()[0]


def exact(pg, hour: dt.datetime, events: list[dict]) -> None:
    """The hour's batch figures are the events' and nothing says it is inexact."""
    assert table(
        pg, "SELECT timestamp, type, id, value FROM bytes_hourly WHERE timestamp = %s", hour
    ) == expected_hourly(events)
    assert table(pg, "SELECT * FROM hours_not_exact WHERE timestamp = %s", hour) == []


def daily_totals(pg, day: dt.datetime) -> list[int]:
    rows = table(
        pg, "SELECT type, sum(value) FROM bytes_daily WHERE timestamp = %s GROUP BY 1", day
    )
    return [v for _, v in rows]


def app_total(events: list[dict]) -> int:
    return sum(r[3] for r in expected_hourly(events) if r[1] == "app_bytes_total")


def test_stale_hours_run_when_no_day_is_stale(sweeping, pg, airflow_db, settings):
    # As the skipped trigger left them: an earlier sweep claimed the first hour, no run came.
    pg.execute(
        "INSERT INTO batch_requests (kind, timestamp, landed_at, run_id)"
        " SELECT 'hour', timestamp, landed_at, 'sweep__never' FROM landed_hours"
        " WHERE timestamp = %s",
        (STALE_HOURS[0],),
    )
    as_of = HOURS_DAY + 7 * H  # both hours settled, their day under way
    since = now(airflow_db)
    states = sweep_at(sweeping, airflow_db, as_of)
    assert states["run_stale_hours.trigger"] == {"success"}, states
    assert states["run_stale_hours.confirm"] == {"success"}, states
    assert states["run_stale_days.trigger"] == {"skipped"}, states  # no day: nothing to expand
    wait_swept(airflow_db, since, [f"{h:%Y-%m-%dT%H}" for h in STALE_HOURS], [])
    for hour in STALE_HOURS:
        exact(pg, hour, hour_events(hour))
    assert table(
        pg,
        "SELECT timestamp, triggered_at IS NOT NULL FROM batch_requests"
        " WHERE kind = 'hour' AND timestamp = ANY(%s)",
        STALE_HOURS,
    ) == [(h, True) for h in STALE_HOURS]
    # Nothing new: the next sweep asks for nothing.
    since = now(airflow_db)
    sweep_at(sweeping, airflow_db, as_of + SWEEP_INTERVAL)
    assert swept_runs(airflow_db, since) == {"lambda_hourly": [], "lambda_daily": []}


def test_a_missed_day_alone_runs_and_runs_again_after_late_events(
    sweeping, land, pg, airflow_db, settings
):
    events = hour_events(MISSED_HOUR)
    # Just after the day settled (the scheduled daily run's time + the wait + 1 h).
    as_of = MISSED_DAY + DAY + dt.timedelta(seconds=settings.hour_max_wait_seconds + 3600)
    since = now(airflow_db)
    states = sweep_at(sweeping, airflow_db, as_of)
    assert states["run_stale_hours.trigger"] == {"skipped"}, states  # its hours go with the day
    wait_swept(airflow_db, since, [], [f"{MISSED_DAY:%Y-%m-%d}"])
    exact(pg, MISSED_HOUR, events)
    assert daily_totals(pg, MISSED_DAY) == [app_total(events)] * 3
    assert table(pg, "SELECT timestamp FROM serving_days WHERE timestamp = %s", MISSED_DAY) == [
        (MISSED_DAY,)
    ]

    # An event lands after the daily run: the hour is not exact until the sweep runs again.
    late = event(MISSED_HOUR + 20 * dt.timedelta(minutes=1), JUAN, 1_234, offset=99,
                 speed_status="late")  # fmt: skip
    land([late])
    assert [r[-1] for r in table(
        pg, "SELECT * FROM hours_not_exact WHERE timestamp = %s", MISSED_HOUR
    )] == ["events landed since"]  # fmt: skip
    since = now(airflow_db)
    sweep_at(sweeping, airflow_db, as_of + SWEEP_INTERVAL)
    wait_swept(airflow_db, since, [], [f"{MISSED_DAY:%Y-%m-%d}"])
    exact(pg, MISSED_HOUR, [*events, late])
    assert daily_totals(pg, MISSED_DAY) == [app_total(events) + 1_234] * 3
    recon = table(
        pg, "SELECT batch_total, late_events FROM reconciliation WHERE timestamp = %s", MISSED_HOUR
    )
    assert recon == [(app_total(events) + 1_234, 3)] * 3


def test_a_missed_day_and_stale_hours_of_the_next_day_together(sweeping, pg, airflow_db, settings):
    day_hour, next_hour = BOTH_HOURS
    # The day after has begun: the missed day settled, the next day's first hour too.
    as_of = BOTH_DAY + DAY + dt.timedelta(seconds=settings.hour_max_wait_seconds + 3600)
    assert next_hour + H + dt.timedelta(seconds=settings.hour_max_wait_seconds) <= as_of
    since = now(airflow_db)
    states = sweep_at(sweeping, airflow_db, as_of)
    assert states["run_stale_days.confirm"] == states["run_stale_hours.confirm"] == {"success"}
    wait_swept(airflow_db, since, [f"{next_hour:%Y-%m-%dT%H}"], [f"{BOTH_DAY:%Y-%m-%d}"])
    for hour in BOTH_HOURS:
        exact(pg, hour, hour_events(hour))
    assert daily_totals(pg, BOTH_DAY) == [app_total(hour_events(day_hour))] * 3


def test_nothing_stale_runs_nothing(sweeping, airflow_db):
    since = now(airflow_db)
    states = sweep_at(sweeping, airflow_db, QUIET_AS_OF)
    assert states["claim_stale_hours"] == states["claim_stale_days"] == {"success"}, states
    assert states["run_stale_hours.trigger"] == states["run_stale_days.trigger"] == {"skipped"}
    assert swept_runs(airflow_db, since) == {"lambda_hourly": [], "lambda_daily": []}
