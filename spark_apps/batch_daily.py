"""Batch layer, daily: recompute every hour of --day (so events that arrived after their
hour's run are counted) and write the day's rollups to bytes_daily.

Usage: spark-submit ... spark_apps/batch_daily.py --day 2026-11-27
"""

from __future__ import annotations

import datetime as dt
import sys

from telemetry import logs, postgres
from telemetry.batch_job import day_parser, recompute_hours, run

log = logs.get("batch-daily")


def job(spark, settings, args) -> dict[str, int]:
    day = args.day
    end = day + dt.timedelta(days=1)
    log.info(f"recomputing the hours of {day:%Y-%m-%d}")
    written = recompute_hours(spark, settings, day, end)
    # An event belongs to exactly one hour, so the day's exact totals are the sums of its
    # just-recomputed hours: no second pass over the Parquet files.
    written["bytes_daily"] = postgres.replace_days_from_hours(settings, day, end)
    return written


if __name__ == "__main__":
    sys.exit(run("batch-daily", day_parser(__doc__.splitlines()[0]), job))
