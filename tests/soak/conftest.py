"""make soak's options (make soak ARGS="--minutes 90 --rate 2000") and its SparkSession."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from telemetry import config, submit_args

from ..conftest import local_spark


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("soak")
    group.addoption("--minutes", type=float, default=60.0, help="measured minutes (default 60)")
    group.addoption(
        "--warmup-minutes", type=float, default=5.0, help="load before the slices (default 5)"
    )
    group.addoption("--devices", type=int, default=1_000_000, help="devices (default 1,000,000)")
    group.addoption("--antennas", type=int, default=5000, help="antennas (default 5,000)")
    group.addoption("--rate", type=float, default=5000.0, help="events/s (default 5,000)")
    group.addoption("--slice-minutes", type=float, default=5.0, help="slice length (default 5)")
    group.addoption("--seed", type=int, default=1)


@dataclass(frozen=True)
class SoakOptions:
    minutes: float
    warmup_minutes: float
    devices: int
    antennas: int
    rate: float
    slice_minutes: float
    seed: int


@pytest.fixture(scope="session")
def soak_options(request) -> SoakOptions:
    get = request.config.getoption
    options = SoakOptions(
        get("--minutes"),
        get("--warmup-minutes"),
        get("--devices"),
        get("--antennas"),
        get("--rate"),
        get("--slice-minutes"),
        get("--seed"),
    )
    if options.minutes < 2 * options.slice_minutes or options.warmup_minutes <= 0:
        raise pytest.UsageError("--minutes must cover two slices, --warmup-minutes be > 0")
    return options


@pytest.fixture(scope="session")
def spark(settings: config.Settings):
    """The checks' local SparkSession, started after the load (it does not compete with the
    stream): the ledger and the landed hours are tens of millions of rows, hence the memory."""
    confs = {
        "spark.driver.memory": os.environ.get("LAMBDA_SOAK_CHECK_MEMORY", "4g"),
        "spark.jars": submit_args.jars(settings),  # the JDBC driver
        "spark.sql.shuffle.partitions": "16",
        "spark.ui.showConsoleProgress": "false",
    }
    session = local_spark(settings, "telemetry-soak-checks", confs)
    yield session
    session.stop()
