"""Fail fast, with a message that names the problem, before a long-running job starts."""

from __future__ import annotations

import psycopg

from telemetry import kafka_client
from telemetry.config import Settings


class PreflightError(RuntimeError):
    pass


def check_postgres(settings: Settings, tables: tuple[str, ...] = ("bytes",)) -> None:
    where = f"PostgreSQL at {settings.pg_host}:{settings.pg_port}/{settings.pg_db}"
    try:
        with psycopg.connect(settings.pg_dsn) as conn:
            for table in tables:
                found = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]
                if found is None:
                    raise PreflightError(
                        f"{where} has no table {table!r}: apply the schema "
                        "(include/scripts/postgres.sh schema)"
                    )
    except psycopg.OperationalError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        if "password authentication failed" in str(exc):
            detail = f"password authentication failed for user {settings.pg_login()!r}"
        raise PreflightError(f"{where} is not usable: {detail}") from None


def check_kafka(settings: Settings, timeout_s: float = 10.0) -> None:
    """The broker answers and the topic exists (the speed layer never creates it)."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    where = f"Kafka at {settings.kafka_bootstrap}"
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap.split(","),
            request_timeout_ms=int(timeout_s * 1000) + 1000,
            bootstrap_timeout_ms=int(timeout_s * 1000),
            **kafka_client.python_options(settings),
        )
        try:
            topics = consumer.topics()
        finally:
            consumer.close()
    except KafkaError as exc:
        raise PreflightError(f"{where} is unreachable: {exc}") from None
    if settings.kafka_topic not in topics:
        raise PreflightError(
            f"topic {settings.kafka_topic!r} does not exist on {where} "
            "(create it with include/scripts/kafka.sh start)"
        )
