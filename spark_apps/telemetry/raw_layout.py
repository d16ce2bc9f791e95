"""Where the Parquet master dataset keeps an hour and a day: the folders partitionBy writes for
the partition columns (schema.PARTITION_COLUMNS), unpadded, under the dataset root (a bare path
or any Hadoop URI). The one place that spells the layout: the landing, the batch jobs' reads,
the compaction and the retention all build and parse folders here."""

from __future__ import annotations

import datetime as dt
import re

_DAY_FOLDER = re.compile(r"/year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})/?$")


def day_folder(root: str, day: dt.date) -> str:
    """The folder holding a day's hour folders."""
    return f"{root.rstrip('/')}/year={day.year}/month={day.month}/day={day.day}"


def hour_folder(root: str, hour: dt.datetime) -> str:
    """Where an hour's files live."""
    return f"{day_folder(root, hour)}/hour={hour.hour}"


def day_folders_glob(root: str) -> str:
    """A Hadoop glob matching every day folder of the dataset."""
    return f"{root.rstrip('/')}/year=*/month=*/day=*"


def folder_day(path: str) -> dt.date | None:
    """The day of a day folder's path (None for anything else, e.g. _staging)."""
    match = _DAY_FOLDER.search(path)
    if not match:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None
