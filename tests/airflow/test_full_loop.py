"""The whole loop for real: simulator -> Kafka -> speed layer (spark-submit) -> Parquet ->
lambda_hourly DAG runs -> serving_bytes_hourly, checked against the simulator's ground truth."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import uuid
from collections import defaultdict
from pathlib import Path

from .conftest import REPO, run_dag, table, wait_until

HOUR = dt.timedelta(hours=1)
HISTORY_HOURS = 3
CHECKED_HOURS = 2  # the oldest ones: over for more than an hour, so the DAG's wait passes at once


def spark_python(settings) -> str:
    return str(settings.spark_venv / "bin" / "python")


def committed_offsets(checkpoint: Path) -> int:
    """Kafka records the speed layer has fully processed (sum over partitions of its last
    committed batch's end offsets, from the checkpoint)."""
    commits = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")]
    if not commits:
        return 0
    lines = (checkpoint / "offsets" / str(max(commits))).read_text().splitlines()
    return sum(sum(int(o) for o in parts.values()) for parts in json.loads(lines[2]).values())


def expected_from_truth(truth: Path, emails: dict[str, str], hours: list[dt.datetime]):
    """Per (hour, type, key) totals and per (hour, email) usage from the messages sent."""
    first, end = hours[0], hours[-1] + HOUR
    events = set()
    for line in truth.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "malformed":
            continue
        e = json.loads(record["payload"])
        events.add((e["timestamp"], e["id"], e["antenna_id"], e["bytes"], e["app"]))
    totals: dict[tuple, int] = defaultdict(int)
    usage: dict[tuple, int] = defaultdict(int)
    for ts, user, antenna, nbytes, app in events:
        hour = dt.datetime.fromtimestamp(ts - ts % 3600, dt.UTC).replace(tzinfo=None)
        if not first <= hour < end:
            continue
        email = emails.get(user, user)
        totals[(hour, "antenna_bytes_total", antenna)] += nbytes
        totals[(hour, "user_bytes_total", email)] += nbytes
        totals[(hour, "app_bytes_total", app)] += nbytes
        usage[(hour, email)] += nbytes
    return totals, usage


def history_event(timestamp: int, nbytes: int) -> dict:
    return {
        "timestamp": timestamp,
        "id": "00000000-0000-0000-0000-000000000001",
        "antenna_id": "00000000-0000-0000-0000-100000000001",
        "bytes": nbytes,
        "app": "SKYPE",
    }


def send(settings, topic: str, events: list[dict]) -> None:
    """Send events with the Spark side's kafka-python (the Airflow side has none)."""
    code = (
        "import json, sys\n"
        "from kafka import KafkaProducer\n"
        "p = KafkaProducer(bootstrap_servers=sys.argv[1], acks='all')\n"
        "for line in sys.stdin: p.send(sys.argv[2], line.strip().encode())\n"
        "p.flush(); p.close()\n"
    )
    subprocess.run(
        [spark_python(settings), "-c", code, settings.kafka_bootstrap, topic],
        input="\n".join(json.dumps(e) for e in events),
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_simulator_to_serving_view_equals_ground_truth(settings, pg, land, tmp_path):
    # The speed layer adds to window rows: rows earlier test sessions left in this database for
    # the same windows would be counted with this run's (one speed layer per topic in use).
    pg.execute("TRUNCATE bytes, speed_layer_progress")
    topic = f"devices-loop-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "LAMBDA_KAFKA_TOPIC": topic,
        "LAMBDA_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "LAMBDA_TRIGGER": "1 second",
    }
    subprocess.run(
        [spark_python(settings), str(REPO / "include/scripts/kafka_topic.py")],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = tmp_path / "speed_layer.log"
    with log.open("w") as out:
        speed = subprocess.Popen(
            ["bash", str(REPO / "include/scripts/spark_submit.sh"), "spark_apps/speed_layer.py"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        truth = tmp_path / "truth.jsonl"
        sim = subprocess.run(
            [
                spark_python(settings),
                "-m",
                "simulator",
                "--mode",
                "canonical",
                "--history-hours",
                str(HISTORY_HOURS),
                "--count",
                "6000",
                "--seed",
                "5",
                "--late-rate",
                "0.02",
                "--duplicate-rate",
                "0.02",
                "--malformed-rate",
                "0.01",
                "--truth",
                str(truth),
                "--topic",
                topic,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert sim.returncode == 0, sim.stderr[-2000:]
        sent = len(truth.read_text().splitlines())
        checkpoint = tmp_path / "checkpoints" / "speed_layer"
        wait_until(
            lambda: speed.poll() is None and committed_offsets(checkpoint) == sent,
            240,
            f"the speed layer to land all {sent} messages",
        )
        # The replayed hours, from what was sent (on-time events start at the first one).
        first = min(
            json.loads(json.loads(line)["payload"])["timestamp"]
            for line in truth.read_text().splitlines()
            if json.loads(line)["kind"] == "valid"
        )
        # Events of the first hour sent now, hours behind the watermark: dropped as late.
        in_first_hour = first - first % 3600 + 60
        late = [history_event(in_first_hour + i, 10**9 + i) for i in range(5)]
        send(settings, topic, late)
        wait_until(
            lambda: speed.poll() is None and committed_offsets(checkpoint) == sent + len(late),
            120,
            "the speed layer to judge the late events",
        )
    finally:
        os.killpg(speed.pid, signal.SIGTERM)
        speed.wait(120)
    # History the speed layer never saw: landed in Parquet directly, as a backfill of old data.
    unseen = [history_event(in_first_hour + 60 + i, 2 * 10**9 + i) for i in range(3)]
    land(
        [
            {**e, "kafka_partition": 0, "kafka_offset": 10**9 + i, "kafka_timestamp": first}
            for i, e in enumerate(unseen)
        ]
    )
    with truth.open("a") as out:
        for e in late + unseen:
            out.write(json.dumps({"kind": "valid", "payload": json.dumps(e)}) + "\n")
    first_hour = dt.datetime.fromtimestamp(first - first % 3600, dt.UTC).replace(tzinfo=None)
    hours = [first_hour + i * HOUR for i in range(CHECKED_HOURS)]
    for hour in hours:
        assert run_dag("lambda_hourly", hour, HOUR) == "success"

    emails = dict(pg.execute("SELECT id, email FROM user_metadata").fetchall())
    quotas = dict(pg.execute("SELECT email, quota FROM user_metadata").fetchall())
    totals, usage = expected_from_truth(truth, emails, hours)
    assert len(totals) > 50
    serving = table(
        pg,
        "SELECT timestamp, type, id, value, source FROM serving_bytes_hourly"
        " WHERE timestamp >= %s AND timestamp < %s",
        hours[0],
        hours[-1] + HOUR,
    )
    assert serving == sorted((*k, v, "batch") for k, v in totals.items())
    over = table(
        pg,
        "SELECT timestamp, email, usage, quota FROM user_quota_limit"
        " WHERE timestamp >= %s AND timestamp < %s",
        hours[0],
        hours[-1] + HOUR,
    )
    assert over == sorted((h, e, u, quotas[e]) for (h, e), u in usage.items() if u > quotas[e])
    assert over, "the canonical mix puts some users over quota (fede's is 5,000 bytes/hour)"
    recon = table(
        pg,
        "SELECT timestamp, batch_total, quarantined_events >= 0 FROM"
        " reconciliation WHERE type = 'app_bytes_total' AND timestamp >= %s"
        " AND timestamp < %s",
        hours[0],
        hours[-1] + HOUR,
    )
    by_hour = defaultdict(int)
    for (hour, type_, _), value in totals.items():
        if type_ == "app_bytes_total":
            by_hour[hour] += value
    assert recon == [(h, by_hour[h], True) for h in hours]
    # A replay of history with producer retries, events sent hours late and history landed
    # without the speed layer: the speed layer's difference from the exact figure is
    # explained, per hour and type, by what it dropped or never saw.
    causes = table(
        pg,
        "SELECT timestamp, difference, late_bytes, unseen_bytes, overcounted_bytes,"
        " unexplained, late_events, unseen_events, duplicates_dropped FROM reconciliation"
        " WHERE timestamp >= %s AND timestamp < %s",
        hours[0],
        hours[-1] + HOUR,
    )
    assert len(causes) == 3 * len(hours)
    for _, difference, late_bytes, unseen_bytes, overcounted, unexplained, *_ in causes:
        assert (difference, unexplained) == (late_bytes + unseen_bytes - overcounted, 0)
    for row in causes[:3]:  # the first hour, one row per type
        assert row[0] == first_hour
        assert row[6] >= len(late) and row[2] >= sum(e["bytes"] for e in late)
        assert (row[7], row[3]) == (len(unseen), sum(e["bytes"] for e in unseen))
    assert sum(c[8] for c in causes) > 0, "the run had producer retries dropped as duplicates"
