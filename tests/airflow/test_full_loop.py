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
from dataclasses import dataclass
from pathlib import Path

import pytest

from .browser import drawn_marks, logged_in_page, table_rows, wait_loaded
from .conftest import REPO, run_dag, table, wait_until

HOUR = dt.timedelta(hours=1)
HISTORY_HOURS = 3
# The oldest replayed hour (over for more than an hour, so the DAG's wait passes at once): it
# has the late events, producer retries and history the speed layer never saw.
CHECKED_HOURS = 1
# A device sending markup: the dashboard must show it as text, never run it.
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>\u0007'


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
    send_lines(settings, topic, [json.dumps(e) for e in events])


def send_lines(settings, topic: str, lines: list[str]) -> None:
    """Send records with the Spark side's kafka-python (the Airflow side has none)."""
    code = (
        "import json, sys\n"
        "from kafka import KafkaProducer\n"
        "p = KafkaProducer(bootstrap_servers=sys.argv[1], acks='all')\n"
        "for line in sys.stdin: p.send(sys.argv[2], line.strip().encode())\n"
        "p.flush(); p.close()\n"
    )
    subprocess.run(
        [spark_python(settings), "-c", code, settings.kafka_bootstrap, topic],
        input="\n".join(lines),
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )


def simulate(settings, env: dict, truth: Path, *amount: str) -> None:
    """The simulator's canonical mix with late, duplicate and malformed records."""
    sim = subprocess.run(
        [
            spark_python(settings),
            "-m",
            "simulator",
            "--mode",
            "canonical",
            *amount,
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
            env["LAMBDA_KAFKA_TOPIC"],
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sim.returncode == 0, sim.stderr[-2000:]


@dataclass(frozen=True)
class LoopRun:
    truth: Path  # every record the simulator sent (and the late and unseen events added)
    hours: list[dt.datetime]  # the hours lambda_hourly ran for
    late: list[dict]
    unseen: list[dict]
    topic: str


@pytest.fixture(scope="module")
def loop_run(settings, pg, land, tmp_path_factory) -> LoopRun:
    """Simulator -> Kafka -> speed layer -> Parquet, late events and a hostile record sent
    after it, history landed without the speed layer, then lambda_hourly for the oldest hours."""
    tmp_path = tmp_path_factory.mktemp("loop")
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
        simulate(settings, env, truth, "--history-hours", str(HISTORY_HOURS), "--count", "6000")
        # Then two seconds of live traffic: the current hour's 5-minute windows (dashboard).
        live = tmp_path / "truth-live.jsonl"
        simulate(settings, env, live, "--count", "150", "--rate", "75")
        sent = len(truth.read_text().splitlines()) + len(live.read_text().splitlines())
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
        send_lines(settings, topic, [HOSTILE])  # for the dashboard: quarantined as not JSON
        wait_until(
            lambda: speed.poll() is None and committed_offsets(checkpoint) == sent + len(late) + 1,
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
    return LoopRun(truth, hours, late, unseen, topic)


def test_simulator_to_serving_view_equals_ground_truth(loop_run, pg):
    truth, hours = loop_run.truth, loop_run.hours
    late, unseen = loop_run.late, loop_run.unseen
    first_hour = hours[0]
    emails = dict(pg.execute("SELECT id, email FROM user_metadata").fetchall())
    quotas = dict(pg.execute("SELECT email, quota FROM user_metadata").fetchall())
    totals, usage = expected_from_truth(truth, emails, hours)
    assert len(totals) >= 25  # 5 antennas, 5 apps, the users who sent in the hour
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


def utc(moment: dt.datetime) -> str:
    return moment.isoformat() + "Z"


def shown(pg, sql: str, *params) -> list[list[str]]:
    """Rows as the dashboard's tables show them: times in ISO UTC, numbers with separators."""

    def cell(value) -> str:
        if isinstance(value, dt.datetime):
            return utc(value)
        return f"{value:,}" if isinstance(value, int) else str(value)

    return [[cell(v) for v in row] for row in pg.execute(sql, params).fetchall()]


def test_dashboard_inside_the_airflow_ui_shows_the_loop(loop_run, pg, settings):
    """Logged in through the Airflow UI, the dashboard page inside it: every chart drew data,
    its tables hold the database's numbers, the hostile record is text, a deep link reloads to
    the same view. The screenshot is left in $LAMBDA_HOME/artifacts/dashboard.png."""
    base = f"http://127.0.0.1:{settings.airflow_port}"
    password = (settings.home / "secrets" / "airflow_admin_password").read_text().strip()
    latest_window = pg.execute("SELECT max(timestamp) FROM bytes").fetchone()[0]
    end = latest_window.replace(minute=0) + HOUR  # the live traffic's hour is the last one
    start = end - 6 * HOUR
    antenna = pg.execute(
        "SELECT id FROM serving_bytes_hourly WHERE type = 'antenna_bytes_total'"
        " AND timestamp >= %s AND timestamp < %s GROUP BY id ORDER BY sum(value) DESC, id"
        " LIMIT 1",
        (start, end),
    ).fetchone()[0]
    deep_link = f"{base}/telemetry/?hours=6&end={end:%Y-%m-%dT%H:%M}&antenna={antenna}&refresh=0"
    artifacts = settings.home / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)

    with logged_in_page(base, password) as page:
        page.goto(f"{base}/plugin/telemetry")
        frame = page.wait_for_selector("iframe[src*='/telemetry/']", timeout=60_000)
        frame = frame.content_frame()
        wait_loaded(frame)
        # The hostile record, newest in the default view: its text, escaped, and nothing run.
        payloads = frame.locator("#table-quarantine-latest td.payload").all_text_contents()
        assert HOSTILE.replace("\a", "\\x07") in payloads
        assert frame.evaluate("window.pwned") is None
        markup = frame.locator("#table-quarantine-latest img, #table-quarantine-latest script")
        assert markup.count() == 0

        # The deep link, inside the Airflow UI.
        frame.goto(deep_link)
        wait_loaded(frame)
        assert frame.locator("#status").get_attribute("class") != "error"
        marks = drawn_marks(frame)
        assert len(marks) == 8 and all(p > 0 and m > 0 for p, m in marks.values()), marks
        page.screenshot(path=str(artifacts / "dashboard.png"))

        hourly = (
            "SELECT timestamp, id, value, source FROM serving_bytes_hourly WHERE type = %s"
            " AND timestamp >= %s AND timestamp < %s {} ORDER BY timestamp, id"
        )
        assert table_rows(frame, "table-hourly-antenna") == shown(
            pg, hourly.format("AND id = %s"), "antenna_bytes_total", start, end, antenna
        )
        assert table_rows(frame, "table-hourly-app") == shown(
            pg, hourly.format(""), "app_bytes_total", start, end
        )
        assert table_rows(frame, "table-windows-antenna") == shown(
            pg,
            "SELECT timestamp, id, value FROM bytes WHERE type = 'antenna_bytes_total'"
            " AND id = %s AND timestamp >= %s AND timestamp < %s ORDER BY timestamp, id",
            antenna,
            end - HOUR,
            end,
        )
        assert table_rows(frame, "table-quarantine") == shown(
            pg,
            "SELECT date_trunc('hour', kafka_timestamp), reason, count(*) FROM quarantine"
            " WHERE kafka_timestamp >= %s AND kafka_timestamp < %s GROUP BY 1, 2 ORDER BY 1, 2",
            start,
            end,
        )
        confirmed = shown(
            pg,
            "SELECT timestamp, email, usage, quota, 'confirmed (batch)' FROM user_quota_limit"
            " WHERE timestamp >= %s AND timestamp < %s ORDER BY timestamp, usage DESC, email",
            start,
            end,
        )
        assert confirmed, "the loop's batch run found users over quota"
        assert table_rows(frame, "table-quota")[: len(confirmed)] == confirmed

        # The same link reloaded on its own: the same filters, the same figures.
        page.goto(deep_link)
        wait_loaded(page)
        ids = ("table-hourly-antenna", "table-hourly-app", "table-quota", "table-quarantine")
        before = {i: table_rows(page, i) for i in ids}
        page.reload()
        wait_loaded(page)
        assert page.locator("input[name=antenna]").input_value() == antenna
        assert {i: table_rows(page, i) for i in ids} == before
