"""The batch DAGs' failure notifier: a task that failed for good reaches the operator.

Airflow calls it once a task has failed after its last retry (on_failure_callback, in
lambda_airflow.DEFAULT_ARGS). It logs one line, records the failure in batch_task_failures (the
batch layer's exporter counts the rows, the LambdaBatchTaskFailed alert fires on them) and, when
LAMBDA_ALERT_WEBHOOK_URL is set, posts it to that webhook. A failing notifier only logs: the
task has failed already, and a second error would hide the first.

Light at import (every DAG file imports it): the PostgreSQL hook is imported on a failure.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from airflow.sdk import BaseNotifier

from telemetry import config

ERROR_CHARS = 2000  # batch_task_failures.error, and the webhook's copy of it
WEBHOOK_TIMEOUT_SECONDS = 5
INSERT_FAILURE = (
    "INSERT INTO batch_task_failures (dag_id, task_id, run_id, try_number, error)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True)
class TaskFailure:
    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    error: str

    def summary(self) -> str:
        return (
            f"task failed for good: dag_id={self.dag_id} task_id={self.task_id}"
            f" run_id={self.run_id} try={self.try_number}: {self.error}"
        )


def failure_from_context(context: Any) -> TaskFailure:
    """The failed try, from a task callback's context (on a worker, or on the dag processor
    for a task that died without reporting: there the exception may be a message)."""
    ti = context.get("task_instance") or context["ti"]
    exc = context.get("exception")
    if isinstance(exc, BaseException):
        error = f"{type(exc).__name__}: {exc}"
    else:
        error = str(exc or context.get("reason") or "unknown error")
    return TaskFailure(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        try_number=int(ti.try_number),
        error=error[:ERROR_CHARS],
    )


def post_webhook(url: str, failure: TaskFailure) -> None:
    """POST the failure as JSON; `text` is what chat webhooks (Slack, Mattermost) display."""
    body = json.dumps({"text": failure.summary(), **asdict(failure)}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        response.read()


class TaskFailedNotifier(BaseNotifier):
    """Log, record and (optionally) post a task's final failure; never raises."""

    def __init__(self, conn_id: str) -> None:
        super().__init__()
        self.conn_id = conn_id  # the SQL tasks' connection (lambda_airflow.PG_CONN_ID)

    def notify(self, context: Any) -> None:
        try:
            failure = failure_from_context(context)
        except Exception:
            self.log.exception("failure notifier: no task instance in the callback's context")
            return
        self.log.error(failure.summary())
        try:
            self.record(failure)
        except Exception:
            self.log.exception("failure notifier: could not record the failure in PostgreSQL")
        try:
            url = config.alert_webhook_url()  # not load(): another setting may be the failure
            if url:
                post_webhook(url, failure)
        except Exception:
            self.log.exception("failure notifier: could not post to LAMBDA_ALERT_WEBHOOK_URL")

    def record(self, failure: TaskFailure) -> None:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        PostgresHook(postgres_conn_id=self.conn_id).run(
            INSERT_FAILURE,
            parameters=(
                failure.dag_id,
                failure.task_id,
                failure.run_id,
                failure.try_number,
                failure.error,
            ),
        )
