"""The batch layer's figures: the hourly batch job over the Parquet the speed layer landed (it
must count every event), against DuckDB over the same files (same totals, checked) on hours of
growing size, and the whole lambda_hourly DAG run, each held to the project's goals."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmark import duckdb_hourly
from benchmark.figures import BenchmarkError, Figure, Target, log
from benchmark.kafka_io import HISTORY_SECONDS
from benchmark.submit import submit
from telemetry import config, postgres

# From the project's performance goals.
BATCH_TARGET = Target("slowdown", 10)  # the hourly job after start-up against DuckDB's time
DAG_RUN_TARGET = Target("seconds", 60)  # the whole lambda_hourly run


def run_batch_job(
    env: dict[str, str], start: datetime, end: datetime, timeout: float
) -> tuple[float, float]:
    """spark-submit the hourly batch job for [start, end): (wall seconds, seconds after the
    Spark session was ready, from its own log)."""
    t0 = time.perf_counter()
    proc = submit(
        "spark_apps/batch_hourly.py",
        ["--start", start.isoformat(), "--end", end.isoformat()],
        env,
        timeout,
    )
    wall = time.perf_counter() - t0
    done = re.search(r"done in ([\d.]+) s", proc.stdout)
    ready = re.search(r"Spark session ready in ([\d.]+) s", proc.stdout)
    if not (done and ready):
        raise BenchmarkError(f"no timing lines in the hourly batch job's output:\n{proc.stdout}")
    return wall, float(done.group(1)) - float(ready.group(1))


def user_emails(settings: config.Settings) -> dict[str, str]:
    with postgres.connect(settings) as conn:
        return dict(conn.execute("SELECT id, email FROM user_metadata").fetchall())


def duckdb_agrees(
    settings: config.Settings, root: str, hour: datetime, emails: dict[str, str]
) -> float:
    """DuckDB's hourly totals over the Parquet files of ``hour`` under ``root``; seconds taken.
    Fails unless they equal the batch job's rows in bytes_hourly for every type and key."""
    seconds, duck = duckdb_hourly.hourly_totals(root, hour, emails, threads=os.cpu_count() or 2)
    with postgres.connect(settings.as_role("reader")) as conn:
        spark = {
            (t, k): v
            for t, k, v in conn.execute(
                "SELECT type, id, value FROM bytes_hourly WHERE timestamp = %s",
                (hour.replace(tzinfo=None),),
            ).fetchall()
        }
    if spark != duck:
        differ = sorted(k for k in spark.keys() | duck.keys() if spark.get(k) != duck.get(k))
        raise BenchmarkError(
            f"the batch job and DuckDB disagree on {len(differ)} totals of the hour {hour}, "
            f"e.g. {differ[:3]}"
        )
    return seconds


def batch_hourly(
    settings: config.Settings, env: dict[str, str], start: datetime, events: int, timeout: float
) -> list[Figure]:
    """The hourly batch job over the backlog's two hours, and DuckDB over the same files."""
    end = start + timedelta(seconds=HISTORY_SECONDS)
    wall, compute = run_batch_job(env, start, end, timeout)
    with postgres.connect(settings.as_role("reader")) as conn:
        counted = conn.execute(
            "SELECT coalesce(sum(events), 0) FROM batch_hourly_stats "
            "WHERE timestamp >= %s AND timestamp < %s",
            (start.replace(tzinfo=None), end.replace(tzinfo=None)),
        ).fetchone()[0]
    if counted != events:
        raise BenchmarkError(f"the hourly batch job counted {counted} events, expected {events}")
    emails = user_emails(settings)
    hours = [start + timedelta(hours=h) for h in range(HISTORY_SECONDS // 3600)]
    duck = sum(duckdb_agrees(settings, env["LAMBDA_RAW_DIR"], h, emails) for h in hours)
    return [
        Figure("batch_wall", "hourly batch job, spark-submit to exit", events, wall, "speed_layer"),
        # The speed layer's start-up figures are compared with this one: the same spark-submit.
        Figure(
            "batch_fixed",
            "hourly batch job fixed cost: spark-submit to exit - after start-up",
            None,
            wall - compute,
        ),
        Figure("duckdb", "DuckDB hourly totals over the same files", events, duck),
        Figure(
            "batch_compute",
            "hourly batch job, after Spark start-up",
            events,
            compute,
            "duckdb",
            (BATCH_TARGET,),
        ),
    ]


def json_list(output: str) -> list:
    """The JSON list in a CLI's output: Airflow prints log lines around it, and pretty-prints
    it over several lines."""
    for found in re.finditer(r"^\[", output, re.MULTILINE):
        try:
            value = json.JSONDecoder().raw_decode(output[found.start() :])[0]
        except json.JSONDecodeError:
            continue
        if isinstance(value, list):
            return value
    return []


def lambda_hourly_run(
    settings: config.Settings,
    env: dict[str, str],
    hour: datetime,
    events: int,
    timeout: float,
    baseline: str,
) -> Figure:
    """The whole lambda_hourly DAG run for ``hour`` (sensor, spark-submit of the batch job,
    reconciliation) with ``airflow dags test``: Airflow's metadata database, no scheduler. Timed
    from the command's start to its exit, so the CLI's start (~10 s) is in it: the run record's
    start date is not its wall-clock start for a re-run of the same date."""
    airflow = settings.tools_dir / "venv" / "airflow" / "bin" / "airflow"
    if not airflow.exists() or "AIRFLOW_HOME" not in env:
        raise BenchmarkError(
            "the DAG run needs Airflow's environment and metadata database: run it with make bench"
        )
    logical = (hour + timedelta(hours=1)).isoformat()  # a manual run's interval ends at its date
    began = time.perf_counter()
    proc = subprocess.run(
        [str(airflow), "dags", "test", "lambda_hourly", logical],
        cwd=config.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - began
    listed = subprocess.run(
        [str(airflow), "dags", "list-runs", "lambda_hourly", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    runs = [
        r
        for r in json_list(listed.stdout)
        if datetime.fromisoformat(r["logical_date"]) == datetime.fromisoformat(logical)
    ]
    if proc.returncode != 0 or not runs or runs[0]["state"] != "success":
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise BenchmarkError(f"the lambda_hourly run for {hour} did not succeed:\n{tail}")
    return Figure(
        "lambda_hourly",
        f"lambda_hourly DAG run (airflow dags test, CLI start in), {events:,}-event hour",
        events,
        seconds,
        baseline,
        (DAG_RUN_TARGET,),
    )


def batch_against_duckdb(
    settings: config.Settings,
    env: dict[str, str],
    work: Path,
    sizes: list[int],
    people: tuple[int, int],
    figures: list[Figure],
) -> None:
    """The hourly batch job against DuckDB on one hour of each of ``sizes`` events (users and
    antennas: ``people``), each in an hour of its own: the same files, the same totals
    (checked), and how the cost grows with the size; then the whole lambda_hourly run on the
    last one. Appends to ``figures`` as it goes, so an error later keeps what was measured."""
    root = work / "big_raw"
    big_env = {**env, "LAMBDA_RAW_DIR": str(root)}
    now = int(time.time())
    first = now - now % 3600 - 48 * 3600  # far from the backlog's hours
    emails = user_emails(settings)
    timeout = max(600.0, max(sizes) / 5000)
    log(f"hours of {', '.join(f'{s:,}' for s in sizes)} events: landing them (spark-submit)")
    submit(
        "include/benchmark/big_hour.py",
        [str(root), str(first), *map(str, people), *map(str, sizes)],
        big_env,
        timeout * len(sizes),
    )
    for i, size in enumerate(sizes):
        hour = datetime.fromtimestamp(first + i * 3600, UTC)
        log(f"the {size:,}-event hour: batch job, then DuckDB")
        _, compute = run_batch_job(
            big_env, hour, hour + timedelta(hours=1), max(600.0, size / 5000)
        )
        duck_seconds = duckdb_agrees(settings, str(root), hour, emails)
        figures.append(
            Figure(f"duckdb_{i}", f"DuckDB hourly totals, {size:,}-event hour", size, duck_seconds)
        )
        figures.append(
            Figure(
                f"batch_{i}",
                f"hourly batch job after start-up, {size:,}-event hour",
                size,
                compute,
                f"duckdb_{i}",
                (BATCH_TARGET,),
            )
        )
    last = len(sizes) - 1
    log(f"the {sizes[last]:,}-event hour: the whole lambda_hourly run (airflow dags test)")
    hour = datetime.fromtimestamp(first + last * 3600, UTC)
    figures.append(
        lambda_hourly_run(settings, big_env, hour, sizes[last], timeout, f"batch_{last}")
    )
    shutil.rmtree(root, ignore_errors=True)
