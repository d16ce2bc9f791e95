"""Compact one day of the Parquet master dataset: each hour folder's many small files from
the streaming micro-batches become one file, with the same rows (checked before any original
is removed), a Kafka record landed twice by a replayed micro-batch kept once. Each hour is
compacted under its exclusive lock (postgres.hour_locks): no batch job reads it meanwhile.

Usage: spark-submit ... spark_apps/compact_day.py --day 2026-11-27
"""

from __future__ import annotations

import datetime as dt
import sys

from telemetry import failpoints, logs, postgres, raw_store
from telemetry.batch_job import day_parser, run

log = logs.get("compact-day")


def compact_hour(spark, settings, hour: dt.datetime, before_removing_originals):
    """One hour, under its exclusive lock: no batch job reads it meanwhile."""
    with postgres.hour_locks(settings, [hour], shared=False):
        return raw_store.compact_hour(spark, settings.raw_dir, hour, before_removing_originals)


def job(spark, settings, args) -> dict[str, int]:
    day = args.day
    files = rows = copies = hours = 0
    for h in range(24):
        hour = day + dt.timedelta(hours=h)
        done = compact_hour(
            spark,
            settings,
            hour,
            lambda: failpoints.reach(settings.home, "compact_between_moves", f"{day:%Y-%m-%d}"),
        )
        if done.files_replaced:
            files, rows, hours = files + done.files_replaced, rows + done.rows, hours + 1
            copies += done.copies_dropped
            log.info(
                f"{hour}: {done.files_replaced} files -> 1 ({done.rows} rows, "
                f"{done.copies_dropped} replayed copies dropped)"
            )
    return {
        "hours_compacted": hours,
        "files_replaced": files,
        "rows": rows,
        "replayed_copies_dropped": copies,
    }


if __name__ == "__main__":
    sys.exit(run("compact-day", day_parser(__doc__.splitlines()[0]), job))
