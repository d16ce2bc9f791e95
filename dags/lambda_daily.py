"""
### lambda_daily

For each day (its data interval, run after the day is over): compact the day's small Parquet
files, recompute every hour of the day (so events that arrived after their hour's run are
counted) and the daily rollups (`bytes_daily`), then reconcile the day's hours and record the
day as done (`serving_days`). Then retention, as of the interval's end: old daily partitions of
the serving tables dropped (quarantine counted per reason first), old published days of the
Parquet dataset removed, Airflow's own old metadata cleaned; never a day the batch layer has not
published. Idempotent for its day; `lambda_sweep` runs it again for a day that was missed or got
events after it ran.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from lambda_airflow import (
    DAY_PUBLISHED,
    DEFAULT_ARGS,
    RETENTION,
    SQL_DIR,
    clean_airflow_metadata,
    run_sql,
    spark_job,
    wait_for_interval,
)

# The interval's day, not {{ ds }}: a manual run's logical date is when it was triggered.
DAY = "{{ data_interval_start.strftime('%Y-%m-%d') }}"

with DAG(
    dag_id="lambda_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[SQL_DIR],
    tags=["lambda", "batch-layer", "daily"],
    doc_md=__doc__,
):
    published = (
        wait_for_interval("wait_for_day_complete")
        >> spark_job("compact_day", "compact_day.py", ["--day", DAY])
        >> spark_job("recompute_day", "batch_daily.py", ["--day", DAY])
        >> run_sql("reconcile_day", "batch/reconcile.sql")
        >> run_sql("publish_day", "batch/publish_day.sql", outlets=[DAY_PUBLISHED])
    )
    (
        published
        >> run_sql("expire_tables", "batch/retention.sql", RETENTION)
        >> spark_job("expire_raw", "expire_raw.py", ["--day", DAY])
    )
    published >> clean_airflow_metadata("clean_airflow_metadata")
