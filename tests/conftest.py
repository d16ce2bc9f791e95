"""Fixtures shared by both test sessions (the Spark side and the Airflow side)."""

from __future__ import annotations

import os
import sys

import pytest

from telemetry import config


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    return config.load()


@pytest.fixture(scope="session")
def spark(settings):
    """A small local SparkSession (pure-transform tests and reading Parquet back)."""
    from pyspark.sql import SparkSession

    from telemetry import submit_args

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in submit_args.driver_java_options(settings).items():  # faster start
        builder = builder.config(key, value)
    session = (
        builder.master("local[2]")
        .appName("telemetry-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()
