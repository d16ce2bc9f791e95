"""PostgreSQL writes of both layers: retries, hour locks, staged rows moved set-based, hour
replacements. The speed layer's commit of a micro-batch is telemetry.speed.commit."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg

from telemetry import failpoints, logs
from telemetry.config import Settings
from telemetry.hours import HOUR
from telemetry.schema import STATS_COLUMNS, WINDOW_TOTAL_COLUMNS

# What a restart, a crash or a network cut of PostgreSQL raises: the server is away, the same
# transaction may succeed later. Anything else (bad data, a missing table) is not retried.
TRANSIENT_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
Result = TypeVar("Result")


def with_retry(settings: Settings, what: str, write: Callable[[], Result]) -> Result:
    """Run ``write`` (one whole transaction, so running it again is safe) until it succeeds,
    retrying transient errors with exponential backoff for ``settings.pg_retry_seconds``.

    Each retry is logged to stderr; after the deadline the last error is raised.
    """
    deadline = time.monotonic() + settings.pg_retry_seconds
    delay, attempt = 1.0, 0
    while True:
        try:
            return write()
        except TRANSIENT_ERRORS as exc:
            attempt += 1
            if time.monotonic() + delay > deadline:
                raise
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            logs.get("postgres").warning(
                f"{what}: attempt {attempt} failed ({detail}); retrying in {delay:.0f}s"
            )
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


@contextmanager
def connect(settings: Settings):
    """One connection, one transaction: committed on success, rolled back on error."""
    with psycopg.connect(settings.pg_dsn) as conn:
        yield conn


def copy_rows(
    conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY rows into a table (usually a temp staging table); returns the row count."""
    count = 0
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


# Namespace (first key) of the hour locks: PostgreSQL advisory locks are shared by every client.
HOUR_LOCK_CLASS = 0x1A4B


@contextmanager
def hour_locks(
    settings: Settings, hours: Iterable[dt.datetime], shared: bool
) -> Iterator[dt.datetime]:
    """Hold one advisory lock per hour: shared by the batch jobs that read the hours, exclusive
    by the compaction that rewrites one, so a compaction never removes or adds a file under a
    reader. Yields PostgreSQL's clock once every lock is held (the read's start, comparable with
    landed_hours.landed_at). Session locks: a killed holder's connection ends and frees them."""
    take = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        for hour in sorted(set(hours)):
            epoch_hour = int(hour.replace(tzinfo=dt.UTC).timestamp()) // 3600
            conn.execute(f"SELECT {take}(%s, %s)", (HOUR_LOCK_CLASS, epoch_hour))
        yield conn.execute("SELECT clock_timestamp()").fetchone()[0]


class StagedRowsError(RuntimeError):
    """The rows staged under a token are not the rows its Spark tasks reported: nothing of the
    batch is applied; the caller stages it again under a new token."""


# The staging tables each writer moves rows from (sql/schema/007_staging.sql).
SPEED_STAGED = ("bytes", "quarantine")
BATCH_STAGED = ("bytes_hourly", "user_quota_limit")
QUOTA_COLUMNS = ("email", "usage", "quota", "timestamp")  # user_quota_limit's


def move_staged(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    token: str,
    expected: int,
    on_conflict: str = "",
) -> int:
    """The rows the executors staged under ``token`` (telemetry.pg_stage) moved into ``table``
    (alias t for ``on_conflict``) in one statement, in the caller's transaction; returns their
    count, which must be ``expected``."""
    names = ", ".join(columns)
    moved = conn.execute(
        f"""
        WITH moved AS (
            DELETE FROM staged_{table} WHERE token = %s RETURNING {names}
        ), written AS (
            INSERT INTO {table} AS t ({names}) SELECT {names} FROM moved {on_conflict}
        )
        SELECT count(*) FROM moved
        """,
        (token,),
    ).fetchone()[0]
    if moved != expected:
        raise StagedRowsError(
            f"{moved} rows staged for {table} under {token}, its Spark tasks reported {expected}"
        )
    return moved


def drop_abandoned(conn: psycopg.Connection, tables: Sequence[str]) -> None:
    """Rows staged by attempts that died before their commit: removed once a day old (no live
    attempt takes a day between staging and its commit)."""
    for table in tables:
        conn.execute(f"DELETE FROM staged_{table} WHERE staged_at < now() - interval '1 day'")


def replace_hours(
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    token: str,
    staged: dict[str, int],
    stats: Iterable[Sequence[Any]],
    read_from: dt.datetime,
) -> dict[str, int]:
    """Replace the batch layer's rows for the hours in [start, end) in one transaction, so
    re-running an interval converges to the same tables and readers never see half of it: the
    totals and the users over quota its executors staged under ``token`` (``staged``: table ->
    rows they reported), the hours' stats (one row per hour) from the driver.

    Hours without any event still get a stats row (events = 0): the hour was computed.
    ``read_from``: when the job began reading the hours (hour_locks), kept with each hour.
    """
    written = {}
    with connect(settings) as conn:
        drop_abandoned(conn, BATCH_STAGED)
        for table, columns in (
            ("bytes_hourly", WINDOW_TOTAL_COLUMNS),
            ("user_quota_limit", QUOTA_COLUMNS),
        ):
            conn.execute(
                f"DELETE FROM {table} WHERE timestamp >= %s AND timestamp < %s", (start, end)
            )
            written[table] = move_staged(conn, table, columns, token, staged.get(table, 0))
        measured = {row[0]: tuple(row[1:]) for row in stats}
        nothing = (0,) * len(STATS_COLUMNS)
        every_hour = [start + h * HOUR for h in range(int((end - start) / HOUR))]
        conn.execute(
            "DELETE FROM batch_hourly_stats WHERE timestamp >= %s AND timestamp < %s", (start, end)
        )
        written["batch_hourly_stats"] = copy_rows(
            conn,
            "batch_hourly_stats",
            ("timestamp", *STATS_COLUMNS, "read_from"),
            [(h, *measured.get(h, nothing), read_from) for h in every_hour],
        )
        # Replaced, not yet committed.
        failpoints.reach(settings.home, "batch_replace_hours", f"{start:%Y-%m-%d %H:%M}")
    return written


def replace_days_from_hours(settings: Settings, start, end) -> int:
    """bytes_daily for the days in [start, end), summed from bytes_hourly, in one transaction."""
    with connect(settings) as conn:
        conn.execute(
            "DELETE FROM bytes_daily WHERE timestamp >= %s AND timestamp < %s", (start, end)
        )
        return conn.execute(
            """
            INSERT INTO bytes_daily (timestamp, id, value, type)
            SELECT date_trunc('day', timestamp), id, saturating_bigint(sum(value)), type
            FROM bytes_hourly
            WHERE timestamp >= %s AND timestamp < %s
            GROUP BY 1, 2, 4
            """,
            (start, end),
        ).rowcount
