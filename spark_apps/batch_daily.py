"""Batch layer, daily: recompute every hour of --day (so events that arrived after their
hour's run are counted) and write the day's rollups to bytes_daily.

Usage: spark-submit ... spark_apps/batch_daily.py --day 2026-11-27
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from telemetry import postgres, raw_store, transforms
from telemetry.batch import daily_totals
from telemetry.batch_job import read_users, recompute_hours, run, utc_naive


def job(spark, settings, args) -> dict[str, int]:
    day = utc_naive(args.day).replace(hour=0, minute=0, second=0, microsecond=0)
    end = day + dt.timedelta(days=1)
    print(f"[batch-daily] recomputing the hours of {day:%Y-%m-%d}", flush=True)
    written = recompute_hours(spark, settings, day, end)
    raw = raw_store.read_hours(spark, str(settings.raw_dir), day, end)
    totals = daily_totals(raw, read_users(spark, settings)).select(
        transforms.utc_wallclock("timestamp"), "id", "value", "type"
    )
    written["bytes_daily"] = postgres.replace_days(settings, day, end, totals.collect())
    return written


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--day", required=True, help="the UTC day, YYYY-MM-DD (or an ISO timestamp)")
    return p


if __name__ == "__main__":
    sys.exit(run("batch-daily", parser(), job))
