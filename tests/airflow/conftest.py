"""Airflow-side fixtures: real PostgreSQL, real DAG runs (dag.test and the scheduler), Parquet
written by the same code as the speed layer (through the Spark side's Python)."""

from __future__ import annotations

import datetime as dt
import json
import select
import subprocess
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from telemetry import config

REPO = config.REPO_ROOT


@pytest.fixture(scope="session")
def pg(settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def airflow_db(settings) -> Iterator[psycopg.Connection]:
    """Airflow's metadata database (dag runs), on the same server, as its own role."""
    with psycopg.connect(settings.as_role("metadata").pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def base_day() -> dt.datetime:
    """A whole UTC day two days ago: long complete, so the DAGs' wait passes at once."""
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=2)


_batch_ids = iter(range(1_000_000, 2_000_000))


@pytest.fixture(scope="session")
def land(settings) -> Iterator[Callable[[list[dict]], None]]:
    """Land event dicts in the master dataset with the speed layer's writer (raw_store), through
    one Spark-side process for the whole session (tests/support/land_events.py)."""
    log = (settings.home / "logs" / "land-events.log").open("a")
    lander = subprocess.Popen(
        [
            str(settings.spark_venv / "bin" / "python"),
            str(REPO / "tests/support/land_events.py"),
            settings.raw_dir,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )

    def land_events(events: list[dict], timeout: float = 300) -> None:
        request = {"batch_id": next(_batch_ids), "events": events}
        lander.stdin.write(json.dumps(request) + "\n")
        lander.stdin.flush()
        # One answer line per request and nothing else on that pipe, so nothing waits in the
        # reader's buffer and select() sees the answer.
        if not select.select([lander.stdout], [], [], timeout)[0]:
            lander.kill()
            raise AssertionError(f"no answer from the lander in {timeout} s (see {log.name})")
        line = lander.stdout.readline()
        if not line:
            raise AssertionError(f"the lander exited {lander.wait()} (see {log.name})")
        assert line.startswith("REPLY landed"), f"{line.strip()} (see {log.name})"

    yield land_events
    lander.stdin.write(json.dumps({"stop": True}) + "\n")
    lander.stdin.close()
    try:
        lander.wait(timeout=60)
    except subprocess.TimeoutExpired:
        lander.kill()
    log.close()


def event(
    ts: dt.datetime,
    user: str,
    nbytes: int,
    app: str = "SKYPE",
    antenna: str = "00000000-0000-0000-0000-100000000001",
    arrival_delay_s: int = 5,
    offset: int = 0,
    speed_status: str | None = None,
) -> dict:
    """An event as landed; ``speed_status``: what the speed layer did with it (None: it never
    saw it, as for history landed directly)."""
    epoch = int(ts.replace(tzinfo=dt.UTC).timestamp())
    return {
        "timestamp": epoch,
        "id": user,
        "antenna_id": antenna,
        "bytes": nbytes,
        "app": app,
        "kafka_partition": 0,
        "kafka_offset": offset,
        "kafka_timestamp": epoch + arrival_delay_s,
        "speed_status": speed_status,
    }


def table(pg, sql: str, *params) -> list[tuple]:
    return sorted(pg.execute(sql, params).fetchall())


def snapshot(pg, start: dt.datetime, end: dt.datetime) -> dict[str, list[tuple]]:
    """Every batch-layer row of [start, end), without the bookkeeping times."""
    rng = (start, end)
    where = "WHERE timestamp >= %s AND timestamp < %s"
    return {
        "bytes_hourly": table(
            pg, f"SELECT timestamp, type, id, value FROM bytes_hourly {where}", *rng
        ),
        "user_quota_limit": table(pg, f"SELECT * FROM user_quota_limit {where}", *rng),
        "stats": table(
            pg,
            "SELECT timestamp, events, duplicates, late_events, late_bytes, unseen_events,"
            f" unseen_bytes, duplicates_dropped, overcounted_bytes FROM batch_hourly_stats {where}",
            *rng,
        ),
        "serving": table(pg, f"SELECT * FROM serving_bytes_hourly {where}", *rng),
        "reconciliation": table(
            pg,
            "SELECT timestamp, type, speed_total, batch_total, difference,"
            " late_events, quarantined_events, late_bytes, unseen_bytes, overcounted_bytes,"
            f" unexplained FROM reconciliation {where}",
            *rng,
        ),
    }


def run_dag(
    dag_id: str,
    interval_start: dt.datetime,
    interval: dt.timedelta,
    task_ids: list[str] | None = None,
) -> str:
    """One real DAG run in this process (dag.test), all tasks or only ``task_ids``; returns the
    run's state.

    dag.test makes a manual run, whose data interval is the one that ends at its date.
    """
    from airflow.dag_processing.dagbag import DagBag
    from sqlalchemy.exc import OperationalError

    dag = DagBag(str(REPO / "dags")).get_dag(dag_id)
    if task_ids:
        dag = dag.partial_subset(task_ids, include_upstream=False, include_downstream=False)
    logical_date = (interval_start + interval).replace(tzinfo=dt.UTC)
    try:
        run = dag.test(logical_date=logical_date)
    except OperationalError as exc:  # the scheduler touched the same dag_run: try once more
        if "deadlock detected" not in str(exc):
            raise
        run = dag.test(logical_date=logical_date)
    return str(run.state)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
