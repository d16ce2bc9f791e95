"""The speed layer's Prometheus metrics (docs/operations.md "Monitoring"), served on loopback by
prometheus-client from the driver: figures it already holds per micro-batch (aggregates only),
nothing per event."""

from __future__ import annotations

import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from telemetry import logs
from telemetry.schema import COUNTED, DUPLICATE, LATE
from telemetry.speed.summary import BatchSummary

QUARANTINED = "quarantined"
VERDICTS = (COUNTED, LATE, DUPLICATE, QUARANTINED)
# Micro-batches take ~1-3 s warm, a backlog's full batch tens of seconds.
DURATION_BUCKETS = (0.5, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, float("inf"))

log = logs.get("speed-layer")


class SpeedMetrics:
    """One registry per app (tests make several): the listener and the micro-batch writer
    update it, prometheus-client serves it."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.records = Counter(
            "lambda_speed_records", "Kafka records applied, by verdict", ["verdict"], registry=r
        )
        self.quarantined = Counter(
            "lambda_speed_quarantined_records",
            "Records quarantined, by reason",
            ["reason"],
            registry=r,
        )
        self.batches = Counter(
            "lambda_speed_micro_batches", "Micro-batches committed to PostgreSQL", registry=r
        )
        self.last_batch_records = Gauge(
            "lambda_speed_last_micro_batch_records", "Records in the last micro-batch", registry=r
        )
        self.duration = Histogram(
            "lambda_speed_micro_batch_duration_seconds",
            "Wall time of a micro-batch, read to commit",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.last_commit = Gauge(
            "lambda_speed_last_commit_timestamp_seconds",
            "When the last micro-batch was committed to PostgreSQL (unix time)",
            registry=r,
        )
        self.watermark = Gauge(
            "lambda_speed_watermark_timestamp_seconds",
            "The event-time watermark (unix time): events before it are late",
            registry=r,
        )
        self._watermark: float | None = None
        lag = Gauge(
            "lambda_speed_watermark_lag_seconds",
            "How far the watermark is behind now (computed when scraped)",
            registry=r,
        )
        lag.set_function(lambda: time.time() - self._watermark if self._watermark else 0.0)
        self.kafka_lag = Gauge(
            "lambda_speed_kafka_lag_records",
            "Records behind the topic's end when the last micro-batch was applied",
            ["partition"],
            registry=r,
        )
        restarts = Counter(
            "lambda_speed_restarts", "Restarts by the supervisor (supervise.sh)", registry=r
        )
        restarts.inc(int(os.environ.get("LAMBDA_SUPERVISOR_RESTARTS", "0") or 0))
        Gauge(
            "lambda_speed_start_timestamp_seconds", "When this run started", registry=r
        ).set_to_current_time()
        self.storage_free = Gauge(
            "lambda_raw_storage_free_bytes",
            "Free space of the Parquet dataset's file system",
            registry=r,
        )
        self.state_bytes = Gauge(
            "lambda_speed_state_bytes",
            "Executors' blocks the duplicate state is read from (the last judged micro-batch)",
            registry=r,
        )
        self.storage_capacity = Gauge(
            "lambda_raw_storage_capacity_bytes",
            "Capacity of the Parquet dataset's file system",
            registry=r,
        )
        for verdict in VERDICTS:  # present from the start: rate() needs a first sample
            self.records.labels(verdict)

    def batch_committed(self, summary: BatchSummary, seconds: float, watermark: int | None) -> None:
        """After a micro-batch's PostgreSQL commit: its figures, from the batch's summary."""
        for verdict in (COUNTED, LATE, DUPLICATE):
            self.records.labels(verdict).inc(summary.count(verdict))
        self.records.labels(QUARANTINED).inc(summary.rejected)
        for reason, n in summary.reasons.items():
            self.quarantined.labels(reason).inc(n)
        self.batches.inc()
        self.last_batch_records.set(summary.records)
        self.duration.observe(seconds)
        self.last_commit.set_to_current_time()
        if watermark is not None:
            self._watermark = float(watermark)
            self.watermark.set(watermark)

    def state(self, cached_bytes: int) -> None:
        self.state_bytes.set(cached_bytes)

    def lag(self, per_partition: dict[str, int]) -> None:
        for partition, behind in per_partition.items():
            self.kafka_lag.labels(partition).set(behind)

    def storage(self, free: int, capacity: int) -> None:
        self.storage_free.set(free)
        self.storage_capacity.set(capacity)

    def serve(self, host: str, port: int) -> str | None:
        """Serve on host:port (0: not at all); the URL, or None. A port in use only warns: the
        stream matters more than its metrics."""
        if not port:
            return None
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            log.warning(f"no metrics on {host}:{port}: {exc}")
            return None
        url = f"http://{host}:{port}/metrics"
        log.info(f"metrics at {url}")
        return url
