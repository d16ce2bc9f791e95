"""Fixtures shared by both test sessions (the Spark side and the Airflow side)."""

from __future__ import annotations

import os
import sys

import pytest

from telemetry import config


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    return config.load()


def local_spark(settings: config.Settings, app: str, confs: dict[str, str] | None = None):
    """A local SparkSession on two cores, bound to loopback; ``confs`` on top."""
    from pyspark.sql import SparkSession

    from telemetry import submit_args

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in submit_args.driver_java_options(settings).items():  # faster start
        builder = builder.config(key, value)
    base = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "2",
        "spark.ui.enabled": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }
    for key, value in {**base, **(confs or {})}.items():
        builder = builder.config(key, value)
    return builder.master("local[2]").appName(app).getOrCreate()


@pytest.fixture(scope="session")
def spark(settings):
    """A small local SparkSession (pure-transform tests and reading Parquet back)."""
    session = local_spark(settings, "telemetry-tests")
    yield session
    session.stop()
