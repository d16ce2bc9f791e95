"""The soak's ledger: every record Kafka acknowledged (partition, offset, payload) with what must
become of it, written as Parquet parts every few seconds so that it never grows in memory and
Spark reads it back for the checks (18,000,000 records an hour at 5,000 events/s)."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kind", pa.string()),  # the simulator's kind, or "probe"
        # The speed layer's verdict it must get (counted, late, duplicate), or for a malformed
        # record the start of its quarantine reason ("missing_field" of "missing_field:id").
        ("expect", pa.string()),
        ("payload", pa.binary()),
    ]
)


class LedgerWriter:
    """Collects acknowledged records (from the producers' delivery callbacks) and
    writes them as ``<prefix>-<n>.parquet`` parts in ``folder`` on ``flush``."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder, self.prefix = folder, prefix
        folder.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.rows: list[tuple] = []
        self.parts = 0
        self.acknowledged = 0
        self.unacknowledged = 0
        self.first_error: str | None = None

    def on_ack(self, kind: str, expect: str, payload: bytes):
        def callback(metadata) -> None:
            with self.lock:
                self.rows.append((metadata.partition, metadata.offset, kind, expect, payload))

        return callback

    def delivered(self, kind: str, expect: str, payload: bytes):
        """The same for confluent-kafka's delivery reports (the load's producer)."""

        def report(err, message) -> None:
            if err is not None:
                self.on_error(RuntimeError(str(err)))
                return
            with self.lock:
                self.rows.append((message.partition(), message.offset(), kind, expect, payload))

        return report

    def on_error(self, exc: BaseException, records: int = 1) -> None:
        with self.lock:
            self.unacknowledged += records
            self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"

    def flush(self) -> int:
        """Writes what was acknowledged since the last flush; returns how many records."""
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows:
            return 0
        columns = list(zip(*rows, strict=True))
        table = pa.Table.from_arrays(
            [pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA, strict=True)], schema=SCHEMA
        )
        partial = self.folder / f".{self.prefix}-{self.parts:06d}.parquet"
        pq.write_table(table, partial)
        partial.rename(self.folder / f"{self.prefix}-{self.parts:06d}.parquet")
        self.parts += 1
        self.acknowledged += len(rows)
        return len(rows)
