"""The batch layer's Prometheus exporter (docs/operations.md "Monitoring"): what it has
published, what is overdue, the reconciliation's unexplained bytes, tasks that failed for good
(the telemetry database, as the read-only role) and the batch DAGs' last runs (Airflow's
metadata database).

Read when scraped (a custom collector over sql/metrics/*.sql): the figures are the tables', never
a copy that could drift. A database that does not answer makes lambda_batch_source_up 0, not a
failed scrape.

``python -m telemetry.batch_metrics``: serves on LAMBDA_METRICS_HOST:LAMBDA_BATCH_METRICS_PORT;
``--once`` prints one scrape to stdout instead (a check from the command line).
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Iterator

import psycopg
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry import config, logs

SQL_DIR = config.REPO_ROOT / "sql" / "metrics"
DAG_IDS = ["lambda_hourly", "lambda_daily", "lambda_sweep"]

log = logs.get("batch-metrics")


@functools.cache
def _sql(name: str) -> str:
    """A query's text, read once per process, not on every scrape."""
    return (SQL_DIR / name).read_text()


def _gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc)
    if value is not None:  # nothing published yet: no sample, rather than a false 0
        g.add_metric([], float(value))
    return g


class BatchLayerCollector(Collector):
    def __init__(self, settings: config.Settings) -> None:
        self.telemetry = settings.as_role("reader")
        self.metadata = settings.as_role("metadata")
        self.max_wait = settings.hour_max_wait_seconds
        self.retain_windows_days = settings.retain_windows_days

    def _telemetry(self) -> Iterator[Metric]:
        with psycopg.connect(self.telemetry.pg_dsn) as conn:
            kept = {"retain_windows_days": self.retain_windows_days}
            last_hour, last_day, overdue, unexplained_hours = conn.execute(
                _sql("batch_layer.sql"), {"max_wait_seconds": self.max_wait, **kept}
            ).fetchone()
            by_type = conn.execute(_sql("unexplained.sql"), kept).fetchall()
            failures = conn.execute(_sql("task_failures.sql")).fetchall()
        yield _gauge(
            "lambda_batch_last_hour_published_timestamp_seconds",
            "Start of the newest hour the batch layer published (unix time)",
            last_hour,
        )
        yield _gauge(
            "lambda_batch_last_day_published_timestamp_seconds",
            "Start of the newest day the daily run published (unix time)",
            last_day,
        )
        yield _gauge(
            "lambda_batch_overdue_hours",
            "Hours with landed events past their deadline and not published",
            overdue,
        )
        yield _gauge(
            "lambda_batch_unexplained_hours",
            "Hours whose reconciliation has bytes no cause explains",
            unexplained_hours,
        )
        per_type = GaugeMetricFamily(
            "lambda_batch_unexplained_bytes",
            "Bytes the reconciliation cannot attribute to a cause, by type",
            labels=["type"],
        )
        for kind, value in by_type:
            per_type.add_metric([kind], float(value))
        yield per_type
        failed = CounterMetricFamily(
            "lambda_batch_task_failures",
            "Batch tasks that failed after their last retry (batch_task_failures)",
            labels=["dag_id", "task_id"],
        )
        for dag_id, task_id, n in failures:
            failed.add_metric([dag_id, task_id], n)
        yield failed

    def _runs(self) -> Iterator[Metric]:
        with psycopg.connect(self.metadata.pg_dsn) as conn:
            runs = conn.execute(_sql("dag_runs.sql"), {"dag_ids": DAG_IDS}).fetchall()
        seconds = GaugeMetricFamily(
            "lambda_batch_last_run_duration_seconds",
            "Duration of each batch DAG's last finished run",
            labels=["dag_id"],
        )
        success = GaugeMetricFamily(
            "lambda_batch_last_run_success",
            "1 when each batch DAG's last finished run succeeded",
            labels=["dag_id"],
        )
        for dag_id, state, secs in runs:
            seconds.add_metric([dag_id], float(secs))
            success.add_metric([dag_id], 1.0 if state == "success" else 0.0)
        yield seconds
        yield success

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "lambda_batch_source_up",
            "1 when the exporter could read the database",
            labels=["database"],
        )
        for database, read in (("telemetry", self._telemetry), ("airflow", self._runs)):
            try:
                metrics = list(read())
            except (psycopg.Error, config.ConfigError) as exc:
                log.warning(f"{database}: {str(exc).strip()}")
                up.add_metric([database], 0.0)
                continue
            up.add_metric([database], 1.0)
            yield from metrics
        yield up


def main() -> int:
    try:
        settings = config.load()
    except config.ConfigError as exc:
        log.error(exc)
        return 2
    registry = CollectorRegistry()
    registry.register(BatchLayerCollector(settings))
    if sys.argv[1:] == ["--once"]:
        sys.stdout.write(generate_latest(registry).decode())
        return 0
    if not settings.batch_metrics_port:
        log.warning("LAMBDA_BATCH_METRICS_PORT=0: not serving")
        return 0
    host, port = settings.metrics_host, settings.batch_metrics_port
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        log.error(f"cannot serve on {host}:{port}: {exc}")
        return 1
    log.info(f"metrics at http://{host}:{port}/metrics")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
