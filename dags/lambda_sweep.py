"""
### lambda_sweep

Every 15 minutes: finds the hours and days whose batch figures are missing (the scheduler or
the whole stack was down) or older than events landed since (late events, also after the daily
run), within `LAMBDA_SWEEP_LOOKBACK_HOURS`, and triggers `lambda_hourly` / `lambda_daily` runs
for exactly those intervals. Recent hours go to the hourly DAG; once a day has settled, its
whole day goes to the daily DAG. A staleness is requested once (`batch_requests`).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from lambda_airflow import DEFAULT_ARGS, PG_CONN_ID, SQL_DIR, SWEEP


def trigger_kwargs(row) -> dict:
    """A claimed interval -> the run that computes it: its data interval is the one that ends
    before run_after; the logical date (unique per DAG) is the same moment."""
    run_after, run_id = row
    return {"logical_date": run_after, "run_after": run_after, "trigger_run_id": run_id}


def sweep(kind: str, dag_id: str, parameters: dict) -> TriggerDagRunOperator:
    claimed = SQLExecuteQueryOperator(
        task_id=f"claim_stale_{kind}s",
        conn_id=PG_CONN_ID,
        sql=f"batch/sweep_{kind}s.sql",
        parameters=parameters,
    )
    return TriggerDagRunOperator.partial(
        task_id=f"run_stale_{kind}s",
        trigger_dag_id=dag_id,
        skip_when_already_exists=True,
    ).expand_kwargs(claimed.output.map(trigger_kwargs))


with DAG(
    dag_id="lambda_sweep",
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[SQL_DIR],
    tags=["lambda", "batch-layer", "sweep"],
    doc_md=__doc__,
):
    days = {k: v for k, v in SWEEP.items() if k != "max_wait_seconds"}
    sweep("day", "lambda_daily", days) >> sweep("hour", "lambda_hourly", SWEEP)
