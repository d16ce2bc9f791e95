"""Hours and instants as the project stores them: naive UTC datetimes (PostgreSQL's TIMESTAMP
columns), hours on the hour. The one place for the conversions both layers need."""

from __future__ import annotations

import datetime as dt

HOUR = dt.timedelta(hours=1)


def utc(epoch_seconds: int | None) -> dt.datetime | None:
    """Epoch seconds -> naive UTC datetime."""
    if epoch_seconds is None:
        return None
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).replace(tzinfo=None)


def utc_naive(value: str) -> dt.datetime:
    """'2026-11-28T05:00:00+00:00' or '2026-11-28' -> naive UTC datetime."""
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def floor_hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def hours_between(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The hours that overlap [start, end), from start's hour."""
    hours, t = [], floor_hour(start)
    while t < end:
        hours.append(t)
        t += HOUR
    return hours


def whole_hours(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) when both are on the hour and it is not empty; ValueError else."""
    if start.minute or start.second or start.microsecond or end.minute or end.second:
        raise ValueError(f"the interval {start} .. {end} does not start and end on whole hours")
    if end <= start:
        raise ValueError(f"the interval {start} .. {end} is empty")
    return start, end
