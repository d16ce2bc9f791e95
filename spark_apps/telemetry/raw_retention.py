"""Retention of the Parquet master dataset: whole days older than the horizon are removed, but
only days the batch layer has published (serving_days: the daily run compacted and computed
them) and that got no events since (otherwise those events would exist nowhere else).

A day is its folder (raw_layout.day_folder) and goes as a whole,
under the exclusive locks of its hours (postgres.hour_locks), so no batch job reads it while its
files disappear. Any Hadoop file system (hdfs://, s3a://, a local path), through the JVM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psycopg
from pyspark.sql import SparkSession

from telemetry import config, logs, postgres, raw_store
from telemetry.raw_layout import day_folder, day_folders_glob, folder_day

RAW_DAYS_SQL = config.REPO_ROOT / "sql" / "batch" / "raw_days.sql"

log = logs.get("expire-raw")


@dataclass(frozen=True)
class Plan:
    """What happens to the dataset's days before the horizon."""

    remove: list[dt.date] = field(default_factory=list)
    unpublished: list[dt.date] = field(default_factory=list)  # kept: never published
    stale: list[dt.date] = field(default_factory=list)  # kept: events landed after the run


def plan(present: Iterable[dt.date], published: Mapping[dt.date, bool], before: dt.date) -> Plan:
    """``published``: day -> stale, for the published days. Only days before ``before`` count."""
    old = sorted(d for d in set(present) if d < before)
    return Plan(
        remove=[d for d in old if d in published and not published[d]],
        unpublished=[d for d in old if d not in published],
        stale=[d for d in old if published.get(d)],
    )


def dataset_days(spark: SparkSession, root: str) -> list[dt.date]:
    """The days that have a folder under the dataset root."""
    fs, jvm = raw_store.filesystem(spark, root)
    found = fs.globStatus(jvm.org.apache.hadoop.fs.Path(day_folders_glob(root)))
    days = (folder_day(s.getPath().toString()) for s in (found or []) if s.isDirectory())
    return sorted(d for d in days if d is not None)


def published_days(settings: config.Settings, before: dt.date) -> dict[dt.date, bool]:
    """Published days before ``before`` -> whether events landed after their daily run."""
    midnight = dt.datetime.combine(before, dt.time())
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute(RAW_DAYS_SQL.read_text(), {"before": midnight}).fetchall()
    return dict(rows)


@dataclass(frozen=True)
class Removed:
    files: int
    bytes: int


def remove_day(spark: SparkSession, root: str, day: dt.date) -> Removed:
    """Delete a day's folder, then its month's and year's when they are left empty."""
    folder = day_folder(root, day)
    fs, jvm = raw_store.filesystem(spark, folder)
    path = jvm.org.apache.hadoop.fs.Path(folder)
    if not fs.exists(path):
        return Removed(0, 0)
    summary = fs.getContentSummary(path)
    removed = Removed(int(summary.getFileCount()), int(summary.getLength()))
    if not fs.delete(path, True):
        raise OSError(f"could not delete {folder}")
    for parent in (path.getParent(), path.getParent().getParent()):
        if fs.exists(parent) and len(fs.listStatus(parent)) == 0:
            fs.delete(parent, False)
    return removed


def expire(
    spark: SparkSession, settings: config.Settings, today: dt.date, retain_days: int
) -> dict[str, int | str]:
    """Remove the published, settled days older than ``retain_days`` before ``today`` (the
    run's data interval end, so a re-run removes nothing more); print each and the kept ones."""
    before = today - dt.timedelta(days=retain_days)
    root = settings.raw_dir
    todo = plan(dataset_days(spark, root), published_days(settings, before), before)
    files = size = 0
    for day in todo.remove:
        hours = [dt.datetime.combine(day, dt.time(h)) for h in range(24)]
        with postgres.hour_locks(settings, hours, shared=False):
            removed = remove_day(spark, root, day)
        files, size = files + removed.files, size + removed.bytes
        log.info(f"removed {day}: {removed.files} files, {removed.bytes} bytes")
    for day in todo.unpublished:
        log.info(f"kept {day}: the batch layer has not published it")
    for day in todo.stale:
        log.info(
            f"kept {day}: events landed after its daily run (run lambda_daily for it to fold"
            " them in)"
        )
    return {
        "before": before.isoformat(),
        "days_removed": len(todo.remove),
        "files_removed": files,
        "bytes_removed": size,
        "days_kept_unpublished": len(todo.unpublished),
        "days_kept_stale": len(todo.stale),
    }
