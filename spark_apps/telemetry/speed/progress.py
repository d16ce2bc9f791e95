"""Micro-batch progress: the listener's log line after each micro-batch (what the benchmark,
the chaos run and `make status` follow) and the backlog it keeps in PostgreSQL."""

from __future__ import annotations

import json

from pyspark.sql.streaming import StreamingQueryListener

from telemetry import config, postgres


def offsets_behind(source_progress) -> int | None:
    """Records between what a micro-batch read and the topic's end (Kafka source progress:
    endOffset and latestOffset, JSON {topic: {partition: offset}}); None when unknown."""
    try:
        end = json.loads(source_progress.endOffset or "{}")
        latest = json.loads(source_progress.latestOffset or "{}")
    except (TypeError, ValueError):
        return None
    if not latest:
        return None
    return sum(
        max(0, int(offset) - int(end.get(topic, {}).get(partition, 0)))
        for topic, partitions in latest.items()
        for partition, offset in partitions.items()
    )


class ProgressToLog(StreamingQueryListener):
    """Prints each micro-batch's input, rate and backlog (what the benchmark and `make status`
    follow) and keeps the backlog in speed_layer_progress.offsets_behind."""

    def __init__(self, settings: config.Settings) -> None:
        super().__init__()
        self.settings = settings

    def onQueryStarted(self, event) -> None:  # noqa: N802 (Spark's listener API)
        print(f"[speed-layer] query {event.name} started (id {event.id})", flush=True)

    def onQueryProgress(self, event) -> None:  # noqa: N802
        p = event.progress
        behind = offsets_behind(p.sources[0]) if p.sources else None
        print(
            f"[speed-layer] {p.name} batch {p.batchId}: {p.numInputRows} rows, "
            f"{p.processedRowsPerSecond or 0:.0f} rows/s, {behind} records behind",
            flush=True,
        )
        if behind is not None:
            try:  # best effort: PostgreSQL away is the writer's business, not the listener's
                postgres.record_backlog(self.settings, p.name, behind)
            except postgres.TRANSIENT_ERRORS as exc:
                print(f"[speed-layer] backlog not recorded: {exc}", flush=True)

    def onQueryIdle(self, event) -> None:  # noqa: N802
        pass

    def onQueryTerminated(self, event) -> None:  # noqa: N802
        print(f"[speed-layer] query {event.id} terminated: {event.exception or 'ok'}", flush=True)
