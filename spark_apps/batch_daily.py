"""Batch layer, daily: recompute every hour of --day (so events that arrived after their
hour's run are counted) and write the day's rollups to bytes_daily.

Usage: spark-submit ... spark_apps/batch_daily.py --day 2026-11-27
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from telemetry import postgres
from telemetry.batch_job import recompute_hours, run, utc_naive


def job(spark, settings, args) -> dict[str, int]:
    day = utc_naive(args.day).replace(hour=0, minute=0, second=0, microsecond=0)
    end = day + dt.timedelta(days=1)
    print(f"[batch-daily] recomputing the hours of {day:%Y-%m-%d}", flush=True)
    written = recompute_hours(spark, settings, day, end)
    # An event belongs to exactly one hour, so the day's exact totals are the sums of its
    # just-recomputed hours: no second pass over the Parquet files.
    written["bytes_daily"] = postgres.replace_days_from_hours(settings, day, end)
    return written


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--day", required=True, help="the UTC day, YYYY-MM-DD (or an ISO timestamp)")
    return p


if __name__ == "__main__":
    sys.exit(run("batch-daily", parser(), job))
