"""
### lambda_hourly

For each hour (its data interval): wait until the speed layer's watermark has passed the hour
(or the hour is long over), then spark-submit the exact batch aggregation over the Parquet
master dataset (`bytes_hourly`, `user_quota_limit`), then reconcile against the speed layer
and publish the hour to `serving_bytes_hourly` (the Asset `serving_bytes_hourly`: a DAG can be
scheduled on it), then check what it published (data-quality tasks, `sql/checks/`): no negative
figure or empty key, the three per-type totals equal, the speed/batch difference explained.
Every task replaces exactly its hour, so
re-runs and backfills (`airflow backfill create --dag-id lambda_hourly --from-date ...
--to-date ...`) converge to the same tables.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from lambda_airflow import (
    DEFAULT_ARGS,
    HOUR_PUBLISHED,
    RETENTION,
    SQL_DIR,
    check_sql,
    run_sql,
    spark_job,
    wait_for_interval,
)

with DAG(
    dag_id="lambda_hourly",
    # Interval timetable: each run owns [data_interval_start, data_interval_end) (Airflow 3
    # cron schedules default to a zero-length interval).
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=3,
    default_args=DEFAULT_ARGS,
    template_searchpath=[SQL_DIR],
    tags=["lambda", "batch-layer", "hourly"],
    doc_md=__doc__,
):
    (
        wait_for_interval("wait_for_hour_complete")
        >> spark_job(
            "compute_hour",
            "batch_hourly.py",
            [
                "--start",
                "{{ data_interval_start.isoformat() }}",
                "--end",
                "{{ data_interval_end.isoformat() }}",
            ],
        )
        >> run_sql("reconcile_hour", "batch/reconcile.sql", outlets=[HOUR_PUBLISHED])
        >> [
            check_sql("check_hour_figures", "checks/hour_figures.sql"),
            check_sql("check_hour_types_agree", "checks/hour_types_agree.sql"),
            check_sql("check_hour_explained", "checks/hour_explained.sql", RETENTION),
        ]
    )
