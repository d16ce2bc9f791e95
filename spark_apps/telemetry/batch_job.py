"""Shared plumbing of the batch entry points: arguments, users from PostgreSQL over JDBC,
the Parquet read, the PostgreSQL write (rows staged by the executors, moved by the driver)."""

from __future__ import annotations

import argparse
import datetime as dt
import time

from pyspark.sql import DataFrame, SparkSession

from telemetry import batch, config, logs, pg_stage, postgres, preflight, raw_store, transforms
from telemetry.hours import HOUR, utc_naive
from telemetry.schema import STATS_COLUMNS, WINDOW_TOTAL_COLUMNS


def utc_day(value: str) -> dt.datetime:
    """'2026-11-27' (or an ISO timestamp: its day) -> that day's midnight, naive UTC."""
    return utc_naive(value).replace(hour=0, minute=0, second=0, microsecond=0)


def day_parser(description: str) -> argparse.ArgumentParser:
    """Arguments of the jobs that work on one UTC day: --day."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--day", required=True, type=utc_day, help="the UTC day, YYYY-MM-DD (or an ISO timestamp)"
    )
    return p


def read_users(spark: SparkSession, settings: config.Settings) -> DataFrame:
    return spark.read.jdbc(
        settings.jdbc_url,
        "user_metadata",
        properties={
            "user": settings.pg_login(),
            "password": settings.pg_password,
            "driver": "org.postgresql.Driver",
        },
    ).select("id", "email", "quota")


class ExpiredHoursError(RuntimeError):
    """Hours whose Parquet retention removed: recomputing them would publish nothing."""


def refuse_expired(
    spark: SparkSession, settings: config.Settings, start: dt.datetime, end: dt.datetime
) -> None:
    """A backfill of hours past LAMBDA_RETAIN_RAW_DAYS, none of whose files remain, would replace
    their published figures with empty ones: refused, the figures stay."""
    horizon = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(
        days=settings.retain_raw_days
    )
    if start < horizon and not raw_store.landed_folders(spark, settings.raw_dir, start, end):
        raise ExpiredHoursError(
            f"the hours {start} .. {end} are older than LAMBDA_RETAIN_RAW_DAYS="
            f"{settings.retain_raw_days} and their Parquet files are gone: recomputing them "
            "would replace their published figures with nothing, so they are kept as they are"
        )


def recompute_hours(
    spark: SparkSession, settings: config.Settings, start: dt.datetime, end: dt.datetime
) -> dict[str, int]:
    """Exact figures for the hours in [start, end), replacing that slice in PostgreSQL.

    The hours are read under their shared locks (postgres.hour_locks): a compaction of one of
    them waits until the read is over, and one under way is waited for."""
    refuse_expired(spark, settings, start, end)
    began = time.monotonic()
    hours = [start + i * HOUR for i in range(int((end - start) / HOUR))]
    with postgres.hour_locks(settings, hours, shared=True) as read_from:
        steps = {"lock": time.monotonic() - began}
        began = time.monotonic()
        raw = raw_store.read_hours(spark, settings.raw_dir, start, end)
        users = read_users(spark, settings)
        steps["open"] = time.monotonic() - began  # list the hours' files, users' JDBC schema
        began = time.monotonic()
        result = batch.hourly(raw, users)
        steps["plan"] = time.monotonic() - began
        totals = result.totals.withColumn("timestamp", transforms.utc_wallclock("timestamp"))
        over_quota = result.over_quota.withColumn(
            "timestamp", transforms.utc_wallclock("timestamp")
        )
        stats = result.stats.select(transforms.utc_wallclock("timestamp"), *STATS_COLUMNS)
        token, staged = pg_stage.new_token(), {}
        try:
            # The per-key rows (one per device and hour) go from the executors to PostgreSQL;
            # the driver collects the per-hour stats only.
            for table, frame, columns in (
                ("bytes_hourly", totals, WINDOW_TOTAL_COLUMNS),
                ("user_quota_limit", over_quota, postgres.QUOTA_COLUMNS),
            ):
                began = time.monotonic()
                target = pg_stage.Target.of(settings, table, columns)
                staged[table] = pg_stage.total(pg_stage.stage(frame, target, token))
                steps[table] = time.monotonic() - began
            began = time.monotonic()
            hour_stats = stats.collect()
            steps["stats"] = time.monotonic() - began
        finally:
            result.unpersist()
    began = time.monotonic()
    summary = postgres.replace_hours(settings, start, end, token, staged, hour_stats, read_from)
    steps["postgres"] = time.monotonic() - began
    # Where a run's time goes (the first Spark job also pays the JVM's warm-up).
    logs.get("batch").info("steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()))
    return summary


def run(name: str, parser: argparse.ArgumentParser, job) -> int:
    """Parse arguments, check PostgreSQL, run job(spark, settings, args); errors -> exit 2."""
    args = parser.parse_args()
    log = logs.get(name)
    try:
        settings = config.load(role="batch")  # SparkSubmitOperator or by hand: the batch role
        preflight.check_postgres(settings, ("bytes_hourly", "user_metadata"))
    except (config.ConfigError, preflight.PreflightError) as exc:
        log.error(exc)
        return 2
    from telemetry.session import get_session

    started = time.monotonic()
    spark = get_session(name, settings)
    log.info(f"Spark session ready in {time.monotonic() - started:.1f} s")
    try:
        summary = job(spark, settings, args)
    except ValueError as exc:
        log.error(exc)
        return 2
    finally:
        spark.stop()
    log.info(f"done in {time.monotonic() - started:.1f} s: {summary}")
    return 0
