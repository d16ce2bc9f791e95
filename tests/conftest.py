"""Fixtures shared by both test sessions (the Spark side and the Airflow side)."""

from __future__ import annotations

import pytest

from telemetry import config


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    return config.load()


def local_spark(settings: config.Settings, app: str, confs: dict[str, str] | None = None):
    """A local SparkSession built as production's (tests/support/local_spark.py)."""
    from .support.local_spark import local_session

    return local_session(settings, app, confs)


@pytest.fixture(scope="session")
def spark(settings):
    """A small local SparkSession (pure-transform tests and reading Parquet back)."""
    session = local_spark(settings, "telemetry-tests")
    yield session
    session.stop()
