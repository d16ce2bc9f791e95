"""
### lambda_sweep

Every 15 minutes: finds the hours and days whose batch figures are missing (the scheduler or
the whole stack was down) or older than events landed since (late events, also after the daily
run), within `LAMBDA_SWEEP_LOOKBACK_HOURS`, and triggers `lambda_hourly` / `lambda_daily` runs
for exactly those intervals. Recent hours go to the hourly DAG; once a day has settled, its
whole day goes to the daily DAG. The hours and the days are swept independently: either may
have nothing to run. A staleness is requested once (`batch_requests`): each claim is confirmed
once its run exists, and a claim whose run was not created is claimed again by the next sweep.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, TriggerRule, task_group
from airflow.timetables.interval import CronDataIntervalTimetable

from lambda_airflow import DEFAULT_ARGS, PG_CONN_ID, SQL_DIR, SWEEP, TriggerIntervalRun


def claimed_run(row) -> dict:
    """A claimed interval -> its run: run_after (a moment inside the next interval, see
    sql/batch/sweep_hours.sql) is also the logical date, unique per DAG."""
    run_after, run_id = row
    return {"run_after": run_after, "run_id": run_id}


def sweep(kind: str, dag_id: str, parameters: dict) -> None:
    claimed = SQLExecuteQueryOperator(
        task_id=f"claim_stale_{kind}s",
        conn_id=PG_CONN_ID,
        sql=f"batch/sweep_{kind}s.sql",
        parameters=parameters,
    )

    @task_group(group_id=f"run_stale_{kind}s")
    def run_claimed(run_after: str, run_id: str) -> None:
        # One group per claim: its confirm waits for its own trigger only. A trigger that found
        # its run already made (an earlier try) is skipped, and the claim still confirmed.
        (
            TriggerIntervalRun(
                task_id="trigger",
                trigger_dag_id=dag_id,
                logical_date=run_after,
                trigger_run_id=run_id,
                skip_when_already_exists=True,
            )
            >> SQLExecuteQueryOperator(
                task_id="confirm",
                conn_id=PG_CONN_ID,
                sql="batch/sweep_confirm.sql",
                parameters={"run_id": run_id},
                trigger_rule=TriggerRule.NONE_FAILED,
            )
        )

    run_claimed.expand_kwargs(claimed.output.map(claimed_run))


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
    # No edge between the two: a sweep with no stale day skips the days' (empty) expansion,
    # and a skipped upstream would skip the hours' too.
    sweep("day", "lambda_daily", {k: v for k, v in SWEEP.items() if k != "max_wait_seconds"})
    sweep("hour", "lambda_hourly", SWEEP)
