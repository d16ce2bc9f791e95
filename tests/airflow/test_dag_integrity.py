"""Every DAG imports cleanly, carries tags, an owner and retries, is light to import, and
no skipped task skips one that must run."""

from __future__ import annotations

import subprocess
import sys

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import TriggerRule
from airflow.sdk.definitions.mappedoperator import MappedOperator
from airflow.sdk.definitions.taskgroup import MappedTaskGroup

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
        # A data-quality check's verdict does not change on a retry; everything else retries.
        assert task.retries == 0 if task.task_id.startswith("check_") else task.retries >= 1, (
            task.task_id
        )


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


def _mapped_group(task) -> MappedTaskGroup | None:
    group = task.task_group
    while group is not None and not isinstance(group, MappedTaskGroup):
        group = group.parent_group
    return group


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_no_skip_reaches_a_task_that_must_run(dagbag, dag_id):
    """A mapped task with nothing to expand is skipped, and so is a trigger whose run exists
    (or a soft-failing sensor); under the default rule (all_success) whatever follows is skipped
    too: the sweep once skipped its hours whenever no day was stale. After a task that can skip,
    only a task of its own mapped group may keep that rule, and only after its mapping."""
    for task in dagbag.get_dag(dag_id).tasks:
        if task.trigger_rule != TriggerRule.ALL_SUCCESS:
            continue
        for upstream in task.upstream_list:
            skips_itself = getattr(upstream, "skip_when_already_exists", False) or getattr(
                upstream, "soft_fail", False
            )
            assert not skips_itself, f"{task.task_id} follows {upstream.task_id}, which can skip"
            mapped = isinstance(upstream, MappedOperator) or _mapped_group(upstream) is not None
            same_group = _mapped_group(upstream) is not None and _mapped_group(
                upstream
            ) is _mapped_group(task)
            assert not mapped or same_group, (
                f"{task.task_id} follows the mapped {upstream.task_id}, skipped when empty"
            )
