"""Throughput of each stage of the pipeline, side by side with the baselines measured in the same
run, against the running Kafka broker and PostgreSQL (``make bench`` starts them on their own
ports and state folder).

    python -m benchmark [--events N] [--fresh-rate R] [--fresh-seconds S]
                        [--drain-steps 1|2|3] [--batch-events M] [--batch-steps 1|2|3]
                        [--json FILE] [--keep]

One backlog of N events (two hours of event time, no duplicates, so every figure counts the same
events) goes through: message generation alone (the simulator's baseline), the simulator into
Kafka, the Spark Kafka source alone (the Spark stages' baseline), + parse and validation, the
seed's design (a streaming query per metric) and the one-pass speed layer, the speed layer
itself (spark-submit) draining the backlog (then backlogs of N/4 and N/2 events: growth), and
the hourly batch job over the Parquet it landed (it must count N events) with DuckDB over the
same files (same totals, checked). Then hours of
M/4, M/2 and M synthetic events: the batch job against DuckDB on each (growth), and the whole
lambda_hourly DAG run on the biggest (airflow dags test). Last, freshness: the speed layer live
under R events/s for S seconds, produce-to-visible delays of probe events.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from benchmark import duckdb_hourly, freshness
from simulator.bench import generation_rate
from simulator.events import Generator, Plan
from simulator.producer import SimulatorError, connect, send_all
from telemetry import config, postgres
from telemetry.kafka_topics import new_topic

SUBMIT = config.REPO_ROOT / "include" / "scripts" / "spark_submit.sh"
STAGES_APP = "include/benchmark/spark_stages.py"
SEED_TABLE = "bench_seed_bytes"
HISTORY_SECONDS = 2 * 3600
TARGETS = {"simulator": 100_000, "speed_layer": 200_000}  # from the project's performance goals
QUERIES = ("speed_layer",)
PROGRESS = re.compile(r"\[speed-layer\] (\w+) batch \d+: (\d+) rows")
STARTED = re.compile(r"\[speed-layer\] query (\w+) started")


class BenchmarkError(Exception):
    pass


@dataclass
class Figure:
    key: str
    label: str
    events: int
    seconds: float
    baseline: str | None = None  # key of the figure this one is compared with
    target: int | None = None

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def log(line: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def create_topic(settings: config.Settings) -> str:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    try:
        admin.create_topics([new_topic(topic, settings)])
    finally:
        admin.close()
    return topic


def delete_topic(settings: config.Settings, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()


def backlog_plan(events: int, users: int, antennas: int, start: int) -> Plan:
    return Plan(
        users=users,
        antennas=antennas,
        count=events,
        start=start,
        rate=events / HISTORY_SECONDS,
        seed=3,
    )


def produce(settings: config.Settings, topic: str, plan: Plan) -> Figure:
    producer = connect(settings.kafka_bootstrap, topic)
    try:
        stats = send_all(Generator(plan).phase(plan.start, plan.rate, plan.count), producer, topic)
    finally:
        producer.close(timeout=10)
    return Figure(
        "simulator",
        "simulator -> Kafka, one process",
        stats.sent,
        stats.elapsed,
        "generation",
        TARGETS["simulator"],
    )


def submit(app: str, args: Sequence[str], env: dict[str, str], timeout: float):
    """spark-submit an app and wait; the output comes back for parsing and error messages."""
    cmd = ["bash", str(SUBMIT), app, *args]
    proc = subprocess.run(
        cmd,
        cwd=config.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise BenchmarkError(f"{app} exited with {proc.returncode}:\n{tail}")
    return proc


def prepare_seed_table(settings: config.Settings) -> None:
    """The seed design's append target (include/benchmark/spark_stages.py), empty."""
    with postgres.connect(settings) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SEED_TABLE}")
        conn.execute(f"CREATE TABLE {SEED_TABLE} (LIKE bytes)")
        conn.execute(f"ALTER TABLE {SEED_TABLE} DROP CONSTRAINT IF EXISTS {SEED_TABLE}_pkey")
        speed = settings.pg_login("speed")
        conn.execute(f'GRANT INSERT ON {SEED_TABLE} TO "{speed}"')


def drop_seed_table(settings: config.Settings) -> None:
    with postgres.connect(settings) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SEED_TABLE}")


def forget_topic(settings: config.Settings, topic: str) -> None:
    """What the one-pass stage applied for the backlog's topic: gone, so the speed layer run
    after it counts the backlog again (the benchmark's own database)."""
    with postgres.connect(settings) as conn:
        conn.execute("DELETE FROM speed_layer_offsets WHERE kafka_topic = %s", (topic,))
        conn.execute("DELETE FROM speed_layer_progress")
        conn.execute("TRUNCATE bytes, quarantine")


def spark_stages(env: dict[str, str], events: int, timeout: float) -> list[Figure]:
    proc = submit(STAGES_APP, [], env, timeout)
    for line in proc.stderr.splitlines():
        if line.startswith("[bench]"):
            log(line.removeprefix("[bench] "))
    line = next(x for x in proc.stdout.splitlines() if x.startswith("BENCH_STAGES "))
    results = json.loads(line.removeprefix("BENCH_STAGES "))
    labels = {
        "kafka_source": ("Spark Kafka source alone -> no-op", None),
        "parse_validate": ("+ parse and validate -> no-op", "kafka_source"),
        "seed_design": (
            "seed's design: 3 window queries + raw query, each reading Kafka",
            "kafka_source",
        ),
        "one_pass": ("one pass: windows + Parquet + quarantine (availableNow)", "kafka_source"),
    }
    figures = []
    for key, (label, baseline) in labels.items():
        r = results[key]
        if r["rows"] != events:
            raise BenchmarkError(f"stage {key} read {r['rows']} rows, expected {events}")
        figures.append(Figure(key, label, r["rows"], r["seconds"], baseline))
    return figures


class SpeedLayerWatch:
    """Follows the speed layer's output: when both queries started, when both had read N rows."""

    def __init__(self, proc: subprocess.Popen, log_path: Path, events: int) -> None:
        self.proc, self.events = proc, events
        self.rows = dict.fromkeys(QUERIES, 0)
        self.started: set[str] = set()
        self.t_started: float | None = None
        self.t_done: float | None = None
        self.done = threading.Event()
        self._log = log_path.open("w")
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        for line in self.proc.stdout:
            now = time.perf_counter()
            self._log.write(line)
            if m := STARTED.search(line):
                self.started.add(m.group(1))
                if self.started >= set(QUERIES) and self.t_started is None:
                    self.t_started = now
            elif m := PROGRESS.search(line):
                self.rows[m.group(1)] += int(m.group(2))
                if min(self.rows.values()) >= self.events and self.t_done is None:
                    self.t_done = now
                    self.done.set()
        self._log.close()
        self.done.set()  # the process ended


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a spark-submitted app (the launcher forwards it to the driver); SIGKILL its
    process group if it has not stopped within a minute."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def speed_layer(
    env: dict[str, str],
    work: Path,
    events: int,
    timeout: float,
    key: str = "speed_layer",
    label: str = "speed layer end to end (spark-submit, live trigger)",
    baseline: str = "kafka_source",
) -> Figure:
    log_path = work / f"{key}.log"
    proc = subprocess.Popen(
        ["bash", str(SUBMIT), "spark_apps/speed_layer.py"],
        cwd=config.REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    watch = SpeedLayerWatch(proc, log_path, events)
    try:
        finished = watch.done.wait(timeout)
    finally:
        stop(proc)
    if watch.t_done is None or watch.t_started is None:
        why = "timed out" if not finished else f"exited with {proc.returncode}"
        raise BenchmarkError(
            f"speed layer {why} after reading {watch.rows} of {events} rows; see {log_path}"
        )
    return Figure(
        key, label, events, watch.t_done - watch.t_started, baseline, TARGETS["speed_layer"]
    )


def drain_growth(
    settings: config.Settings, env: dict[str, str], work: Path, args: argparse.Namespace, start: int
) -> list[Figure]:
    """The speed layer draining backlogs of N/4 and N/2 events as well (N = --events;
    --drain-steps 2: N/2 only, 1: none), each from a topic, checkpoint and master dataset of its
    own: against the N-event drain (the baseline), a rate ratio near 1 means cost linear in the
    size."""
    figures = []
    sizes = [args.events // 4, args.events // 2][3 - args.drain_steps :]
    for size in sizes:
        topic = create_topic(settings)
        try:
            log(f"speed layer draining a {size:,}-event backlog (growth)")
            produce(settings, topic, backlog_plan(size, args.users, args.antennas, start))
            grown = {
                **env,
                "LAMBDA_KAFKA_TOPIC": topic,
                "LAMBDA_CHECKPOINT_DIR": str(work / f"checkpoints_{size}"),
                "LAMBDA_RAW_DIR": str(work / f"raw_{size}"),
            }
            label = f"speed layer end to end, {size:,}-event backlog"
            timeout = max(300.0, size / 2000)
            figures.append(
                speed_layer(grown, work, size, timeout, f"speed_layer_{size}", label, "speed_layer")
            )
        finally:
            with contextlib.suppress(KafkaError):
                delete_topic(settings, topic)
            shutil.rmtree(work / f"raw_{size}", ignore_errors=True)
            shutil.rmtree(work / f"checkpoints_{size}", ignore_errors=True)
    return figures


def live_freshness(
    settings: config.Settings, env: dict[str, str], work: Path, args: argparse.Namespace
) -> freshness.Freshness:
    """The speed layer live on a topic of its own, the sustained load and the probes."""
    topic = create_topic(settings)
    live_env = {**env, "LAMBDA_KAFKA_TOPIC": topic, "LAMBDA_CHECKPOINT_DIR": str(work / "live")}
    log_path = work / "speed_layer_live.log"
    out = log_path.open("w")
    proc = subprocess.Popen(
        ["bash", str(SUBMIT), "spark_apps/speed_layer.py"],
        cwd=config.REPO_ROOT,
        env=live_env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while "query speed_layer started" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise BenchmarkError(f"the live speed layer did not start; see {log_path}")
            time.sleep(0.5)
        return freshness.measure(
            settings,
            topic,
            args.fresh_rate,
            args.fresh_seconds,
            args.users,
            args.antennas,
            warmup=min(30.0, args.fresh_seconds),
        )
    finally:
        stop(proc)
        out.close()
        with contextlib.suppress(KafkaError):
            delete_topic(settings, topic)


def freshness_table(f: freshness.Freshness) -> str:
    return "\n".join(
        [
            f"freshness, produce -> window total visible in bytes, speed layer live "
            f"(trigger {os.environ.get('LAMBDA_TRIGGER', '1 second')}):",
            f"  load {f.target_rate:,.0f} events/s asked, {f.achieved_rate:,.0f} sent, "
            f"{f.seconds:.0f} s with the warm-up; probes seen {f.probes_seen} of "
            f"{f.probes_sent} (sent after the warm-up)",
            f"  p50 {f.p50:.2f} s   p95 {f.p95:.2f} s   max {f.max:.2f} s",
        ]
    )


def run_batch_job(
    env: dict[str, str], start: datetime, end: datetime, timeout: float
) -> tuple[float, float]:
    """spark-submit the hourly batch job for [start, end): (wall seconds, seconds after the
    Spark session was ready, from its own log)."""
    t0 = time.perf_counter()
    proc = submit(
        "spark_apps/batch_hourly.py",
        ["--start", start.isoformat(), "--end", end.isoformat()],
        env,
        timeout,
    )
    wall = time.perf_counter() - t0
    done = re.search(r"done in ([\d.]+) s", proc.stdout)
    ready = re.search(r"Spark session ready in ([\d.]+) s", proc.stdout)
    if not (done and ready):
        raise BenchmarkError(f"no timing lines in the hourly batch job's output:\n{proc.stdout}")
    return wall, float(done.group(1)) - float(ready.group(1))


def user_emails(settings: config.Settings) -> dict[str, str]:
    with postgres.connect(settings) as conn:
        return dict(conn.execute("SELECT id, email FROM user_metadata").fetchall())


def duckdb_agrees(
    settings: config.Settings, root: str, hour: datetime, emails: dict[str, str]
) -> float:
    """DuckDB's hourly totals over the Parquet files of ``hour`` under ``root``; seconds taken.
    Fails unless they equal the batch job's rows in bytes_hourly for every type and key."""
    seconds, duck = duckdb_hourly.hourly_totals(root, hour, emails, threads=os.cpu_count() or 2)
    with postgres.connect(settings.as_role("reader")) as conn:
        spark = {
            (t, k): v
            for t, k, v in conn.execute(
                "SELECT type, id, value FROM bytes_hourly WHERE timestamp = %s",
                (hour.replace(tzinfo=None),),
            ).fetchall()
        }
    if spark != duck:
        differ = sorted(k for k in spark.keys() | duck.keys() if spark.get(k) != duck.get(k))
        raise BenchmarkError(
            f"the batch job and DuckDB disagree on {len(differ)} totals of the hour {hour}, "
            f"e.g. {differ[:3]}"
        )
    return seconds


def batch_hourly(
    settings: config.Settings, env: dict[str, str], start: datetime, events: int, timeout: float
) -> list[Figure]:
    """The hourly batch job over the backlog's two hours, and DuckDB over the same files."""
    end = start + timedelta(seconds=HISTORY_SECONDS)
    wall, compute = run_batch_job(env, start, end, timeout)
    with postgres.connect(settings.as_role("reader")) as conn:
        counted = conn.execute(
            "SELECT coalesce(sum(events), 0) FROM batch_hourly_stats "
            "WHERE timestamp >= %s AND timestamp < %s",
            (start.replace(tzinfo=None), end.replace(tzinfo=None)),
        ).fetchone()[0]
    if counted != events:
        raise BenchmarkError(f"the hourly batch job counted {counted} events, expected {events}")
    emails = user_emails(settings)
    hours = [start + timedelta(hours=h) for h in range(HISTORY_SECONDS // 3600)]
    duck = sum(duckdb_agrees(settings, env["LAMBDA_RAW_DIR"], h, emails) for h in hours)
    return [
        Figure("batch_wall", "hourly batch job, spark-submit to exit", events, wall, "speed_layer"),
        Figure("duckdb", "DuckDB hourly totals over the same files", events, duck),
        Figure(
            "batch_compute", "hourly batch job, after Spark start-up", events, compute, "duckdb"
        ),
    ]


def json_list(output: str) -> list:
    """The JSON list in a CLI's output: Airflow prints log lines around it, and pretty-prints
    it over several lines."""
    for found in re.finditer(r"^\[", output, re.MULTILINE):
        try:
            value = json.JSONDecoder().raw_decode(output[found.start() :])[0]
        except json.JSONDecodeError:
            continue
        if isinstance(value, list):
            return value
    return []


def lambda_hourly_run(
    settings: config.Settings,
    env: dict[str, str],
    hour: datetime,
    events: int,
    timeout: float,
    baseline: str,
) -> Figure:
    """The whole lambda_hourly DAG run for ``hour`` (sensor, spark-submit of the batch job,
    reconciliation) with ``airflow dags test``: Airflow's metadata database, no scheduler. Timed
    from the command's start to its exit, so the CLI's start (~10 s) is in it: the run record's
    start date is not its wall-clock start for a re-run of the same date."""
    airflow = settings.tools_dir / "venv" / "airflow" / "bin" / "airflow"
    if not airflow.exists() or "AIRFLOW_HOME" not in env:
        raise BenchmarkError(
            "the DAG run needs Airflow's environment and metadata database: run it with make bench"
        )
    logical = (hour + timedelta(hours=1)).isoformat()  # a manual run's interval ends at its date
    began = time.perf_counter()
    proc = subprocess.run(
        [str(airflow), "dags", "test", "lambda_hourly", logical],
        cwd=config.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - began
    listed = subprocess.run(
        [str(airflow), "dags", "list-runs", "lambda_hourly", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    runs = [
        r
        for r in json_list(listed.stdout)
        if datetime.fromisoformat(r["logical_date"]) == datetime.fromisoformat(logical)
    ]
    if proc.returncode != 0 or not runs or runs[0]["state"] != "success":
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise BenchmarkError(f"the lambda_hourly run for {hour} did not succeed:\n{tail}")
    return Figure(
        "lambda_hourly",
        f"lambda_hourly DAG run (airflow dags test, CLI start in), {events:,}-event hour",
        events,
        seconds,
        baseline,
    )


def batch_against_duckdb(
    settings: config.Settings,
    env: dict[str, str],
    work: Path,
    args: argparse.Namespace,
    figures: list[Figure],
) -> None:
    """The hourly batch job against DuckDB on one hour of N/4, N/2 and N events (N =
    --batch-events; --batch-steps 1: N only), each in an hour of its own: the same files, the
    same totals (checked), and how the cost grows with the size. Appends to ``figures`` as
    it goes, so an error later keeps what was measured."""
    root = work / "big_raw"
    big_env = {**env, "LAMBDA_RAW_DIR": str(root)}
    now = int(time.time())
    first = now - now % 3600 - 48 * 3600  # far from the backlog's hours
    emails = user_emails(settings)
    n = args.batch_events
    sizes = [n // 4, n // 2, n][-args.batch_steps :]
    timeout = max(600.0, n / 5000)
    log(f"hours of {', '.join(f'{s:,}' for s in sizes)} events: landing them (spark-submit)")
    submit(
        "include/benchmark/big_hour.py",
        [str(root), str(first), str(args.users), str(args.antennas), *map(str, sizes)],
        big_env,
        timeout * len(sizes),
    )
    for i, size in enumerate(sizes):
        hour = datetime.fromtimestamp(first + i * 3600, UTC)
        log(f"the {size:,}-event hour: batch job, then DuckDB")
        _, compute = run_batch_job(
            big_env, hour, hour + timedelta(hours=1), max(600.0, size / 5000)
        )
        duck_seconds = duckdb_agrees(settings, str(root), hour, emails)
        figures.append(
            Figure(f"duckdb_{i}", f"DuckDB hourly totals, {size:,}-event hour", size, duck_seconds)
        )
        figures.append(
            Figure(
                f"batch_{i}",
                f"hourly batch job after start-up, {size:,}-event hour",
                size,
                compute,
                f"duckdb_{i}",
            )
        )
    last = len(sizes) - 1
    log(f"the {sizes[last]:,}-event hour: the whole lambda_hourly run (airflow dags test)")
    hour = datetime.fromtimestamp(first + last * 3600, UTC)
    figures.append(
        lambda_hourly_run(settings, big_env, hour, sizes[last], timeout, f"batch_{last}")
    )
    shutil.rmtree(root, ignore_errors=True)


def table(figures: list[Figure]) -> str:
    by_key = {f.key: f for f in figures}
    rows = [("stage", "events", "seconds", "events/s", "vs baseline", "vs target")]
    for f in figures:
        base = by_key.get(f.baseline) if f.baseline else None
        vs_base = f"{f.rate / base.rate:.2f}x {base.key}" if base and base.rate else "baseline"
        vs_target = f"{f.rate / f.target:.2f}x {f.target:,}/s" if f.target else ""
        rows.append(
            (f.label, f"{f.events:,}", f"{f.seconds:.2f}", f"{f.rate:,.0f}", vs_base, vs_target)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=500_000, help="backlog size (default 500000)")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--antennas", type=int, default=50)
    p.add_argument(
        "--fresh-rate", type=float, default=20_000, help="live load for freshness (events/s)"
    )
    p.add_argument(
        "--fresh-seconds", type=float, default=180, help="how long the live load runs (0: skip)"
    )
    p.add_argument(
        "--batch-events",
        type=int,
        default=10_000_000,
        help="largest hour for the batch job against DuckDB (also N/4, N/2; 0: skip)",
    )
    p.add_argument(
        "--batch-steps",
        type=int,
        choices=(1, 2, 3),
        default=3,
        help="how many of the sizes N/4, N/2, N to run, largest first kept (default 3)",
    )
    p.add_argument(
        "--drain-steps",
        type=int,
        choices=(1, 2, 3),
        default=3,
        help="how many backlogs of N/4, N/2, N events the speed layer drains (default 3)",
    )
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--keep", action="store_true", help="keep the topic and the Parquet output")
    args = p.parse_args(argv)
    if args.events < 1000:
        p.error("--events must be at least 1000")
    return args


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = config.load()
    work = settings.home / "bench" / time.strftime("%Y%m%dT%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    start = now - now % 3600 - HISTORY_SECONDS  # two complete hours of event time
    plan = backlog_plan(args.events, args.users, args.antennas, start)
    try:
        plan.validate()
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from None
    try:
        topic = create_topic(settings)
    except KafkaError as exc:
        raise BenchmarkError(f"Kafka at {settings.kafka_bootstrap}: {exc!r}") from None
    env = {
        **os.environ,
        "LAMBDA_KAFKA_TOPIC": topic,
        "LAMBDA_CHECKPOINT_DIR": str(work / "checkpoints"),
        "LAMBDA_RAW_DIR": str(work / "raw"),
        "LAMBDA_TRIGGER": "1 second",
    }
    spark_timeout = max(300.0, args.events / 2000)
    log(f"{args.events:,} events, topic {topic}, {os.cpu_count()} cores, work folder {work}")
    figures: list[Figure] = []
    fresh: freshness.Freshness | None = None
    finished = False
    try:
        n_gen = min(args.events, 300_000)
        log(f"message generation alone ({n_gen:,} events)")
        rate = generation_rate(n_gen, args.users, args.antennas)
        figures.append(
            Figure("generation", "message generation alone (no I/O)", n_gen, n_gen / rate)
        )
        log("simulator -> Kafka")
        figures.append(produce(settings, topic, plan))
        log(
            "Spark stages: source, parse, window query, each speed-layer query alone (spark-submit)"
        )
        prepare_seed_table(settings)
        figures += spark_stages(env, args.events, spark_timeout)
        forget_topic(settings, topic)  # the end-to-end run starts from nothing applied
        log("speed layer draining the backlog (spark-submit)")
        figures.append(speed_layer(env, work, args.events, spark_timeout))
        figures += drain_growth(settings, env, work, args, start)
        log("hourly batch job over the landed Parquet (spark-submit)")
        figures += batch_hourly(
            settings, env, datetime.fromtimestamp(start, UTC), args.events, spark_timeout
        )
        if args.batch_events > 0:
            batch_against_duckdb(settings, env, work, args, figures)
        if args.fresh_seconds > 0:
            log(f"freshness: {args.fresh_rate:,.0f} events/s for {args.fresh_seconds:.0f} s live")
            fresh = live_freshness(settings, env, work, args)
        finished = True
    finally:
        if not finished and figures:  # a long run's figures are not lost to a late error
            log("stopped by an error; the figures measured before it:")
            print(table(figures), flush=True)
        if not args.keep:
            with contextlib.suppress(KafkaError):  # never hide the error that got us here
                delete_topic(settings, topic)
            shutil.rmtree(work / "raw", ignore_errors=True)
            shutil.rmtree(work / "checkpoints", ignore_errors=True)
        drop_seed_table(settings)  # a scratch table: no role keeps a grant on it
    print(table(figures), flush=True)
    if fresh is not None:
        print(freshness_table(fresh), flush=True)
    if args.json:
        document = [asdict(f) | {"rate": f.rate} for f in figures]
        if fresh is not None:
            document.append({"key": "freshness", **asdict(fresh)})
        Path(args.json).write_text(json.dumps(document))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except (BenchmarkError, SimulatorError, config.ConfigError) as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
