"""The product on a cluster: a Spark standalone master with two workers, a 3-broker KRaft Kafka
(replication 3, min.insync.replicas 2, producer acks=all) and HDFS holding the Parquet dataset
and the checkpoints, all started by `make cluster-test` (include/scripts/cluster_test.sh).

A seeded stream (the chaos run's producer and ledger) runs while one broker is killed and
restarted and one Spark worker is killed (its tasks rerun on the other) and started again; then
the batch layer computes the complete hours under Airflow on the same master and HDFS paths.
Every acknowledged record must be landed or quarantined exactly once and every serving table
must equal the ground truth. Knobs: LAMBDA_CLUSTER_SECONDS, LAMBDA_CLUSTER_RATE.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from telemetry import config, raw_store
from telemetry.kafka_topics import new_topic

from ..airflow_api import AirflowApi
from ..chaos import faults
from ..chaos.checks import (
    check_everything,
    checked_tables,
    now_utc,
    wait_drained,
    wait_progress_after,
)
from ..chaos.ledger import SteadyProducer

pytestmark = pytest.mark.cluster

HOUR = dt.timedelta(hours=1)
RECOVERY_LIMIT_S = 120  # two one-core workers, three brokers, HDFS and Airflow on two cores


def files_under(spark, root: str) -> list[str]:
    """Every file under ``root`` through Hadoop's FileSystem, as the product reaches HDFS."""
    fs, jvm = raw_store.filesystem(spark, root)
    path = jvm.org.apache.hadoop.fs.Path(root)
    if not fs.exists(path):
        return []
    found, it = [], fs.listFiles(path, True)
    while it.hasNext():
        found.append(it.next().getPath().toString())
    return found


def json_at(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def executors_per_worker(settings, app_id: str) -> dict[int, int]:
    """Executors of ``app_id`` each worker runs or ran (the workers' own JSON API)."""
    found = {}
    for i in range(1, settings.spark_workers + 1):
        try:
            state = json_at(f"http://127.0.0.1:{settings.spark_worker_ui_port + i - 1}/json/")
        except OSError:
            found[i] = 0
            continue
        every = state.get("executors", []) + state.get("finishedexecutors", [])
        found[i] = sum(e.get("appid") == app_id for e in every)
    return found


def speed_layer_app(settings, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        apps = json_at(f"http://127.0.0.1:{settings.spark_master_ui_port}/json/")["activeapps"]
        for app in apps:
            if "speed" in app["name"].lower():
                return app["id"]
        time.sleep(1)
    raise AssertionError("the speed layer never registered with the Spark master")


def timed(kind: str, at: float, action, settings) -> dict:
    action()
    ended = now_utc()
    return {"kind": kind, "at_s": at, "recovery_s": wait_progress_after(settings, ended, 240)}


def test_cluster(settings, spark, capsys):
    assert settings.spark_master.startswith("spark://"), settings.spark_master
    assert not config.is_local(settings.raw_dir) and not config.is_local(settings.checkpoint_dir)
    seconds = float(os.environ.get("LAMBDA_CLUSTER_SECONDS", "120"))
    rate = float(os.environ.get("LAMBDA_CLUSTER_RATE", "150"))
    home = settings.home
    day = now_utc().replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    day -= dt.timedelta(days=3)
    first_hour, end = day - HOUR, day + HOUR
    topic = f"cluster-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    admin.create_topics([new_topic(topic, settings)])
    admin.close()
    env = {
        **os.environ,
        "LAMBDA_KAFKA_TOPIC": topic,
        "LAMBDA_CHECKPOINT_DIR": config.uri_join(settings.checkpoint_dir, topic),
        "LAMBDA_WATERMARK": "30 minutes",  # two hours of event time pass in minutes
    }
    began = time.monotonic()
    faults.script("speed_layer.sh", "start", env=env)
    started_s = time.monotonic() - began
    producer = SteadyProducer(settings.kafka_bootstrap, topic, first_hour, rate, seconds, 7)
    producer.start()
    results = []
    try:
        assert wait_progress_after(settings, now_utc(), 180) < 180, "the speed layer never ran"
        app_id = speed_layer_app(settings)
        placed = executors_per_worker(settings, app_id)
        at = time.monotonic() - began

        def broker_down() -> None:
            faults.script("kafka.sh", "kill-broker", "2")
            time.sleep(15)
            faults.script("kafka.sh", "start-broker", "2")

        results.append(timed("kill -9 broker 2, 15 s down", at, broker_down, settings))
        at = time.monotonic() - began
        speed_log = Path(home) / "logs" / "speed_layer.log"
        log_offset = speed_log.stat().st_size
        results.append(
            timed(
                "kill -9 Spark worker 2",
                at,
                lambda: faults.script("spark_cluster.sh", "kill-worker", "2"),
                settings,
            )
        )
        time.sleep(10)  # the stream runs on worker 1 alone for a while
        with speed_log.open("rb") as log:
            log.seek(log_offset)
            lost_executor = b"Lost executor" in log.read()
        faults.script("spark_cluster.sh", "start-worker", "2")
        time.sleep(max(0.0, seconds - (time.monotonic() - began)))
    finally:
        producer.stopping.set()
        producer.join(300)
    ledger = producer.ledger
    drained = wait_drained(settings, topic, ledger, first_hour, end, timeout=300)
    # One core per worker: the batch apps get executors once the stream's are gone.
    faults.script("speed_layer.sh", "stop", env=env)

    api = AirflowApi.when_up(settings, timeout=300)
    batch_began = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(run_dag, api, "lambda_hourly", first_hour),
            pool.submit(run_dag, api, "lambda_daily", day),
        ]
        states = [r.result() for r in runs]
    batch_s = time.monotonic() - batch_began

    found = check_everything(settings, spark, topic, ledger, day, first_hour, end, True)
    landed = [f for f in files_under(spark, settings.raw_dir) if f.endswith(".parquet")]
    checkpoint = files_under(spark, env["LAMBDA_CHECKPOINT_DIR"])
    local = sorted(str(p) for p in Path(home).rglob("*.parquet"))
    summary = render(
        seconds, rate, ledger, found, results, placed, started_s, batch_s, landed, checkpoint
    )
    with capsys.disabled():
        print(summary)
    (Path(home) / "logs").mkdir(parents=True, exist_ok=True)
    (Path(home) / "logs" / "cluster-summary.txt").write_text(summary)

    assert all(placed.get(i, 0) >= 1 for i in (1, 2)), f"executors per worker: {placed}"
    assert lost_executor, "the driver never lost the killed worker's executor"
    assert drained, "the speed layer never caught up with the ledger"
    assert found["lost"] == 0 and found["doubled"] == 0 and found["unknown"] == 0, found
    assert found["wrong_reason"] == 0 and found["wrong_content"] == 0, found
    for name in checked_tables(True):
        assert found[f"{name}_ok"], f"{name} differs from the ground truth"
    assert states == ["success", "success"], states
    assert all(r["recovery_s"] <= RECOVERY_LIMIT_S for r in results), results
    assert ledger.unacknowledged == 0, "the producer gave up on records"
    assert landed and any("/commits/" in f for f in checkpoint), (landed[:3], checkpoint[:3])
    assert local == [], f"Parquet on the local disk: {local[:5]}"


def run_dag(api: AirflowApi, dag_id: str, logical: dt.datetime) -> str:
    api.set_paused(dag_id, False)  # a paused DAG's backfill runs stay queued
    try:
        api.backfill(dag_id, logical, logical)
        (run,) = api.wait_runs(dag_id, logical, logical, 1)
    finally:
        api.set_paused(dag_id, True)
    return run["state"]


def render(seconds, rate, ledger, found, results, placed, started_s, batch_s, landed, checkpoint):
    versions = subprocess.run(
        ["bash", str(faults.SCRIPTS / "cluster_test.sh"), "versions"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    hostile = len(ledger.hostile_records())
    lines = [
        "",
        "=== cluster run " + "=" * 58,
        versions,
        f"{seconds:.0f} s at {rate:.0f} records/s; records acknowledged (acks=all):"
        f" {len(ledger.records)} ({hostile} hostile); not acknowledged: {ledger.unacknowledged}",
        f"lost {found['lost']}, doubled {found['doubled']}, unknown {found['unknown']},"
        f" wrong reason {found['wrong_reason']}, wrong content {found['wrong_content']}",
        "tables equal to the ground truth: "
        + ", ".join(f"{t} {'yes' if found[f'{t}_ok'] else 'NO'}" for t in checked_tables(True)),
        f"speed layer executors per worker: {placed}; submitted and started in {started_s:.0f} s",
        "  fault                              at (s)  progressing again after (s)",
        *[f"  {r['kind']:<34} {r['at_s']:6.0f}  {r['recovery_s']:8.1f}" for r in results],
        f"batch layer (lambda_hourly + lambda_daily on the cluster): {batch_s:.0f} s",
        f"in HDFS: {len(landed)} Parquet files, {len(checkpoint)} checkpoint files",
        "=" * 74,
    ]
    return "\n".join(lines)
