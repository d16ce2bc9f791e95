"""Records behind the topic's end once a micro-batch is applied: Kafka's end offsets, asked when
the batch's progress arrives, minus the offsets the batch read through.

Spark's own figure (the source progress' latestOffset) is taken when the batch is planned: it
shows only what the per-batch cap left over, so it read 0 through a 40 s backlog in the first
soak, and so did the alert on it. The records that arrived while the batch ran are the next
batch's work; they are what an operator means by lag.
"""

from __future__ import annotations

import json

from telemetry import kafka_client, logs
from telemetry.config import Settings

TIMEOUT_MS = 5_000  # the listener's thread waits at most this long on an unreachable Kafka

log = logs.get("speed-layer")


def read_through(source_progress) -> dict[str, dict[str, int]] | None:
    """{topic: {partition: offset}} a micro-batch read up to (endOffset); None when unknown."""
    try:
        ends = json.loads(source_progress.endOffset or "{}")
    except (TypeError, ValueError):
        return None
    return ends or None


def planned_lag(source_progress) -> dict[str, int] | None:
    """Spark's figure: what the batch left of what was there when it was planned (the cap's
    excess); the fallback while Kafka does not answer."""
    try:
        latest = json.loads(source_progress.latestOffset or "{}")
    except (TypeError, ValueError):
        return None
    ends = read_through(source_progress) or {}
    if not latest:
        return None
    return {
        str(partition): max(0, int(offset) - int(ends.get(topic, {}).get(partition, 0)))
        for topic, partitions in latest.items()
        for partition, offset in partitions.items()
    }


class TopicEnds:
    """One kafka-python consumer (no group, no subscription) kept for the app's life, asked
    only for end offsets: one small request per micro-batch, O(partitions)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer = None

    def lag(self, source_progress) -> dict[str, int] | None:
        """{partition: records behind} now, or Spark's planned figure if Kafka does not answer."""
        ends = read_through(source_progress)
        if ends is None:
            return None
        try:
            now = self._end_offsets(ends)
        except Exception as exc:  # noqa: BLE001 (a metric: never the stream's end)
            log.info(f"Kafka end offsets not read ({exc}); lag as planned")
            self.close()
            return planned_lag(source_progress)
        return {
            str(tp.partition): max(0, end - int(ends[tp.topic][str(tp.partition)]))
            for tp, end in now.items()
        }

    def _end_offsets(self, ends: dict[str, dict[str, int]]) -> dict:
        from kafka import KafkaConsumer, TopicPartition

        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap.split(","),
                client_id="telemetry-speed-lag",
                enable_auto_commit=False,
                **kafka_client.python_options(self.settings),
            )
        wanted = [TopicPartition(t, int(p)) for t, parts in ends.items() for p in parts]
        return self._consumer.end_offsets(wanted, timeout_ms=TIMEOUT_MS)

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception as exc:  # noqa: BLE001
                log.warning(f"lag consumer not closed cleanly: {exc}")
            self._consumer = None
