"""PostgreSQL writes of both layers: idempotent upserts and hour replacements (the only SQL I/O)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from telemetry import failpoints, logs
from telemetry.config import Settings
from telemetry.schema import QUARANTINE_COLUMNS, STATS_COLUMNS, WINDOW_TOTAL_COLUMNS

HOUR = dt.timedelta(hours=1)
SPEED_QUERY = "speed_layer"  # its row in speed_layer_progress (the hourly DAG waits on it)
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


class StaleSpeedStateError(RuntimeError):
    """PostgreSQL has offsets the speed layer's memory lacks: another writer, or a state not
    rebuilt. Not retried: the app exits, restarts and rebuilds its state."""


@dataclass(frozen=True)
class SpeedBatch:
    """One micro-batch's whole effect on PostgreSQL (telemetry.speed.micro_batch)."""

    topic: str
    batch_id: int
    token: str  # what its executors staged the window deltas and quarantine under (pg_stage)
    staged: dict[str, int]  # serving table -> rows the executors reported staging for it
    offsets_before: dict[int, int]  # partition -> applied offset the batch was judged after
    offsets_after: dict[int, int]
    last_record_times: dict[int, dt.datetime]  # partition -> broker time of offsets_after's record
    landed_hours: dict[dt.datetime, int]  # hour -> valid events landed in it (dirty for the batch)
    watermark: dt.datetime | None
    max_event_time: dt.datetime | None
    input_rows: int
    rows_per_second: float


class SpeedWriter:
    """The speed layer's one connection, kept across batches (reopened after an outage).

    ``apply`` writes a batch in one transaction: the window deltas and the quarantine its
    executors staged moved in (added to the window sums, inserted), the applied offsets and the
    watermark. The offsets row lock makes it exactly once: a batch whose offsets
    are already applied is never judged again (the caller filters those records out first), and
    PostgreSQL holding offsets the caller did not expect fails the batch instead of adding twice.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.settings.pg_dsn)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def load(self, topic: str) -> tuple[dict[int, int], dt.datetime | None]:
        """Applied offsets per partition and the largest (bounded) event time applied; rows
        staged by attempts that died a day ago or more removed."""
        with self._connection().transaction():
            drop_abandoned(self._connection(), SPEED_STAGED)
        rows = self.applied_records(topic)
        times = [t for _, _, t, _ in rows if t is not None]
        return {p: o for p, o, _, _ in rows}, max(times, default=None)

    def applied_records(self, topic: str) -> list[tuple[int, int, dt.datetime | None, Any]]:
        """(partition, applied offset, max event time, broker time of that record) per partition."""
        conn = self._connection()
        with conn.transaction():
            return conn.execute(
                "SELECT kafka_partition, applied_through, max_event_time, applied_record_time"
                " FROM speed_layer_offsets WHERE kafka_topic = %s ORDER BY 1",
                (topic,),
            ).fetchall()

    def apply(self, batch: SpeedBatch) -> None:
        try:
            self._apply(batch)
        except TRANSIENT_ERRORS:
            self.close()  # the next attempt reconnects
            raise

    def _apply(self, batch: SpeedBatch) -> None:
        conn = self._connection()
        with conn.transaction():
            held = dict(
                conn.execute(
                    "SELECT kafka_partition, applied_through FROM speed_layer_offsets"
                    " WHERE kafka_topic = %s FOR UPDATE",
                    (batch.topic,),
                ).fetchall()
            )
            ahead = {p: o for p, o in held.items() if o > batch.offsets_before.get(p, -1)}
            if ahead:
                raise StaleSpeedStateError(
                    f"batch {batch.batch_id}: PostgreSQL already holds offsets {ahead} of "
                    f"{batch.topic}, the speed layer expected at most {batch.offsets_before}"
                )
            move_staged(
                conn,
                "bytes",
                WINDOW_TOTAL_COLUMNS,
                batch.token,
                batch.staged.get("bytes", 0),
                "ON CONFLICT (timestamp, type, id)"
                " DO UPDATE SET value = saturating_bigint(t.value::NUMERIC + EXCLUDED.value)",
            )
            move_staged(
                conn,
                "quarantine",
                QUARANTINE_COLUMNS,
                batch.token,
                batch.staged.get("quarantine", 0),
                "ON CONFLICT (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp)"
                " DO NOTHING",
            )
            with conn.cursor() as cur:
                cur.executemany(
                    """
                    INSERT INTO speed_layer_offsets AS s
                        (kafka_topic, kafka_partition, applied_through, max_event_time,
                         applied_record_time)
                    VALUES (%s, %s, %s, %s, %s)
                    ON CONFLICT (kafka_topic, kafka_partition) DO UPDATE SET
                        applied_through = EXCLUDED.applied_through,
                        max_event_time = GREATEST(s.max_event_time, EXCLUDED.max_event_time),
                        applied_record_time = EXCLUDED.applied_record_time,
                        updated_at = now()
                    """,
                    [
                        (batch.topic, p, o, batch.max_event_time, batch.last_record_times.get(p))
                        for p, o in sorted(batch.offsets_after.items())
                    ],
                )
                record_landed_hours(cur, batch.landed_hours)
            conn.execute(
                """
                INSERT INTO speed_layer_progress AS p
                    (query_name, batch_id, watermark, input_rows,
                     input_rows_per_second, processed_rows_per_second, updated_at)
                VALUES (%s, %s, %s, %s, NULL, %s, now())
                ON CONFLICT (query_name) DO UPDATE SET
                    batch_id = EXCLUDED.batch_id,
                    watermark = GREATEST(p.watermark, EXCLUDED.watermark),
                    input_rows = EXCLUDED.input_rows,
                    processed_rows_per_second = EXCLUDED.processed_rows_per_second,
                    updated_at = now()
                """,
                (
                    SPEED_QUERY,
                    batch.batch_id,
                    batch.watermark,
                    batch.input_rows,
                    batch.rows_per_second,
                ),
            )
            failpoints.reach(self.settings.home, "speed_upsert")  # written, not yet committed


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


def record_landed_hours(cur: psycopg.Cursor, landed: dict[dt.datetime, int]) -> None:
    """Mark hours as landed in (the speed layer, in its batch's transaction). now() is the
    transaction's start, after the files landed: a batch job that began reading an hour before
    it (batch_hourly_stats.read_from) did not see them, and the sweep recomputes the hour."""
    cur.executemany(
        """
        INSERT INTO landed_hours AS l (timestamp, events, landed_at) VALUES (%s, %s, now())
        ON CONFLICT (timestamp) DO UPDATE SET events = l.events + EXCLUDED.events, landed_at = now()
        """,
        sorted(landed.items()),
    )


def record_backlog(settings: Settings, query_name: str, behind: int) -> None:
    """How many Kafka records the speed layer is behind (its listener, after each batch)."""
    with psycopg.connect(settings.pg_dsn, connect_timeout=3) as conn:
        conn.execute(
            "UPDATE speed_layer_progress SET offsets_behind = %s WHERE query_name = %s",
            (behind, query_name),
        )


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
