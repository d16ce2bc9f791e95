"""What both batch DAGs share: default arguments, the Spark submit factory, the SQL folder.

Light at import: reads the environment, nothing else. What depends on the machine that runs a
task (the jars folder, the zipped telemetry package) is looked up when the task runs, so a DAG
processor without the Spark side's files parses these DAGs as well.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.common.sql.sensors.sql import SqlSensor
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Asset

from lambda_notify import TaskFailedNotifier
from lambda_sql import IntervalCheckOperator, IntervalSqlOperator
from telemetry import config, lineage, submit_args

REPO = config.REPO_ROOT
SQL_DIR = str(REPO / "sql")
SPARK_APPS = REPO / "spark_apps"
PG_CONN_ID = "telemetry_db"  # the secrets backend's file (config.airflow_connections)
SPARK_CONN_ID = "spark_default"  # AIRFLOW_CONN_SPARK_DEFAULT

_settings = config.load()

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=_settings.task_retry_delay_seconds),
    "execution_timeout": dt.timedelta(minutes=30),
    # After the last retry: logged, recorded in batch_task_failures, posted to a webhook if set.
    "on_failure_callback": TaskFailedNotifier(PG_CONN_ID),
}


def wait_for_interval(task_id: str) -> SqlSensor:
    """Reschedule-mode sensor: frees its worker slot between pokes."""
    return SqlSensor(
        task_id=task_id,
        conn_id=PG_CONN_ID,
        sql="batch/interval_complete.sql",
        parameters={
            **INTERVAL,
            "grace_seconds": int(_settings.hour_grace_seconds),
            "max_wait_seconds": int(_settings.hour_max_wait_seconds),
        },
        mode="reschedule",
        poke_interval=60,
        timeout=6 * 3600,
    )


class LambdaSparkSubmitOperator(SparkSubmitOperator):
    """SparkSubmitOperator with the project's jars, py-files and confs (submit_args, as the
    service scripts use them), read on the worker when the task runs; spark-submit runs at
    LAMBDA_BATCH_NICE, below the always-on speed layer. The OpenLineage listener reports what the
    job read and wrote; the provider adds the task's run as the job's parent."""

    def execute(self, context):
        if not Path(self.application).is_file():
            raise FileNotFoundError(f"no Spark app {self.application} on this worker")
        settings = config.load()
        jars = [submit_args.jars(settings), *lineage.jars(settings)]
        self.jars = ",".join(filter(None, jars)) or None
        self.py_files = submit_args.py_files(settings)
        self.conf = {
            **submit_args.confs(settings),
            **lineage.spark_confs(settings),
            **(self.conf or {}),
        }
        self._batch_nice = settings.batch_nice
        return super().execute(context)

    def _get_hook(self) -> SparkSubmitHook:
        # Built by execute() after it adds the OpenLineage parent run's confs to self.conf.
        return niced(super()._get_hook(), getattr(self, "_batch_nice", 0))


def niced(hook: SparkSubmitHook, nice: int) -> SparkSubmitHook:
    """``hook`` whose spark-submit (and so its JVM and the Python driver, which inherit it) runs
    under ``nice -n``: on a machine shared with the stream, the job gets the cores the stream
    leaves. Only the child is niced: dag.test runs tasks inside the caller's process. The hook
    has no setting for it, so its command builder is wrapped."""
    if nice:
        build = hook._build_spark_submit_command
        hook._build_spark_submit_command = lambda app: ["nice", "-n", str(nice), *build(app)]
    return hook


def spark_job(task_id: str, app: str, args: list[str]) -> SparkSubmitOperator:
    """spark-submit one of spark_apps/ to the Spark connection's master."""
    return LambdaSparkSubmitOperator(
        task_id=task_id,
        application=str(SPARK_APPS / app),
        application_args=args,
        conn_id=SPARK_CONN_ID,
        name=f"lambda-{task_id}",
    )


class TriggerIntervalRun(TriggerDagRunOperator):
    """Triggers the run of the data interval that ends before its logical date. Airflow infers
    a triggered run's interval from run_after (now when unset), which the operator does not
    template: it is set to the rendered logical date when the task runs."""

    def execute(self, context):
        self.run_after = self.logical_date
        return super().execute(context)


# The run's data interval as SQL bind parameters (%(interval_start)s): bound by the driver,
# never pasted into the SQL text.
INTERVAL = {
    "interval_start": "{{ data_interval_start.isoformat() }}",
    "interval_end": "{{ data_interval_end.isoformat() }}",
}


# The sweep's bind parameters (sql/batch/sweep_*.sql): its run's end is its as-of time. A day
# settles an hour after the hours' wait (the scheduled daily run goes first); a request whose
# run failed for good is made again after two hours.
SWEEP = {
    "interval_end": "{{ data_interval_end.isoformat() }}",
    "lookback_hours": int(_settings.sweep_lookback_hours),
    "max_wait_seconds": int(_settings.hour_max_wait_seconds),
    "day_settle_seconds": int(_settings.hour_max_wait_seconds) + 3600,
    "retry_seconds": 2 * 3600,
}


# Retention's bind parameters (sql/batch/retention.sql): the horizons in days, and the run's
# data interval, whose end is the retention's "now".
RETENTION = {
    **INTERVAL,
    "retain_windows_days": int(_settings.retain_windows_days),
    "retain_quarantine_days": int(_settings.retain_quarantine_days),
    "retain_quarantine_counts_days": int(_settings.retain_quarantine_counts_days),
    "retain_reconciliation_days": int(_settings.retain_reconciliation_days),
}


def run_sql(
    task_id: str, sql_file: str, parameters: dict | None = None, outlets: list | None = None
) -> IntervalSqlOperator:
    """A sql/ file over the run's data interval (bind parameters: INTERVAL unless given). Its
    statements run one by one (a server-side bound statement holds one command), in one
    transaction; the server's notices (what retention dropped) go to the task log."""
    return IntervalSqlOperator(
        task_id=task_id,
        conn_id=PG_CONN_ID,
        sql=sql_file,
        parameters=INTERVAL if parameters is None else parameters,
        split_statements=True,
        hook_params={"enable_log_db_messages": True},
        outlets=outlets or [],
    )


def check_sql(task_id: str, sql_file: str, parameters: dict | None = None) -> IntervalCheckOperator:
    """A data-quality check (sql/checks/): fails, visibly and through the failure notifier,
    unless every value of the query's first row is true. Bind parameters: INTERVAL unless given.
    No retries: a verdict on published data does not change by asking again."""
    return IntervalCheckOperator(
        task_id=task_id,
        retries=0,
        conn_id=PG_CONN_ID,
        sql=sql_file,
        parameters=INTERVAL if parameters is None else parameters,
    )


def _table_asset(table: str) -> Asset:
    """A published table as an Airflow Asset (postgres://host:port/database/schema/table, the
    form OpenLineage names tables by): downstream DAGs can be scheduled on it."""
    return Asset(
        name=table,
        uri=f"postgres://{_settings.pg_host}:{_settings.pg_port}/{_settings.pg_db}/public/{table}",
    )


HOUR_PUBLISHED = _table_asset("serving_bytes_hourly")  # reconcile_hour's outlet
DAY_PUBLISHED = _table_asset("bytes_daily")  # publish_day's outlet


# What Airflow's task runner puts in a task's environment so task code cannot reach the
# metadata database (a URL that connects nowhere); `airflow db clean` needs the real one.
_BLOCKED_DB_URLS = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__SQL_ALCHEMY_CONN")


class MetadataCleanOperator(BashOperator):
    """`airflow db clean` run by this worker's own Python (the airflow script need not be on
    PATH), with the deployment's metadata URL: the one AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD
    gives (config.airflow_env, docker-compose.yaml), not the task runner's blocked one."""

    def execute(self, context):
        if not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"):
            raise RuntimeError("no AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD: no metadata URL")
        self.env = {k: v for k, v in os.environ.items() if k not in _BLOCKED_DB_URLS}
        self.env["LAMBDA_AIRFLOW_PYTHON"] = sys.executable
        self.append_env = False
        return super().execute(context)


def clean_airflow_metadata(task_id: str) -> BashOperator:
    """Airflow's metadata (runs, task instances, logs, XComs...) older than retain_airflow_days
    before the run's data interval end: a re-run removes nothing more, a backfill of an old day
    less. Not archived (--skip-archive); a table that cannot be cleaned fails the task."""
    return MetadataCleanOperator(
        task_id=task_id,
        bash_command=(
            '"$LAMBDA_AIRFLOW_PYTHON" -m airflow db clean --clean-before-timestamp'
            " '{{ (data_interval_end - macros.timedelta(days=params.keep_days)).isoformat() }}'"
            " --skip-archive --yes --error-on-cleanup-failure"
        ),
        params={"keep_days": int(_settings.retain_airflow_days)},
    )
