"""Speed layer: Kafka `devices` -> 5-minute window totals in PostgreSQL `bytes`, raw events to
Parquet, rejected records to `quarantine`. Runs until SIGTERM/SIGINT.

One streaming query, one pass: each micro-batch reads and parses its Kafka records once and
serves the windows, the Parquet landing and the quarantine from that (OnePassWriter).

Usage: spark-submit ... spark_apps/speed_layer.py   (settings from the environment: config.py)
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import threading
import time
from collections import Counter

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQueryListener

from telemetry import (
    config,
    kafka_client,
    kafka_offsets,
    postgres,
    preflight,
    raw_store,
    speed_state,
    transforms,
)
from telemetry.schema import WINDOW_TOTAL_COLUMNS, ValidationRules
from telemetry.session import get_session


def read_kafka(spark: SparkSession, settings: config.Settings) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", settings.starting_offsets)
        .options(**kafka_client.spark_options(settings))
    )
    if settings.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", settings.max_offsets_per_trigger)
    return reader.load()


def parsed_records(spark: SparkSession, settings: config.Settings) -> DataFrame:
    """The Kafka stream, parsed and keyed: what OnePassWriter receives. Built once with the
    query, not in each micro-batch: building the validation's expression tree took 0.5-0.8 s
    of every batch when it was redone there."""
    return (
        read_kafka(spark, settings)
        .transform(transforms.parse_events(ValidationRules.from_settings(settings)))
        # Payloads only for the quarantine: a valid event's bytes are not kept in memory.
        .withColumn("payload", F.when(F.col("reason").isNotNull(), F.col("payload")))
        .transform(transforms.with_content_key)
    )


def _at_or_below(applied: dict[int, int]) -> Column:
    """Records whose effect PostgreSQL already holds (a batch replayed after its commit)."""
    condition = F.lit(False)
    for partition, offset in applied.items():
        condition = condition | (
            (F.col("kafka_partition") == partition) & (F.col("kafka_offset") <= offset)
        )
    return condition


def _utc(epoch_seconds: int | None) -> dt.datetime | None:
    if epoch_seconds is None:
        return None
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).replace(tzinfo=None)


class OnePassWriter:
    """The speed layer's ``foreachBatch`` over ``parsed_records``: each Kafka record read and
    parsed once, then

    1. the valid events judged (speed_state: counted, late or duplicate) on the driver from
       their content keys, collected as Arrow;
    2. landed in Parquet with that verdict (raw_store; a replay replaces its own files);
    3. the counted ones summed per 5-minute window, type and key, and added to ``bytes`` in
       one PostgreSQL transaction with the quarantine, the applied offsets and the watermark.

    The transaction is the commit point: a crash before it replays the batch with the same
    verdicts (the state is rebuilt from PostgreSQL and the landed Parquet), a crash after it
    skips the records already applied. No Spark state store: the state is small (the watermark
    and the keys of the last minute's counted events).
    """

    def __init__(self, spark: SparkSession, settings: config.Settings) -> None:
        self.settings = settings
        self.writer = postgres.SpeedWriter(settings)
        self.state = self._rebuild(spark)

    def _rebuild(self, spark: SparkSession) -> speed_state.SpeedState:
        settings = self.settings
        offsets, max_event_time = postgres.with_retry(
            settings, "load speed state", lambda: self.writer.load(settings.kafka_topic)
        )
        state = speed_state.SpeedState(settings.watermark_seconds, applied=offsets)
        if max_event_time is None:
            return state
        state.max_event_time = int(max_event_time.replace(tzinfo=dt.UTC).timestamp())
        watermark = state.watermark
        start = _utc(watermark - watermark % 3600)
        end = _utc(state.max_event_time + 3600)
        counted = (
            raw_store.read_hours(spark, settings.raw_dir, start, end)
            .where(
                (F.col("speed_status") == speed_state.COUNTED)
                & (F.col("timestamp") >= watermark)
                & _at_or_below(offsets)
            )
            .transform(transforms.with_content_key)
            .select("timestamp", "key_h1", "key_h2")
            .toArrow()
        )
        timestamps = counted.column("timestamp").to_pylist()
        keys = map(
            speed_state.content_key,
            counted.column("key_h1").to_pylist(),
            counted.column("key_h2").to_pylist(),
        )
        state.remember(timestamps, keys)
        print(
            f"[speed-layer] state: watermark {_utc(watermark)}, offsets {offsets}, "
            f"{state.keys_kept()} counted keys kept",
            flush=True,
        )
        return state

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        parsed = batch.where(~_at_or_below(self.state.applied)).persist()
        try:
            self._write(parsed, batch_id, started)
        finally:
            parsed.unpersist()

    def _write(self, parsed: DataFrame, batch_id: int, started: float) -> None:
        state, settings = self.state, self.settings
        valid = F.col("reason").isNull()
        records = parsed.select(
            "kafka_partition",
            "kafka_offset",
            F.unix_seconds("kafka_timestamp").alias("broker_time"),
            F.when(valid, F.col("timestamp")).alias("timestamp"),
            F.when(valid, F.col("key_h1")).alias("key_h1"),
            F.when(valid, F.col("key_h2")).alias("key_h2"),
        ).toArrow()
        if records.num_rows == 0:
            return
        steps = {"read": time.perf_counter() - started}
        columns = {name: records.column(name).to_pylist() for name in records.column_names}
        ranges: dict[int, tuple[int, int]] = {}
        last_time: dict[int, int] = {}  # broker time of each partition's last record
        for p, o, t in zip(
            columns["kafka_partition"], columns["kafka_offset"], columns["broker_time"], strict=True
        ):
            lo, hi = ranges.get(p, (o, o))
            if o >= hi:
                last_time[p] = t
            ranges[p] = (min(lo, o), max(hi, o))
        batch_offsets = {p: hi for p, (_, hi) in ranges.items()}
        is_valid = [ts is not None for ts in columns["timestamp"]]
        pick = [i for i, v in enumerate(is_valid) if v]
        valid_times = [columns["timestamp"][i] for i in pick]
        verdict = state.decide(
            [columns["kafka_partition"][i] for i in pick],
            [columns["kafka_offset"][i] for i in pick],
            valid_times,
            [speed_state.content_key(columns["key_h1"][i], columns["key_h2"][i]) for i in pick],
            broker_times=[columns["broker_time"][i] for i in pick],
        )
        landed_hours = Counter(ts - ts % 3600 for ts in valid_times)
        steps["judge"] = time.perf_counter() - started - sum(steps.values())
        duplicates = None
        if verdict.duplicates:
            duplicates = parsed.sparkSession.createDataFrame(
                verdict.duplicates, "kafka_partition INT, kafka_offset LONG"
            )
        events = (
            parsed.transform(transforms.valid_events)
            .transform(transforms.with_provenance(verdict.watermark, duplicates))
            .transform(transforms.with_event_time)
        )
        raw_store.land_batch(events, settings.raw_dir, batch_id, ranges)
        steps["land"] = time.perf_counter() - started - sum(steps.values())
        deltas = (
            events.where(F.col("speed_status") == speed_state.COUNTED)
            .transform(transforms.metric_rows)
            .transform(transforms.window_totals(settings.window))
            .select(transforms.utc_wallclock("timestamp"), *WINDOW_TOTAL_COLUMNS[1:])
            .collect()
        )
        steps["sum"] = time.perf_counter() - started - sum(steps.values())
        rejected = parsed.transform(transforms.rejected_events).withColumn(
            "kafka_timestamp", transforms.utc_wallclock("kafka_timestamp")
        )
        rejected_count = len(is_valid) - len(pick)
        seconds = time.perf_counter() - started
        work = postgres.SpeedBatch(
            topic=settings.kafka_topic,
            batch_id=batch_id,
            window_deltas=deltas,
            offsets_before=dict(state.applied),
            offsets_after=batch_offsets,
            last_record_times={p: _utc(t) for p, t in last_time.items()},
            landed_hours={_utc(h): n for h, n in landed_hours.items()},
            watermark=_utc(verdict.watermark_after),
            max_event_time=_utc(verdict.max_event_time),
            input_rows=len(is_valid),
            rows_per_second=len(is_valid) / seconds if seconds > 0 else 0.0,
        )
        postgres.with_retry(
            settings,
            f"speed layer batch {batch_id}",
            lambda: self.writer.apply(
                work, (lambda: rejected.toLocalIterator()) if rejected_count else tuple
            ),
        )
        state.commit(verdict, batch_offsets)
        steps["postgres"] = time.perf_counter() - started - sum(steps.values())
        print(
            f"[speed-layer] batch {batch_id} applied: {len(is_valid)} records, counted "
            f"{verdict.counted}, late {verdict.late}, duplicate {len(verdict.duplicates)}, "
            f"rejected {rejected_count}, {len(deltas)} window rows, watermark "
            f"{work.watermark}, {time.perf_counter() - started:.2f} s ("
            + ", ".join(f"{k} {v:.2f}" for k, v in steps.items())
            + ")",
            flush=True,
        )


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


def start(spark: SparkSession, settings: config.Settings) -> list:
    query = (
        parsed_records(spark, settings)
        .writeStream.queryName(postgres.SPEED_QUERY)
        .foreachBatch(OnePassWriter(spark, settings))
        .option(
            "checkpointLocation", config.uri_join(settings.checkpoint_dir, postgres.SPEED_QUERY)
        )
        .trigger(processingTime=settings.trigger)
        .start()
    )
    return [query]


# Exit code the supervisor never retries (supervise.sh): a restart would meet the same state.
NEEDS_A_PERSON = 3


def main() -> int:
    try:
        settings = config.load(role="speed")  # whoever starts it: the speed role's rights only
        preflight.check_postgres(
            settings, ("bytes", "quarantine", "speed_layer_progress", "speed_layer_offsets")
        )
        preflight.check_kafka(settings)
        writer = postgres.SpeedWriter(settings)
        kafka_offsets.check_applied_offsets(settings, writer.applied_records(settings.kafka_topic))
        writer.close()
    except kafka_offsets.OffsetsWentBackwardsError as exc:
        print(f"speed-layer: error: {exc}", file=sys.stderr, flush=True)
        return NEEDS_A_PERSON
    except (config.ConfigError, preflight.PreflightError) as exc:
        print(f"speed-layer: error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(f"[speed-layer] settings: {config.public_dict(settings)}", flush=True)
    spark = get_session("telemetry-speed-layer")
    spark.streams.addListener(ProgressToLog(settings))
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
