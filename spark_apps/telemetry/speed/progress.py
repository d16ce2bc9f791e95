"""Micro-batch progress: the listener's log line after each micro-batch (what the benchmark,
the chaos run and `make status` follow) and the backlog it keeps in PostgreSQL."""

from __future__ import annotations

from pyspark.sql.streaming import StreamingQueryListener

from telemetry import config, logs, postgres
from telemetry.speed import commit
from telemetry.speed.kafka_lag import TopicEnds
from telemetry.speed.metrics import SpeedMetrics

log = logs.get("speed-layer")


class ProgressToLog(StreamingQueryListener):
    """Prints each micro-batch's input, rate and backlog (what the benchmark and `make status`
    follow) and keeps the backlog in speed_layer_progress.offsets_behind and the metrics."""

    def __init__(self, settings: config.Settings, metrics: SpeedMetrics | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.metrics = metrics
        self.topic_ends = TopicEnds(settings)

    def onQueryStarted(self, event) -> None:  # noqa: N802 (Spark's listener API)
        log.info(f"query {event.name} started (id {event.id})")

    def onQueryProgress(self, event) -> None:  # noqa: N802
        p = event.progress
        lag = self.topic_ends.lag(p.sources[0]) if p.sources else None
        behind = None if lag is None else sum(lag.values())
        if lag is not None and self.metrics is not None:
            self.metrics.lag(lag)
        log.info(
            f"{p.name} batch {p.batchId}: {p.numInputRows} rows, "
            f"{p.processedRowsPerSecond or 0:.0f} rows/s, {behind} records behind"
        )
        if behind is not None:
            try:  # best effort: PostgreSQL away is the writer's business, not the listener's
                commit.record_backlog(self.settings, p.name, behind)
            except postgres.TRANSIENT_ERRORS as exc:
                log.info(f"backlog not recorded: {exc}")

    def onQueryIdle(self, event) -> None:  # noqa: N802
        pass

    def onQueryTerminated(self, event) -> None:  # noqa: N802
        log.info(f"query {event.id} terminated: {event.exception or 'ok'}")
        self.topic_ends.close()
