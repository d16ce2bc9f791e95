"""Speed layer: Kafka `devices` -> 5-minute window totals in PostgreSQL `bytes`, raw events to
Parquet, rejected records to `quarantine`. Runs until SIGTERM/SIGINT.

Two streaming queries over one parse definition:
- ``window_totals``: valid events, watermark, duplicate drop, the three metrics at once (one
  exploded aggregation, not one Kafka read per metric), update mode, upserted by key.
- ``raw_and_quarantine``: each micro-batch lands valid events in the Parquet master dataset and
  rejected ones in `quarantine`, both idempotent for a replayed batch id.

Usage: spark-submit ... spark_apps/speed_layer.py   (settings from the environment: config.py)
"""

from __future__ import annotations

import itertools
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQueryListener

from telemetry import config, postgres, preflight, raw_store, transforms
from telemetry.schema import EVENT_FIELDS, WINDOW_TOTAL_COLUMNS, ValidationRules
from telemetry.session import get_session

BatchWriter = Callable[[DataFrame, int], None]


def read_kafka(spark: SparkSession, settings: config.Settings) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", settings.starting_offsets)
    )
    if settings.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", settings.max_offsets_per_trigger)
    return reader.load()


def upsert_windows(settings: config.Settings) -> BatchWriter:
    def write(batch: DataFrame, batch_id: int) -> None:
        rows = batch.select(
            transforms.utc_wallclock("timestamp"), *WINDOW_TOTAL_COLUMNS[1:]
        ).collect()
        if rows:
            postgres.with_retry(
                settings,
                f"window_totals batch {batch_id}",
                lambda: postgres.upsert_window_totals(settings, rows),
            )

    return write


def land_raw_and_quarantine(settings: config.Settings) -> BatchWriter:
    def write(batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            valid = batch.transform(transforms.valid_events).transform(transforms.with_event_time)
            raw_store.land_batch(valid, str(settings.raw_dir), batch_id)
            rejected = batch.transform(transforms.rejected_events).withColumn(
                "kafka_timestamp", transforms.utc_wallclock("kafka_timestamp")
            )
            quarantine(settings, rejected, batch_id)
        finally:
            batch.unpersist()

    return write


def quarantine(settings: config.Settings, rejected: DataFrame, batch_id: int) -> None:
    """Stream the rejected rows to PostgreSQL partition by partition (a batch full of bad
    records is never collected whole on the driver); a retry streams them again."""
    rows = rejected.toLocalIterator()
    first = next(rows, None)
    if first is None:
        return
    pending: Iterator | None = itertools.chain([first], rows)

    def attempt() -> int:
        nonlocal pending
        source, pending = pending or rejected.toLocalIterator(), None
        return postgres.insert_quarantine(settings, source)

    postgres.with_retry(settings, f"quarantine batch {batch_id}", attempt)


def window_totals(parsed: DataFrame, settings: config.Settings) -> DataFrame:
    return (
        parsed.transform(transforms.valid_events)
        .select(*EVENT_FIELDS)
        .transform(transforms.with_event_time)
        .withWatermark("event_time", settings.watermark)
        .dropDuplicatesWithinWatermark(list(EVENT_FIELDS))
        .transform(transforms.metric_rows)
        .transform(transforms.window_totals(settings.window))
    )


class ProgressToPostgres(StreamingQueryListener):
    """Publishes each query's progress (watermark, rates) to `speed_layer_progress` and stdout."""

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings

    def onQueryStarted(self, event) -> None:  # noqa: N802 (Spark's listener API)
        print(f"[speed-layer] query {event.name} started (id {event.id})", flush=True)

    def onQueryProgress(self, event) -> None:  # noqa: N802
        p = event.progress
        watermark = (p.eventTime or {}).get("watermark")
        if watermark:
            watermark = watermark.replace("T", " ").rstrip("Z")
        print(
            f"[speed-layer] {p.name} batch {p.batchId}: {p.numInputRows} rows, "
            f"{p.processedRowsPerSecond or 0:.0f} rows/s, watermark {watermark}",
            flush=True,
        )
        try:
            postgres.record_progress(
                self.settings,
                p.name,
                p.batchId,
                watermark,
                p.numInputRows,
                p.inputRowsPerSecond or 0.0,
                p.processedRowsPerSecond or 0.0,
            )
        except Exception as exc:  # progress is advisory: never stop the stream for it
            print(f"[speed-layer] could not record progress: {exc}", file=sys.stderr, flush=True)

    def onQueryIdle(self, event) -> None:  # noqa: N802
        pass

    def onQueryTerminated(self, event) -> None:  # noqa: N802
        print(f"[speed-layer] query {event.id} terminated: {event.exception or 'ok'}", flush=True)


def start(spark: SparkSession, settings: config.Settings) -> list:
    parsed = read_kafka(spark, settings).transform(
        transforms.parse_events(ValidationRules.from_settings(settings))
    )
    checkpoints = settings.checkpoint_dir
    windows = (
        window_totals(parsed, settings)
        .writeStream.queryName("window_totals")
        .outputMode("update")
        .foreachBatch(upsert_windows(settings))
        .option("checkpointLocation", str(checkpoints / "window_totals"))
        .trigger(processingTime=settings.trigger)
        .start()
    )
    raw = (
        parsed.writeStream.queryName("raw_and_quarantine")
        .foreachBatch(land_raw_and_quarantine(settings))
        .option("checkpointLocation", str(checkpoints / "raw_and_quarantine"))
        .trigger(processingTime=settings.trigger)
        .start()
    )
    return [windows, raw]


def main() -> int:
    try:
        settings = config.load(role="speed")  # whoever starts it: the speed role's rights only
        preflight.check_postgres(settings, ("bytes", "quarantine", "speed_layer_progress"))
        preflight.check_kafka(settings)
    except (config.ConfigError, preflight.PreflightError) as exc:
        print(f"speed-layer: error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(f"[speed-layer] settings: {config.public_dict(settings)}", flush=True)
    spark = get_session("telemetry-speed-layer")
    spark.streams.addListener(ProgressToPostgres(settings))
    queries = start(spark, settings)

    stopping = threading.Event()

    def request_stop(signum, _frame) -> None:
        print(f"[speed-layer] signal {signum}: stopping after the current batches", flush=True)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    failed = None
    try:
        while not stopping.is_set():
            if spark.streams.awaitAnyTermination(2):
                failed = next((q.exception() for q in queries if q.exception()), None)
                break
    except Exception as exc:  # a query failed: stop the other one too
        failed = exc
    for query in queries:
        query.stop()
    spark.stop()
    if failed:
        print(
            f"speed-layer: error: a streaming query failed: {failed}", file=sys.stderr, flush=True
        )
        return 1
    print("[speed-layer] stopped cleanly", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
