"""Real services for the integration tests: the Kafka broker and PostgreSQL started by
`make test`, and the speed layer started here with spark-submit, one fresh topic, checkpoint
and raw folder per test."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from telemetry import config
from telemetry.kafka_topics import new_topic

REPO = config.REPO_ROOT
SUBMIT = REPO / "include" / "scripts" / "spark_submit.sh"
SERVING_TABLES = (
    "bytes",
    "bytes_hourly",
    "bytes_daily",
    "user_quota_limit",
    "quarantine",
    "batch_hourly_stats",
    "serving_hours",
    "reconciliation",
    "speed_layer_progress",
    "speed_layer_offsets",
    "landed_hours",
    "serving_days",
    "batch_requests",
    "batch_task_failures",
    "staged_bytes",
    "staged_quarantine",
    "staged_bytes_hourly",
    "staged_user_quota_limit",
)


@pytest.fixture
def pg(settings) -> Iterator[psycopg.Connection]:
    """Autocommit connection; the serving tables start empty for each test."""
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(SERVING_TABLES)}")
        yield conn


@pytest.fixture
def topic(settings) -> Iterator[str]:
    name = f"devices-test-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.create_topics([new_topic(name, settings)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = admin.describe_topics([name])
        if described and len(described[0].get("partitions") or []) == settings.kafka_partitions:
            break
        time.sleep(0.2)
    yield name
    admin.delete_topics([name])
    admin.close()


@pytest.fixture
def producer(settings) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    yield p
    p.close()


@dataclass
class SpeedLayer:
    """A speed layer started with spark-submit, as in production, for one test."""

    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self, wait_started: bool = True) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                ["bash", str(SUBMIT), "spark_apps/speed_layer.py"],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait_started:
            self.wait_for_log("query speed_layer started", timeout=120)

    def wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"speed layer exited ({self.proc.returncode}):\n{self.tail()}")
            time.sleep(0.5)
        raise AssertionError(f"no {text!r} in the speed layer log after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hook, no clean stop."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 60) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the launcher forwards it to the driver
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"speed layer ignored SIGTERM:\n{self.tail()}") from None
        return self.proc.returncode if self.proc else 0


@pytest.fixture
def speed_layer_env(settings, topic, tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "LAMBDA_KAFKA_TOPIC": topic,
        "LAMBDA_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "LAMBDA_RAW_DIR": str(tmp_path / "raw"),
        "LAMBDA_TRIGGER": os.environ.get("LAMBDA_TEST_TRIGGER", "1 second"),
    }


@pytest.fixture
def speed_layer(speed_layer_env, tmp_path) -> Iterator[SpeedLayer]:
    layer = SpeedLayer(env=speed_layer_env, log=tmp_path / "speed_layer.log")
    yield layer
    layer.kill()
    if layer.log.exists():  # pytest shows it only when the test failed
        print(f"--- speed layer log ({layer.log}):\n{layer.tail(60)}")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
