"""Retention of the Parquet master dataset: remove whole days older than LAMBDA_RETAIN_RAW_DAYS
before the end of --day, only those the batch layer has published and that got no events since
(telemetry.raw_retention). Run by lambda_daily after the day's compaction and publication.

Usage: spark-submit ... spark_apps/expire_raw.py --day 2026-11-27
"""

from __future__ import annotations

import datetime as dt
import sys

from telemetry import raw_retention
from telemetry.batch_job import day_parser, run


def job(spark, settings, args) -> dict[str, int | str]:
    today = (args.day + dt.timedelta(days=1)).date()  # the data interval's end
    return raw_retention.expire(spark, settings, today, settings.retain_raw_days)


if __name__ == "__main__":
    sys.exit(run("expire-raw", day_parser(__doc__.splitlines()[0]), job))
