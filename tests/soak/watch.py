"""What the soak watches, sampled every 10 s and kept per slice: the speed layer's micro-batch
durations (its log), the resident memory of its JVM and of its Python driver (/proc), the records
behind (Kafka's end offsets against the offsets it applied in PostgreSQL), the duplicate state's
blocks (its metrics), and at each slice's end PostgreSQL's table and index sizes and the files
of the open hour. The lambda_hourly runs come from Airflow's metadata
database."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from kafka import KafkaConsumer, TopicPartition

from benchmark.speed_log import APPLIED
from telemetry import config, raw_layout

from ..chaos import faults
from ..integration.test_metrics import metrics_url, scrape

SAMPLE_SECONDS = 10.0
# Relations whose size the soak follows: each with its partitions and its indexes.
RELATIONS = ("bytes", "bytes_by_hour", "quarantine")


@dataclass
class Slice:
    start: float  # wall clock
    end: float
    batches: list[float] = field(default_factory=list)  # seconds per micro-batch
    jvm_mib: float = 0.0  # peaks of the samples
    python_mib: float = 0.0
    behind: float = 0.0  # records not yet applied, peak of the samples
    state_mib: float = 0.0
    table_mib: dict[str, float] = field(default_factory=dict)  # at the slice's end
    index_mib: dict[str, float] = field(default_factory=dict)
    open_hour_files: int = 0


def rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


def speed_layer_rss(home: Path) -> tuple[float, float]:
    """(JVM, Python driver) resident memory of the speed layer of the state folder ``home``."""
    jvm = python = 0.0
    for pid in faults.pids("spark_apps/speed_layer.py", home):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:  # gone
            continue
        if comm == "java":
            jvm += rss_mib(pid)
        elif comm.startswith("python"):
            python += rss_mib(pid)
    return jvm, python


def relation_sizes(settings: config.Settings) -> tuple[dict[str, float], dict[str, float]]:
    """MiB of each relation's heap (with TOAST) and of its indexes, its partitions summed."""
    tables, indexes = {}, {}
    with psycopg.connect(settings.pg_dsn, autocommit=True) as pg:
        for name in RELATIONS:
            table, index = pg.execute(
                "SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid))"
                " FROM pg_partition_tree(%s)",
                (name,),
            ).fetchone()
            tables[name], indexes[name] = float(table or 0) / 2**20, float(index or 0) / 2**20
    return tables, indexes


def records_behind(settings: config.Settings, consumer: KafkaConsumer) -> int:
    """Records in the topic the speed layer has not applied yet. (Its own lag metric is taken
    when a micro-batch is planned: a batch reads up to the end, so it says 0 however long the
    batch then takes.)"""
    partitions = [TopicPartition(settings.kafka_topic, p) for p in range(settings.kafka_partitions)]
    ends = {tp.partition: end for tp, end in consumer.end_offsets(partitions).items()}
    with psycopg.connect(settings.pg_dsn) as pg:
        applied = dict(
            pg.execute(
                "SELECT kafka_partition, applied_through FROM speed_layer_offsets"
                " WHERE kafka_topic = %s",
                (settings.kafka_topic,),
            ).fetchall()
        )
    # applied_through is the last applied offset, a partition's end the next one to come.
    return sum(max(0, end - applied.get(p, -1) - 1) for p, end in ends.items())


def open_hour_files(settings: config.Settings, now: float) -> int:
    """Parquet files in the hour being written (a local dataset; 0 for a Hadoop URI)."""
    hour = dt.datetime.fromtimestamp(now - now % 3600, dt.UTC).replace(tzinfo=None)
    folder = Path(raw_layout.hour_folder(settings.raw_dir, hour).removeprefix("file://"))
    return len(list(folder.glob("*.parquet"))) if folder.is_dir() else 0


class Watcher(threading.Thread):
    """Slice 0 is the warm-up (the speed layer's first batches, the scheduler's first runs):
    shown, never the baseline; slices 1, 2, ... last ``slice_seconds`` each."""

    def __init__(
        self, settings: config.Settings, began: float, warmup: float, slice_seconds: float
    ) -> None:
        super().__init__(name="soak-watcher", daemon=True)
        self.settings, self.began, self.slice_seconds = settings, began, slice_seconds
        self.warm_end = began + warmup
        self.slices: list[Slice] = []
        self.stopping = threading.Event()
        self.speed_log = settings.home / "logs" / "speed_layer.log"
        self.log_offset = self.speed_log.stat().st_size
        self.errors: list[str] = []
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)

    def bounds(self, index: int) -> tuple[float, float]:
        if index == 0:
            return self.began, self.warm_end
        start = self.warm_end + (index - 1) * self.slice_seconds
        return start, start + self.slice_seconds

    def current(self, now: float) -> Slice:
        index = 0 if now < self.warm_end else 1 + int((now - self.warm_end) // self.slice_seconds)
        while len(self.slices) <= index:
            if self.slices:
                self.close_slice(self.slices[-1])
            self.slices.append(Slice(*self.bounds(len(self.slices))))
        return self.slices[index]

    def close_slice(self, done: Slice) -> None:
        try:
            done.table_mib, done.index_mib = relation_sizes(self.settings)
        except psycopg.Error as exc:
            self.errors.append(f"sizes: {exc}")
        done.open_hour_files = open_hour_files(self.settings, done.end - 1)

    def sample(self) -> None:
        now = time.time()
        part = self.current(now)
        with self.speed_log.open("rb") as log:
            log.seek(self.log_offset)
            text = log.read()
        complete = text[: text.rfind(b"\n") + 1]
        self.log_offset += len(complete)
        part.batches += [
            float(m.group(3)) for m in APPLIED.finditer(complete.decode(errors="replace"))
        ]
        jvm, python = speed_layer_rss(self.settings.home)
        part.jvm_mib, part.python_mib = max(part.jvm_mib, jvm), max(part.python_mib, python)
        part.behind = max(part.behind, records_behind(self.settings, self.consumer))
        try:
            s = scrape(metrics_url(self.settings, self.settings.speed_metrics_port))
        except OSError as exc:
            self.errors.append(f"metrics: {exc}")
            return
        part.state_mib = max(part.state_mib, s.get(("lambda_speed_state_bytes", ()), 0) / 2**20)

    def run(self) -> None:
        while not self.stopping.wait(SAMPLE_SECONDS):
            try:
                self.sample()
            except Exception as exc:  # noqa: BLE001 - a lost sample is reported, not fatal
                self.errors.append(f"sample: {type(exc).__name__}: {exc}")
                print(f"soak watcher: {traceback.format_exc()}", file=sys.stderr, flush=True)

    def finish(self, end: float) -> list[Slice]:
        """Stops sampling; the slices up to ``end`` (the load's end), the last one closed."""
        self.stopping.set()
        self.join(60)
        self.consumer.close()
        kept = [s for s in self.slices if s.start < end]
        if kept:
            kept[-1].end = min(kept[-1].end, end)
            self.close_slice(kept[-1])
        return kept
