"""A batch task that fails for good reaches the operator: a real lambda_hourly run whose Spark
task cannot start fails after its retries, and the failure notifier (include/lambda_notify.py)
logs the failure, records it in batch_task_failures and posts it to the alert webhook, once,
for the last try only."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator

import pytest

import lambda_airflow  # noqa: F401  the DAGs' settings, read now (at import), while still valid

from ..webhook import receiver
from .conftest import run_dag

HOUR = dt.timedelta(hours=1)
BAD_WINDOW = "not a duration"


@pytest.fixture
def webhook(monkeypatch) -> Iterator[list[dict]]:
    """A webhook on loopback (LAMBDA_ALERT_WEBHOOK_URL); yields the JSON bodies posted to it."""
    with receiver() as (url, posted):
        monkeypatch.setenv("LAMBDA_ALERT_WEBHOOK_URL", url)
        yield posted


def test_a_task_failing_for_good_is_logged_and_recorded(
    settings, base_day, pg, airflow_db, monkeypatch, capfd, webhook
):
    hour = base_day + 20 * HOUR  # an hour no other test runs
    # A worker with a broken setting: the Spark task reads the settings when it runs
    # (LambdaSparkSubmitOperator.execute), so every try fails at once, before any Spark starts.
    monkeypatch.setenv("LAMBDA_WINDOW", BAD_WINDOW)
    assert run_dag("lambda_hourly", hour, HOUR) == "failed"
    # In dag.test the task's log (structlog) goes to this process's output, not to logging.
    output = "".join(capfd.readouterr())

    run_id, state, try_number = airflow_db.execute(
        "SELECT r.run_id, t.state, t.try_number FROM dag_run r"
        " JOIN task_instance t USING (dag_id, run_id) WHERE r.dag_id = 'lambda_hourly'"
        " AND r.logical_date = %s AND t.task_id = 'compute_hour'"
        " ORDER BY r.run_after DESC LIMIT 1",  # this test's run: the newest of its hour
        ((hour + HOUR).replace(tzinfo=dt.UTC),),
    ).fetchone()
    assert state == "failed"
    assert try_number >= 3  # DEFAULT_ARGS' two retries ran first
    rows = pg.execute(
        "SELECT task_id, try_number, error FROM batch_task_failures"
        " WHERE dag_id = 'lambda_hourly' AND run_id = %s",
        (run_id,),
    ).fetchall()
    # One row: the tries before the last one are not failures for good.
    assert [(task, n) for task, n, _ in rows] == [("compute_hour", try_number)]
    error = f"ConfigError: LAMBDA_WINDOW={BAD_WINDOW!r} is not a duration like"
    assert rows[0][2].startswith(error), rows[0][2]
    line = (
        "task failed for good: dag_id=lambda_hourly task_id=compute_hour"
        f" run_id={run_id} try={try_number}: {error}"
    )
    assert line in output, "the notifier's log line"
    assert [(p["dag_id"], p["task_id"], p["run_id"], p["try_number"]) for p in webhook] == [
        ("lambda_hourly", "compute_hour", run_id, try_number)
    ]
    assert webhook[0]["text"].startswith(line)
    assert webhook[0]["error"] == rows[0][2]

    # The batch layer's exporter sees the failure and the failed run in Airflow's own tables.
    monkeypatch.delenv("LAMBDA_WINDOW")  # a sound setting again: the exporter reads them all
    scrape = subprocess.run(
        [str(settings.spark_venv / "bin" / "python"), "-m", "telemetry.batch_metrics", "--once"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert 'lambda_batch_source_up{database="airflow"} 1.0' in scrape
    assert 'lambda_batch_last_run_success{dag_id="lambda_hourly"} 0.0' in scrape
    failures = pg.execute(
        "SELECT count(*) FROM batch_task_failures"
        " WHERE dag_id = 'lambda_hourly' AND task_id = 'compute_hour'"
    ).fetchone()[0]
    labels = 'dag_id="lambda_hourly",task_id="compute_hour"'
    assert f"lambda_batch_task_failures_total{{{labels}}} {failures:.1f}" in scrape, scrape
    seconds = airflow_db.execute(
        "SELECT extract(epoch FROM end_date - start_date) FROM dag_run"
        " WHERE dag_id = 'lambda_hourly' AND end_date IS NOT NULL ORDER BY end_date DESC LIMIT 1"
    ).fetchone()[0]
    duration = next(
        float(x.split()[-1])
        for x in scrape.splitlines()
        if x.startswith('lambda_batch_last_run_duration_seconds{dag_id="lambda_hourly"}')
    )
    assert duration == pytest.approx(float(seconds))
