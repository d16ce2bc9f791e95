"""Batch layer, hourly: exact totals per antenna, user email and app, and users over quota, for
the hours in [--start, --end), replacing those hours in PostgreSQL in one transaction.

Usage: spark-submit ... spark_apps/batch_hourly.py --start 2026-11-28T05:00:00+00:00
       [--end 2026-11-28T06:00:00+00:00]      (end defaults to start + 1 hour)
"""

from __future__ import annotations

import argparse
import sys

from telemetry import logs
from telemetry.batch_job import recompute_hours, run
from telemetry.hours import HOUR, utc_naive, whole_hours

log = logs.get("batch-hourly")


def job(spark, settings, args) -> dict[str, int]:
    start = utc_naive(args.start)
    end = utc_naive(args.end) if args.end else start + HOUR
    start, end = whole_hours(start, end)
    log.info(f"recomputing {start} .. {end} from {settings.raw_dir}")
    return recompute_hours(spark, settings, start, end)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--start", required=True, help="first hour (ISO 8601, UTC if no offset)")
    p.add_argument("--end", help="end of the interval, exclusive (default: start + 1 hour)")
    return p


if __name__ == "__main__":
    sys.exit(run("batch-hourly", parser(), job))
