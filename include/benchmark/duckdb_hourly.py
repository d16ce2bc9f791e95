"""DuckDB computing the hourly batch job's totals over the same Parquet files: the baseline of
the batch layer's compute time (benchmark only: the product never imports DuckDB)."""

from __future__ import annotations

import datetime as dt
import time

import duckdb

from telemetry import raw_layout

# The batch job's semantics: equal content is one event; users keyed by email, unknown ids kept.
HOURLY_TOTALS = """
WITH events AS (
    SELECT DISTINCT timestamp, id, antenna_id, bytes, app FROM read_parquet(?)
)
SELECT 'antenna_bytes_total' AS type, antenna_id AS id, sum(bytes) AS value
FROM events GROUP BY 2
UNION ALL
SELECT 'user_bytes_total', coalesce(u.email, e.id), sum(bytes)
FROM events e LEFT JOIN users u ON u.id = e.id GROUP BY 2
UNION ALL
SELECT 'app_bytes_total', app, sum(bytes) FROM events GROUP BY 2
"""


def hour_glob(root: str, hour: dt.datetime) -> str:
    return f"{raw_layout.hour_folder(root, hour)}/*.parquet"


def hourly_totals(
    root: str, hour: dt.datetime, emails: dict[str, str], threads: int = 2
) -> tuple[float, dict[tuple[str, str], int]]:
    """Seconds taken and {(type, id): bytes} for one hour, on ``threads`` threads (the
    machine's cores, as Spark's local master gets)."""
    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {int(threads)}")
        con.execute("CREATE TABLE users (id VARCHAR, email VARCHAR)")
        con.executemany("INSERT INTO users VALUES (?, ?)", list(emails.items()))
        started = time.perf_counter()
        rows = con.execute(HOURLY_TOTALS, [hour_glob(root, hour)]).fetchall()
        seconds = time.perf_counter() - started
    finally:
        con.close()
    return seconds, {(t, k): int(v) for t, k, v in rows}
