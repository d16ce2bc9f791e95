"""Retention against the real server: daily partitions (a dashboard range reads one), the daily
DAG's expire_tables SQL as the Airflow role (old days dropped, an unpublished day kept, the
quarantine's counts outliving its payloads, idempotent) and the Parquet retention of published
days only. The upgrade of tables made before partitioning: test_partition_upgrade.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import subprocess
from pathlib import Path

import psycopg
import pytest

from telemetry import config, raw_layout, raw_retention

from .conftest import REPO, SUBMIT

pytestmark = pytest.mark.integration

AS_OF = dt.datetime(2005, 7, 1)  # the retention run's data interval end; no other test uses 2005
DAY = dt.timedelta(days=1)
# Landed events, no daily run: never dropped (one in a daily partition, one in DEFAULT).
UNPUBLISHED = (dt.datetime(2005, 4, 10), dt.datetime(2005, 5, 10))
FIRST_PARTITION = dt.datetime(2005, 5, 1)  # the fixture's days before it sit in DEFAULT
PARTITIONED = ("bytes", "bytes_by_hour", "quarantine", "reconciliation")
KEY = {
    "bytes": "timestamp",
    "bytes_by_hour": "timestamp",
    "quarantine": "kafka_timestamp",
    "reconciliation": "timestamp",
}


def retention_params(settings: config.Settings) -> dict:
    """What lambda_airflow.RETENTION renders to for the run ending at AS_OF."""
    return {
        "interval_start": f"{(AS_OF - DAY).isoformat()}+00:00",
        "interval_end": f"{AS_OF.isoformat()}+00:00",
        "retain_windows_days": settings.retain_windows_days,
        "retain_quarantine_days": settings.retain_quarantine_days,
        "retain_quarantine_counts_days": settings.retain_quarantine_counts_days,
        "retain_reconciliation_days": settings.retain_reconciliation_days,
    }


def run_retention(settings: config.Settings) -> None:
    """sql/batch/retention.sql as the expire_tables task runs it: as the Airflow role, one
    bound statement at a time, in one transaction."""
    text = (REPO / "sql" / "batch" / "retention.sql").read_text()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    with psycopg.connect(settings.as_role("airflow").pg_dsn) as conn:
        for statement in filter(str.strip, body.split(";")):
            conn.execute(statement, retention_params(settings))


def days_of(pg, table: str) -> set[dt.date]:
    rows = pg.execute(f"SELECT DISTINCT CAST({KEY[table]} AS DATE) FROM {table}").fetchall()
    return {d for (d,) in rows}


def partitions(pg, table: str) -> list[tuple]:
    return pg.execute(
        "SELECT CAST(part AS TEXT), lower_bound FROM lambda_partitions(%s) ORDER BY 1", (table,)
    ).fetchall()


@pytest.fixture
def history(pg) -> list[dt.datetime]:
    """120 days before AS_OF in every partitioned table, each with landed events and published
    except UNPUBLISHED; days before FIRST_PARTITION have no partition (their rows sit in
    DEFAULT)."""
    pg.execute("TRUNCATE quarantine_daily")
    days = [AS_OF - (i + 1) * DAY for i in range(120)]
    for table in PARTITIONED:
        pg.execute(
            "SELECT lambda_ensure_partitions(%s, %s, %s)",
            (table, FIRST_PARTITION.date(), (AS_OF - DAY).date()),
        )
    for i, day in enumerate(days):
        pg.execute("INSERT INTO bytes VALUES (%s, 'a', 1, 'app_bytes_total')", (day,))
        for offset, reason in ((0, "not_json"), (1, "not_json"), (2, "absurd_time")):
            pg.execute(
                "INSERT INTO quarantine (kafka_topic, kafka_partition, kafka_offset,"
                " kafka_timestamp, reason) VALUES ('retention', 0, %s, %s, %s)",
                (10 * i + offset, day + dt.timedelta(hours=offset), reason),
            )
        pg.execute(
            "INSERT INTO reconciliation (timestamp, type, speed_total, batch_total, difference,"
            " late_events, quarantined_events) VALUES (%s, 'app_bytes_total', 1, 1, 0, 0, 0)",
            (day,),
        )
        pg.execute("INSERT INTO landed_hours VALUES (%s, 1, now())", (day + dt.timedelta(hours=5),))
        if day not in UNPUBLISHED:
            pg.execute("INSERT INTO serving_days (timestamp, read_from) VALUES (%s, now())", (day,))
    return days


def test_each_growing_table_has_daily_partitions_and_a_default(pg):
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None).date()
    for table in PARTITIONED:
        assert pg.execute(
            "SELECT relkind FROM pg_class WHERE oid = %s::regclass", (table,)
        ).fetchone() == ("p",)
        bounds = {lower.date() for _, lower in partitions(pg, table) if lower is not None}
        # Created at start from two days back to a week ahead (the start may be yesterday).
        assert {today - DAY + i * DAY for i in range(7)} <= bounds, table
        assert (f"{table}_default", None) in partitions(pg, table)


# The dashboard's queries over a time range, and the partitioned table each reads.
DASHBOARD_READS = {
    "traffic_windows": ("bytes", "bytes_by_hour"),
    "traffic_hourly": ("bytes_by_hour",),
    "quota_warning": ("bytes_by_hour",),
    "quarantine_by_reason": ("quarantine",),
    "quarantine_latest": ("quarantine",),
    "quarantine_latest_hidden": ("quarantine",),
    "reconciliation": ("reconciliation",),
}


def test_a_dashboard_range_reads_one_daily_partition(settings):
    hour = dt.datetime.now(dt.UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0) - DAY
    params = {"type": "app_bytes_total", "key": None, "top_n": 10, "max_rows": 10}
    params.update(start=hour, end=hour + dt.timedelta(hours=1))
    with psycopg.connect(settings.as_role("reader").pg_dsn) as conn:
        for name, tables in DASHBOARD_READS.items():
            sql = (REPO / "sql" / "dashboard" / f"{name}.sql").read_text()
            plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params).fetchall())
            for table in tables:
                scanned = set(re.findall(rf" on ({table}_(?:p\d{{8}}|default))\b", plan))
                assert scanned == {f"{table}_p{hour:%Y%m%d}"}, (name, table, plan)


def test_retention_drops_old_days_but_never_an_unpublished_one(pg, settings, history):
    run_retention(settings)
    for table, keep in (
        ("bytes", settings.retain_windows_days),
        ("bytes_by_hour", settings.retain_windows_days),  # the same days as bytes
        ("quarantine", settings.retain_quarantine_days),
        ("reconciliation", settings.retain_reconciliation_days),
    ):
        horizon = (AS_OF - keep * DAY).date()
        kept = {d.date() for d in UNPUBLISHED}
        assert days_of(pg, table) == {d.date() for d in history if d.date() >= horizon} | kept
        old = [p for p, lower in partitions(pg, table) if lower and lower.date() < horizon]
        unpublished_partitions = [d for d in UNPUBLISHED if FIRST_PARTITION <= d]
        assert old == [f"{table}_p{d:%Y%m%d}" for d in unpublished_partitions if d.date() < horizon]
        # The week ahead of the run's end exists.
        bounds = {lower.date() for _, lower in partitions(pg, table) if lower is not None}
        assert {AS_OF.date() + i * DAY for i in range(8)} <= bounds


def test_quarantine_counts_outlive_the_payloads(pg, settings, history):
    run_retention(settings)
    counts = pg.execute(
        "SELECT day, reason, records FROM quarantine_daily ORDER BY 1, 2"
    ).fetchall()
    expected = sorted(
        (d.date(), reason, n)
        for d in history
        for reason, n in (("absurd_time", 1), ("not_json", 2))
    )
    assert counts == expected  # every day, those whose payloads just expired included
    assert len(days_of(pg, "quarantine")) < len(history)


def test_retention_twice_is_retention_once(pg, settings, history):
    def state() -> dict:
        return {
            "partitions": [partitions(pg, t) for t in PARTITIONED],
            "days": [days_of(pg, t) for t in PARTITIONED],
            "counts": pg.execute("SELECT * FROM quarantine_daily ORDER BY 1, 2").fetchall(),
        }

    run_retention(settings)
    once = state()
    run_retention(settings)
    assert state() == once


def touch_day(root: Path, day: dt.date) -> None:
    folder = Path(raw_layout.day_folder(str(root), day)) / "hour=3"
    folder.mkdir(parents=True)
    (folder / "compacted-1.parquet").write_bytes(b"x" * 100)


def test_expire_raw_removes_only_published_settled_old_days(pg, settings, spark, tmp_path):
    root = tmp_path / "raw"
    gone, unpublished, stale, recent = (dt.date(2005, 3, d) for d in (20, 21, 22, 28))
    for day in (gone, unpublished, stale, recent):
        touch_day(root, day)
    for day in (gone, stale, recent):
        pg.execute("INSERT INTO serving_days (timestamp, read_from) VALUES (%s, now())", (day,))
    for day in (gone, unpublished, stale):
        landed = "now() - interval '1 hour'" if day != stale else "now() + interval '1 hour'"
        pg.execute(f"INSERT INTO landed_hours VALUES (%s, 1, {landed})", (day,))
    last_day = AS_OF.date() - DAY  # before: AS_OF - 95 days = 2005-03-28
    assert settings.retain_raw_days == 95
    job = subprocess.run(
        ["bash", str(SUBMIT), "spark_apps/expire_raw.py", "--day", last_day.isoformat()],
        cwd=REPO,
        env={**os.environ, "LAMBDA_RAW_DIR": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    assert f"[expire-raw] removed {gone}: 1 files, 100 bytes" in job.stdout
    assert raw_retention.dataset_days(spark, str(root)) == [unpublished, stale, recent]
    local = dataclasses.replace(settings.as_role("batch"), raw_dir=str(root))
    again = raw_retention.expire(spark, local, AS_OF.date(), settings.retain_raw_days)
    assert again["days_removed"] == 0 and again["days_kept_stale"] == 1
