"""The speed layer's commit of a micro-batch to PostgreSQL: one transaction that moves in what
its executors staged (window deltas added, quarantine inserted), advances the applied offsets
and the watermark, and marks the landed hours. Exactly once by the offsets' row lock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from telemetry import failpoints
from telemetry.config import Settings
from telemetry.names import SPEED_QUERY
from telemetry.postgres import (
    SPEED_STAGED,
    TRANSIENT_ERRORS,
    drop_abandoned,
    move_staged,
)
from telemetry.schema import QUARANTINE_COLUMNS, WINDOW_TOTAL_COLUMNS


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
