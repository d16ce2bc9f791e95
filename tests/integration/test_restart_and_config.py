"""Restarts keep totals exact; bad configuration fails fast with a message naming the problem."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from simulator.events import Generator, Plan
from simulator.ground_truth import GroundTruth
from telemetry import config

from .conftest import REPO, SUBMIT, wait_until
from .test_speed_layer import bytes_table, expected_windows, hour_start, read_raw, send

pytestmark = pytest.mark.integration


@pytest.mark.fault
def test_sigkill_mid_stream_then_restart_keeps_totals_exact(
    pg, topic, producer, speed_layer, speed_layer_env, spark
):
    # A long watermark: this test is about restarts, not lateness.
    speed_layer.env["LAMBDA_WATERMARK"] = "30 minutes"
    t0 = hour_start(2)
    truth = GroundTruth()
    messages = list(Generator(Plan(seed=11, duplicate_rate=0.02)).phase(t0, 2.0, 3000))
    chunks = [messages[i : i + 500] for i in range(0, len(messages), 500)]

    speed_layer.start()
    send(producer, topic, chunks[0], truth)
    wait_until(lambda: bytes_table(pg) != {}, 120, "first results")
    send(producer, topic, chunks[1], truth)
    time.sleep(1.5)  # a batch is in flight
    speed_layer.kill()
    send(producer, topic, chunks[2], truth)  # arrives while the app is down
    speed_layer.start()
    for chunk in chunks[3:]:
        send(producer, topic, chunk, truth)
        time.sleep(1)

    expected = expected_windows(truth.events())
    wait_until(lambda: bytes_table(pg) == expected, 180, "exact totals after the restart")
    time.sleep(3)
    assert bytes_table(pg) == expected
    raw = read_raw(spark, speed_layer_env["LAMBDA_RAW_DIR"], t0, 1)
    assert raw.count() == len(messages)  # replayed batches replaced their own files
    assert raw.select("kafka_partition", "kafka_offset").distinct().count() == len(messages)


def run_speed_layer(env_changes: dict[str, str], timeout: float = 120):
    env = {**os.environ, **env_changes}
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(SUBMIT), "spark_apps/speed_layer.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, time.monotonic() - started


@pytest.mark.parametrize(
    ("env_changes", "message"),
    [
        ({"LAMBDA_KAFKA_BOOTSTRAP": "127.0.0.1:1"}, "Kafka at 127.0.0.1:1 is unreachable"),
        (
            {"LAMBDA_PG_PASSWORD_FILE": str(REPO / "tests/support/wrong_pg_password")},
            # The speed layer connects as the speed role, whoever starts it.
            f"password authentication failed for user {config.load().pg_login('speed')!r}",
        ),
        ({"LAMBDA_KAFKA_TOPIC": "no-such-topic"}, "topic 'no-such-topic' does not exist"),
        ({"LAMBDA_WATERMARK": "soon"}, "LAMBDA_WATERMARK='soon' is not a duration"),
    ],
    ids=["unreachable-kafka", "wrong-pg-password", "missing-topic", "bad-watermark"],
)
def test_bad_configuration_fails_fast_naming_the_problem(env_changes, message):
    proc, seconds = run_speed_layer(env_changes)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert message in proc.stdout + proc.stderr  # spark-submit merges the driver's stderr
    assert seconds < 60


def test_simulator_reports_unreachable_kafka():
    proc = subprocess.run(
        ["python", "-m", "simulator", "--bootstrap", "127.0.0.1:1", "--count", "5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "PATH": f"{os.path.dirname(os.sys.executable)}:{os.environ['PATH']}"},
    )
    assert proc.returncode == 2
    assert "simulator: error:" in proc.stderr and "127.0.0.1:1" in proc.stderr
