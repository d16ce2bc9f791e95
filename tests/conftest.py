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
    if submit_args.cds_archive(settings).is_file():  # the apps' faster start (setup.sh)
        java = f"-XX:SharedArchiveFile={submit_args.cds_archive(settings)}"
        builder = builder.config("spark.driver.extraJavaOptions", java)
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
