"""Starting the speed layer: Kafka `devices` -> 5-minute window totals in PostgreSQL `bytes`, raw
events to Parquet, rejected records to `quarantine`; runs until SIGTERM/SIGINT.

One streaming query, one pass: each micro-batch reads and parses its Kafka records once and
serves the windows, the Parquet landing and the quarantine from that (micro_batch).
"""

from __future__ import annotations

import signal
import threading

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from telemetry import (
    config,
    kafka_client,
    kafka_offsets,
    logs,
    names,
    preflight,
    transforms,
)
from telemetry.schema import ValidationRules
from telemetry.session import get_session
from telemetry.speed import commit, raw_dataset_space
from telemetry.speed.metrics import SpeedMetrics
from telemetry.speed.micro_batch import MicroBatchWriter
from telemetry.speed.progress import ProgressToLog

log = logs.get("speed-layer")


def read_kafka(spark: SparkSession, settings: config.Settings) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", settings.starting_offsets)
        # A consumer's prefetch at the end of the topic waits this long on the broker, and the
        # next micro-batch's fetch waits for it: Kafka's 500 ms default cost every batch 0.5 s.
        .option("kafka.fetch.max.wait.ms", "50")
        .options(**kafka_client.spark_options(settings))
    )
    if settings.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", settings.max_offsets_per_trigger)
    return reader.load()


def parsed_records(spark: SparkSession, settings: config.Settings) -> DataFrame:
    """The Kafka stream, parsed and keyed: what MicroBatchWriter receives. Built once with the
    query, not in each micro-batch: building the validation's expression tree took 0.5-0.8 s
    of every batch when it was redone there."""
    return (
        read_kafka(spark, settings)
        .transform(transforms.parse_events(ValidationRules.from_settings(settings)))
        # Payloads only for the quarantine: a valid event's bytes are not kept in memory.
        .withColumn("payload", F.when(F.col("reason").isNotNull(), F.col("payload")))
        .transform(transforms.with_content_key)
    )


def start(
    spark: SparkSession, settings: config.Settings, metrics: SpeedMetrics | None = None
) -> StreamingQuery:
    return (
        parsed_records(spark, settings)
        .writeStream.queryName(names.SPEED_QUERY)
        .foreachBatch(MicroBatchWriter(spark, settings, metrics))
        .option("checkpointLocation", config.uri_join(settings.checkpoint_dir, names.SPEED_QUERY))
        .trigger(processingTime=settings.trigger)
        .start()
    )


# Exit code the supervisor never retries (supervise.sh): a restart would meet the same state.
NEEDS_A_PERSON = 3


def main() -> int:
    try:
        settings = config.load(role="speed")  # whoever starts it: the speed role's rights only
        preflight.check_postgres(
            settings, ("bytes", "quarantine", "speed_layer_progress", "speed_layer_offsets")
        )
        preflight.check_kafka(settings)
        writer = commit.SpeedWriter(settings)
        kafka_offsets.check_applied_offsets(settings, writer.applied_records(settings.kafka_topic))
        writer.close()
    except kafka_offsets.OffsetsWentBackwardsError as exc:
        log.error(exc)
        return NEEDS_A_PERSON
    except (config.ConfigError, preflight.PreflightError) as exc:
        log.error(exc)
        return 2
    log.info(f"settings: {config.public_dict(settings)}")
    metrics = SpeedMetrics()
    metrics.serve(settings.metrics_host, settings.speed_metrics_port)
    spark = get_session("telemetry-speed-layer", settings)
    spark.streams.addListener(ProgressToLog(settings, metrics))
    storage_watch = raw_dataset_space.watch(spark, settings.raw_dir, metrics)
    query = start(spark, settings, metrics)

    stopping = threading.Event()

    def request_stop(signum, _frame) -> None:
        log.info(f"signal {signum}: stopping after the current batch")
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    failed = None
    try:
        while not stopping.is_set() and not query.awaitTermination(2):
            pass
        failed = query.exception()
    except Exception as exc:  # the query failed
        failed = exc
    query.stop()
    storage_watch.set()
    spark.stop()
    if failed:
        log.error(f"the streaming query failed: {failed}")
        return 1
    log.info("stopped cleanly")
    return 0
