"""PostgreSQL writes of both layers: idempotent upserts and hour replacements (the only SQL I/O)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg

from telemetry import failpoints
from telemetry.config import Settings
from telemetry.schema import QUARANTINE_COLUMNS

HOUR = dt.timedelta(hours=1)
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
            print(
                f"[postgres] {what}: attempt {attempt} failed ({detail}); retrying in {delay:.0f}s",
                file=sys.stderr,
                flush=True,
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


def upsert_window_totals(settings: Settings, rows: Iterable[Sequence[Any]]) -> int:
    """Speed-layer windows: each row carries the window's full current value (update mode), so
    overwriting on conflict makes replays and restarts converge instead of double-counting."""
    with connect(settings) as conn:
        conn.execute("CREATE TEMP TABLE stage_bytes (LIKE bytes INCLUDING DEFAULTS) ON COMMIT DROP")
        count = copy_rows(conn, "stage_bytes", ("timestamp", "id", "value", "type"), rows)
        conn.execute(
            """
            INSERT INTO bytes (timestamp, id, value, type)
            SELECT timestamp, id, value, type FROM stage_bytes
            ON CONFLICT (timestamp, type, id) DO UPDATE SET value = EXCLUDED.value
            """
        )
        failpoints.reach(settings.home, "speed_upsert")  # written, not yet committed
    return count


def insert_quarantine(settings: Settings, rows: Iterable[Sequence[Any]]) -> int:
    """Rejected records, keyed by their Kafka coordinates: a replayed batch adds nothing."""
    columns = QUARANTINE_COLUMNS
    with connect(settings) as conn:
        conn.execute(
            "CREATE TEMP TABLE stage_quarantine (LIKE quarantine INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        count = copy_rows(conn, "stage_quarantine", columns, rows)
        conn.execute(
            f"""
            INSERT INTO quarantine ({", ".join(columns)})
            SELECT {", ".join(columns)} FROM stage_quarantine
            ON CONFLICT (kafka_topic, kafka_partition, kafka_offset) DO NOTHING
            """
        )
    return count


def record_progress(
    settings: Settings,
    query: str,
    batch_id: int,
    watermark: Any,
    input_rows: int,
    input_rate: float,
    processed_rate: float,
) -> None:
    with connect(settings) as conn:
        conn.execute(
            """
            INSERT INTO speed_layer_progress AS p
                (query_name, batch_id, watermark, input_rows, input_rows_per_second,
                 processed_rows_per_second, updated_at)
            VALUES (%s, %s, %s, %s, %s, %s, now())
            ON CONFLICT (query_name) DO UPDATE SET
                batch_id = EXCLUDED.batch_id,
                watermark = GREATEST(p.watermark, EXCLUDED.watermark),
                input_rows = EXCLUDED.input_rows,
                input_rows_per_second = EXCLUDED.input_rows_per_second,
                processed_rows_per_second = EXCLUDED.processed_rows_per_second,
                updated_at = now()
            """,
            (query, batch_id, watermark, input_rows, input_rate, processed_rate),
        )


def _replace_range(conn, table: str, columns: Sequence[str], rows, start, end) -> int:
    """Delete [start, end) from table and insert rows: one slice, replaced as a whole."""
    conn.execute(f"DELETE FROM {table} WHERE timestamp >= %s AND timestamp < %s", (start, end))
    return copy_rows(conn, table, columns, rows)


def replace_hours(settings: Settings, start, end, totals, over_quota, stats) -> dict[str, int]:
    """Replace the batch layer's rows for the hours in [start, end) in one transaction, so
    re-running an interval converges to the same tables and readers never see half of it.

    Hours without any event still get a stats row (events = 0): the hour was computed.
    """
    with connect(settings) as conn:
        written = {
            "bytes_hourly": _replace_range(
                conn, "bytes_hourly", ("timestamp", "id", "value", "type"), totals, start, end
            ),
            "user_quota_limit": _replace_range(
                conn,
                "user_quota_limit",
                ("email", "usage", "quota", "timestamp"),
                over_quota,
                start,
                end,
            ),
        }
        measured = {ts: (events, duplicates, late) for ts, events, duplicates, late in stats}
        every_hour = [start + h * HOUR for h in range(int((end - start) / HOUR))]
        written["batch_hourly_stats"] = _replace_range(
            conn,
            "batch_hourly_stats",
            ("timestamp", "events", "duplicates", "late_events"),
            [(h, *measured.get(h, (0, 0, 0))) for h in every_hour],
            start,
            end,
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
