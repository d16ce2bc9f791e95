"""Complete without a person: lambda_sweep finds a day the daily DAG never ran (the scheduler
was down) and, after events land late in one of its hours, runs the day again; both through
real DAG runs (the sweep's triggers, executed by the scheduler)."""

from __future__ import annotations

import datetime as dt

from ..airflow_api import AirflowApi
from .conftest import event, run_dag, table, wait_until
from .test_batch_dags import JUAN, expected_hourly, hour_events

SWEEP_INTERVAL = dt.timedelta(minutes=15)
DAY = dt.timedelta(days=1)


def sweep_runs(airflow_db, day: dt.datetime, since: dt.datetime) -> list[tuple[str, str]]:
    """lambda_daily runs the sweep made for ``day`` after ``since`` (the metadata DB's clock)."""
    return airflow_db.execute(
        "SELECT run_id, state FROM dag_run WHERE dag_id = 'lambda_daily' AND run_id LIKE %s"
        " AND queued_at > %s ORDER BY run_id",
        (f"sweep__{day:%Y-%m-%d}__%", since),
    ).fetchall()


def wait_sweep_runs(airflow_db, day: dt.datetime, since: dt.datetime, n: int) -> None:
    def done() -> bool:
        runs = sweep_runs(airflow_db, day, since)
        assert not any(state == "failed" for _, state in runs), runs
        return len(runs) == n and all(state == "success" for _, state in runs)

    wait_until(done, 600, f"{n} sweep run(s) of lambda_daily for {day:%Y-%m-%d}")


def daily_totals(pg, day: dt.datetime) -> list[tuple]:
    return table(
        pg, "SELECT type, sum(value) FROM bytes_daily WHERE timestamp = %s GROUP BY 1", day
    )


def test_sweep_runs_a_missed_day_and_folds_in_late_events(land, pg, airflow_db, settings):
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    day = today - dt.timedelta(days=6)  # a day no other test uses
    hour = day + dt.timedelta(hours=10)
    events = hour_events(hour)
    land(events)  # landed as the speed layer lands them; no daily run ever came
    # The sweep as of just after the day settled (scheduled daily run's time + the wait + 1 h).
    settled = day + DAY + dt.timedelta(seconds=settings.hour_max_wait_seconds + 3600)
    since = airflow_db.execute("SELECT now()").fetchone()[0]
    api = AirflowApi(settings)
    api.set_paused("lambda_daily", False)
    try:
        assert run_dag("lambda_sweep", settled, SWEEP_INTERVAL) == "success"
        wait_sweep_runs(airflow_db, day, since, 1)
        assert table(
            pg, "SELECT timestamp, type, id, value FROM bytes_hourly WHERE timestamp = %s", hour
        ) == expected_hourly(events)
        day_total = sum(r[3] for r in expected_hourly(events) if r[1] == "app_bytes_total")
        assert [v for _, v in daily_totals(pg, day)] == [day_total] * 3
        assert table(pg, "SELECT timestamp FROM serving_days WHERE timestamp = %s", day) == [(day,)]
        assert table(pg, "SELECT * FROM hours_not_exact WHERE timestamp = %s", hour) == []
        # Nothing new: the next sweep asks for nothing.
        assert run_dag("lambda_sweep", settled + SWEEP_INTERVAL, SWEEP_INTERVAL) == "success"
        assert len(sweep_runs(airflow_db, day, since)) == 1

        # An event lands after the daily run: the hour is not exact until the sweep runs again.
        late = event(hour + dt.timedelta(minutes=20), JUAN, 1_234, offset=99, speed_status="late")
        land([late])
        assert [r[-1] for r in table(
            pg, "SELECT * FROM hours_not_exact WHERE timestamp = %s", hour
        )] == ["events landed since"]  # fmt: skip
        assert run_dag("lambda_sweep", settled + 2 * SWEEP_INTERVAL, SWEEP_INTERVAL) == "success"
        wait_sweep_runs(airflow_db, day, since, 2)
    finally:
        api.set_paused("lambda_daily", True)
    assert table(
        pg, "SELECT timestamp, type, id, value FROM bytes_hourly WHERE timestamp = %s", hour
    ) == expected_hourly([*events, late])
    assert [v for _, v in daily_totals(pg, day)] == [day_total + 1_234] * 3
    recon = table(
        pg, "SELECT batch_total, late_events FROM reconciliation WHERE timestamp = %s", hour
    )
    assert recon == [(day_total + 1_234, 3)] * 3
    assert table(pg, "SELECT * FROM hours_not_exact WHERE timestamp = %s", hour) == []
