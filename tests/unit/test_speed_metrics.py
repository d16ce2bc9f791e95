"""The speed layer's Prometheus metrics and the operating settings, without services: what a
micro-batch's summary becomes in the exposition, the Kafka lag per partition, the ports."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from telemetry import config
from telemetry.speed.kafka_lag import planned_lag
from telemetry.speed.metrics import SpeedMetrics
from telemetry.speed.summary import BatchSummary


def samples(metrics: SpeedMetrics) -> dict[tuple[str, tuple], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_committed_batch_adds_its_verdicts_reasons_and_watermark(monkeypatch):
    monkeypatch.setenv("LAMBDA_SUPERVISOR_RESTARTS", "2")
    m = SpeedMetrics()
    summary = BatchSummary(
        records=10,
        verdicts={"counted": 5, "late": 1, "duplicate": 1},
        reasons={"not_json": 2, "bad_bytes": 1},
    )
    watermark = int(time.time()) - 100
    m.batch_committed(summary, 1.5, watermark)
    m.batch_committed(summary, 0.7, watermark + 10)
    s = samples(m)
    verdict = {
        dict(k)["verdict"]: v for (n, k), v in s.items() if n == "lambda_speed_records_total"
    }
    assert verdict == {"counted": 10, "late": 2, "duplicate": 2, "quarantined": 6}
    assert s[("lambda_speed_quarantined_records_total", (("reason", "not_json"),))] == 4
    assert s[("lambda_speed_micro_batches_total", ())] == 2
    assert s[("lambda_speed_micro_batch_duration_seconds_sum", ())] == pytest.approx(2.2)
    assert s[("lambda_speed_micro_batch_duration_seconds_bucket", (("le", "1.0"),))] == 1
    assert s[("lambda_speed_last_micro_batch_records", ())] == 10
    assert s[("lambda_speed_watermark_timestamp_seconds", ())] == watermark + 10
    assert s[("lambda_speed_watermark_lag_seconds", ())] == pytest.approx(90, abs=5)
    assert s[("lambda_speed_restarts_total", ())] == 2
    assert time.time() - s[("lambda_speed_last_commit_timestamp_seconds", ())] < 5


def test_every_verdict_is_exposed_before_the_first_batch():
    s = samples(SpeedMetrics())
    assert {dict(k)["verdict"] for (n, k) in s if n == "lambda_speed_records_total"} == {
        "counted",
        "late",
        "duplicate",
        "quarantined",
    }
    assert s[("lambda_speed_watermark_lag_seconds", ())] == 0


def test_spark_planned_lag_per_partition_from_the_source_progress():
    """The fallback while Kafka does not answer (TopicEnds: tests/integration/test_metrics)."""
    progress = SimpleNamespace(
        endOffset='{"devices": {"0": 10, "1": 7}}', latestOffset='{"devices": {"0": 15, "1": 7}}'
    )
    assert planned_lag(progress) == {"0": 5, "1": 0}
    assert planned_lag(SimpleNamespace(endOffset=None, latestOffset=None)) is None
    assert planned_lag(SimpleNamespace(endOffset="{", latestOffset="{}")) is None


def test_serving_on_a_taken_port_warns_and_port_0_serves_nothing(capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        assert SpeedMetrics().serve("127.0.0.1", taken.getsockname()[1]) is None
        assert "no metrics on" in capsys.readouterr().err
    finally:
        taken.close()
    assert SpeedMetrics().serve("127.0.0.1", 0) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LAMBDA_RETAIN_RAW_DAYS": "3"}, "LAMBDA_RETAIN_RAW_DAYS=3 must be more than"),
        ({"LAMBDA_RETAIN_WINDOWS_DAYS": "4"}, "LAMBDA_RETAIN_WINDOWS_DAYS=4"),
        (
            {"LAMBDA_RETAIN_QUARANTINE_COUNTS_DAYS": "10"},
            "counts per reason outlive the payloads",
        ),
        ({"LAMBDA_SPEED_METRICS_PORT": "x"}, "LAMBDA_SPEED_METRICS_PORT='x' is not an integer"),
        ({"LAMBDA_BATCH_NICE": "20"}, "LAMBDA_BATCH_NICE=20 must be a nice value, 0 to 19"),
        ({"LAMBDA_BATCH_NICE": "-5"}, "LAMBDA_BATCH_NICE=-5 must be >= 0"),
    ],
)
def test_bad_operating_settings_are_named(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=message):
        config.load()


def test_retention_defaults_are_beyond_the_sweep(monkeypatch):
    for name in ("LAMBDA_RETAIN_RAW_DAYS", "LAMBDA_SWEEP_LOOKBACK_HOURS"):
        monkeypatch.delenv(name, raising=False)
    s = config.load()
    assert (s.retain_windows_days, s.retain_quarantine_days, s.retain_raw_days) == (35, 14, 95)
    assert s.retain_quarantine_counts_days > s.retain_quarantine_days
