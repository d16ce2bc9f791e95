"""Every DAG imports cleanly, carries tags, an owner and retries, and is light to import."""

from __future__ import annotations

import subprocess
import sys

import pytest
from airflow.dag_processing.dagbag import DagBag

from .conftest import REPO

DAG_IDS = {"lambda_hourly", "lambda_daily", "lambda_sweep"}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_tags_owner_retries(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag.tags
    for task in dag.tasks:
        assert task.owner and task.owner != "airflow", task.task_id
        assert task.retries >= 1, task.task_id


def test_dag_files_import_fast_without_spark():
    """Parsing runs often: no pyspark and no Spark session at import time, and quick.
    (psycopg2 may be loaded: Airflow's own ORM set-up imports it when airflow is imported.)"""
    code = (
        "import sys, time; t = time.monotonic();"
        "sys.path[:0] = ['dags'];"
        "import lambda_hourly, lambda_daily, lambda_sweep;"
        "print(time.monotonic() - t, 'pyspark' in sys.modules, 'telemetry.postgres' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    seconds, spark_loaded, our_db_code_loaded = float(out[0]), out[1], out[2]
    assert spark_loaded == "False"
    assert our_db_code_loaded == "False"
    assert seconds < 10


def test_daily_retention_runs_once_the_day_is_published(dagbag):
    dag = dagbag.get_dag("lambda_daily")
    assert dag.get_task("publish_day").downstream_task_ids == {
        "expire_tables",
        "clean_airflow_metadata",
    }
    assert dag.get_task("expire_tables").downstream_task_ids == {"expire_raw"}
