"""Monitoring (docs/operations.md): the speed layer's and the batch layer's Prometheus
metrics scraped while data flows and checked against the tables and the Parquet, and the real
Prometheus server scraping both and evaluating the alert rules."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
import urllib.request
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator.events import Generator, Plan
from telemetry import config

from .conftest import REPO, wait_until
from .test_speed_layer import hour_start, read_raw, send

pytestmark = pytest.mark.integration

SCRIPTS = REPO / "include" / "scripts"


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def by_label(samples: dict, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: v for (n, labels), v in samples.items() if n == name}


def metrics_url(settings: config.Settings, port: int) -> str:
    return f"http://{settings.metrics_host}:{port}/metrics"


def service(script: str, action: str) -> None:
    subprocess.run(["bash", str(SCRIPTS / script), action], cwd=REPO, check=True, timeout=120)


def prometheus_api(settings: config.Settings, path: str) -> dict:
    url = f"http://{settings.metrics_host}:{settings.prometheus_port}/api/v1/{path}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["data"]


def alert_states(settings: config.Settings) -> dict[str, str]:
    groups = prometheus_api(settings, "rules")["groups"]
    return {r["name"]: r["state"] for g in groups for r in g["rules"] if r["type"] == "alerting"}


def test_the_lag_counts_what_arrived_while_a_batch_ran(topic, producer, speed_layer, settings):
    """Spark's own figure is taken when a batch is planned: below the per-batch cap it is 0
    however far behind the stream runs (the first soak's 40 s backlog read 0, and so did the
    alert). The metric is what Kafka holds beyond the batch once the batch is applied."""
    speed_layer.start()
    speed = metrics_url(settings, settings.speed_metrics_port)

    def lag() -> float:
        return sum(by_label(scrape(speed), "lambda_speed_kafka_lag_records", "partition").values())

    messages = Generator(Plan(seed=12)).phase(hour_start(0), 500.0, None)
    seen, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:  # ~500 records a second for 30 s
        send(producer, topic, islice(messages, 50))
        seen.append(lag())
        time.sleep(0.1)
    assert max(seen) > 0, "records arrived during every micro-batch, the lag never showed them"
    wait_until(lambda: lag() == 0, 120, "lag 0 once the load stopped")


@pytest.fixture
def exporters(settings):
    """The batch exporter and Prometheus (1 s scrapes and rule evaluations), as make up starts
    them; stopped after the test."""
    os.environ["LAMBDA_PROMETHEUS_SCRAPE_INTERVAL"] = "1s"
    try:
        service("batch_metrics.sh", "start")
        service("prometheus.sh", "start")
        yield
    finally:
        service("prometheus.sh", "stop")
        service("batch_metrics.sh", "stop")
        os.environ.pop("LAMBDA_PROMETHEUS_SCRAPE_INTERVAL", None)


def test_scraped_figures_equal_the_tables_and_prometheus_evaluates_the_rules(
    pg, topic, producer, speed_layer, speed_layer_env, spark, settings, exporters
):
    t0 = hour_start(2)
    # Every verdict: copies (duplicate), late events (behind the watermark), malformed records.
    plan = Plan(seed=11, duplicate_rate=0.05, malformed_rate=0.05, late_rate=0.05)
    messages = list(Generator(plan).phase(t0, 2.0, 3000))
    # A task failed before (Prometheus sees it from its first scrape); another fails later on.
    failure = (
        "INSERT INTO batch_task_failures (dag_id, task_id, run_id, try_number, error)"
        " VALUES ('lambda_hourly', 'batch_hourly', %s, 3, 'boom')"
    )
    pg.execute(failure, ("r1",))
    half = len(messages) // 2
    send(producer, topic, messages[:half])
    speed_layer.start()
    speed = metrics_url(settings, settings.speed_metrics_port)

    def applied() -> float:
        s = scrape(speed)
        return sum(by_label(s, "lambda_speed_records_total", "verdict").values())

    wait_until(lambda: applied() == half, 180, "the first half in the metrics")
    # The second half after a watermark exists: its late events are judged late.
    send(producer, topic, messages[half:])
    wait_until(lambda: applied() == len(messages), 180, "every record in the metrics")
    s = scrape(speed)
    verdicts = by_label(s, "lambda_speed_records_total", "verdict")
    raw = read_raw(spark, speed_layer_env["LAMBDA_RAW_DIR"], t0 - 3600, 4)
    landed = Counter(dict(raw.groupBy("speed_status").count().collect()))
    assert {v: verdicts[v] for v in ("counted", "late", "duplicate")} == {
        v: landed[v] for v in ("counted", "late", "duplicate")
    }
    assert min(landed[v] for v in ("counted", "late", "duplicate")) > 0
    in_quarantine = dict(
        pg.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall()
    )
    assert verdicts["quarantined"] == sum(in_quarantine.values()) > 0
    assert by_label(s, "lambda_speed_quarantined_records_total", "reason") == in_quarantine
    progress = pg.execute(
        "SELECT watermark, batch_id FROM speed_layer_progress WHERE query_name = 'speed_layer'"
    ).fetchone()
    watermark = progress[0].replace(tzinfo=dt.UTC).timestamp()
    assert s[("lambda_speed_watermark_timestamp_seconds", ())] == watermark
    assert s[("lambda_speed_watermark_lag_seconds", ())] == pytest.approx(
        time.time() - watermark, abs=30
    )
    batches = s[("lambda_speed_micro_batches_total", ())]
    assert batches == s[("lambda_speed_micro_batch_duration_seconds_count", ())] >= 1
    assert time.time() - s[("lambda_speed_last_commit_timestamp_seconds", ())] < 60
    wait_until(
        lambda: (
            set(by_label(scrape(speed), "lambda_speed_kafka_lag_records", "partition").values())
            == {0.0}
        ),
        60,
        "Kafka lag 0 on every partition",
    )
    lag = by_label(scrape(speed), "lambda_speed_kafka_lag_records", "partition")
    assert len(lag) == settings.kafka_partitions
    assert s[("lambda_speed_restarts_total", ())] == 0
    # The duplicate state's blocks on the executors (the soak watches it grow or not).
    assert s[("lambda_speed_state_bytes", ())] > 0
    free, capacity = (s[(f"lambda_raw_storage_{k}_bytes", ())] for k in ("free", "capacity"))
    disk = os.statvfs(speed_layer_env["LAMBDA_RAW_DIR"])
    assert capacity == disk.f_blocks * disk.f_frsize
    assert free == pytest.approx(disk.f_bavail * disk.f_frsize, rel=0.05)

    # The batch layer's exporter reads the tables when scraped: publish an hour, leave one
    # overdue, record a reconciliation with unexplained bytes and a failed task.
    hour = dt.datetime.fromtimestamp(t0, dt.UTC).replace(tzinfo=None)
    pg.execute("INSERT INTO serving_hours (timestamp) VALUES (%s)", (hour,))
    pg.execute(
        "INSERT INTO landed_hours (timestamp, events, landed_at) VALUES (%s, 1, now())",
        (hour - dt.timedelta(hours=30),),
    )
    pg.execute(
        "INSERT INTO reconciliation (timestamp, type, speed_total, batch_total, difference,"
        " late_events, quarantined_events, unexplained) VALUES (%s, 'app_bytes_total', 10, 17,"
        " 7, 0, 0, 7)",
        (hour,),
    )
    # An hour past the windows' retention (a backfill of old history) has no speed-layer rows
    # to compare with: its "unexplained" bytes are no verdict and raise nothing.
    pg.execute(
        "INSERT INTO reconciliation (timestamp, type, speed_total, batch_total, difference,"
        " late_events, quarantined_events, unexplained) VALUES (%s, 'user_bytes_total', 0, 5,"
        " 5, 0, 0, 5)",
        (hour - dt.timedelta(days=settings.retain_windows_days + 1),),
    )
    pg.execute(failure, ("r2",))
    b = scrape(metrics_url(settings, settings.batch_metrics_port))
    assert b[("lambda_batch_source_up", (("database", "telemetry"),))] == 1
    assert b[("lambda_batch_last_hour_published_timestamp_seconds", ())] == t0
    overdue = pg.execute(
        "SELECT count(*) FROM landed_hours l WHERE NOT EXISTS"
        " (SELECT 1 FROM serving_hours s WHERE s.timestamp = l.timestamp)"
        " AND l.timestamp < now() AT TIME ZONE 'UTC' - interval '3 hours'"
    ).fetchone()[0]
    assert b[("lambda_batch_overdue_hours", ())] == overdue >= 1
    assert b[("lambda_batch_unexplained_hours", ())] == 1
    assert by_label(b, "lambda_batch_unexplained_bytes", "type") == {"app_bytes_total": 7}
    failed = (("dag_id", "lambda_hourly"), ("task_id", "batch_hourly"))
    assert b[("lambda_batch_task_failures_total", failed)] == 2

    # Prometheus scrapes both and evaluates the rules on what it scraped.
    def targets_up() -> bool:
        result = prometheus_api(settings, "query?query=up")["result"]
        return {r["metric"]["job"]: r["value"][1] for r in result} == {
            "speed_layer": "1",
            "batch_layer": "1",
            "prometheus": "1",
        }

    wait_until(targets_up, 60, "Prometheus scraping every target")
    wait_until(
        lambda: alert_states(settings).get("LambdaUnexplainedDifference") in ("pending", "firing"),
        60,
        "the unexplained-difference alert evaluated as active",
    )
    states = alert_states(settings)
    assert states["LambdaHourNotPublished"] in ("pending", "firing")
    assert states["LambdaBatchTaskFailed"] in ("pending", "firing")
    for quiet in ("LambdaSpeedLayerDown", "LambdaSpeedLayerStale", "LambdaBatchLayerDown"):
        assert states[quiet] == "inactive", (quiet, states)
    scrape_file = Path(settings.home) / "logs" / "metrics-scrape.txt"
    scrape_file.write_text(
        "\n".join(f"{n}{dict(labels) or ''} {v}" for (n, labels), v in sorted({**s, **b}.items()))
    )
    assert speed_layer.stop() == 0
