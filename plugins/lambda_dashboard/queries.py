"""The dashboard's reads: the SQL files of sql/dashboard, run as the read-only role with a
statement timeout, rows as JSON-ready dicts."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from telemetry import config

SQL_DIR = config.REPO_ROOT / "sql" / "dashboard"
STATEMENT_TIMEOUT_MS = 5000


class DatabaseUnavailableError(RuntimeError):
    """PostgreSQL could not answer (down, or the reader role's password file is missing)."""


@functools.cache
def settings() -> config.Settings:
    return config.load().as_role("reader")


@functools.cache
def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


@contextmanager
def reader() -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(settings().pg_dsn, autocommit=True, row_factory=dict_row)
    except (psycopg.OperationalError, config.ConfigError) as exc:
        raise DatabaseUnavailableError(f"PostgreSQL is not answering: {exc}") from None
    with conn:
        conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        yield conn


def rows(conn: psycopg.Connection, name: str, **params: Any) -> list[dict[str, Any]]:
    return [jsonable(r) for r in conn.execute(sql(name), params).fetchall()]


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Timestamps as ISO 8601 in UTC (the tables' TIMESTAMP columns hold UTC), payload bytes as
    escaped text."""
    out = {}
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            value = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        elif isinstance(value, (bytes, memoryview)):
            value = printable(bytes(value))
        out[key] = value
    return out


def printable(payload: bytes) -> str:
    """A hostile payload as plain text: invalid UTF-8 and every control or invisible character
    spelled as a backslash escape, so what is shown is what was sent, and nothing else."""
    text = payload.decode("utf-8", "backslashreplace")
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
