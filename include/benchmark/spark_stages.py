"""Spark-side stages over one Kafka backlog, each streaming queries with an availableNow trigger,
in one Spark application so that every ratio compares runs of the same process. Submitted by
the benchmark with include/scripts/spark_submit.sh; prints one ``BENCH_STAGES {json}`` line.

- ``kafka_source``: the Kafka source alone into Spark's no-op sink (the baseline);
- ``parse_validate``: + parse and validation, no-op sink;
- ``seed_design``: the design the project started from, as the baseline of the speed layer:
  one streaming query per metric, each reading and parsing Kafka, watermark and 5-minute window
  sum, appending each micro-batch to PostgreSQL, and the raw Parquet as a fourth query; the four
  run at once, as they did;
- ``one_pass``: the speed layer's own ``foreachBatch`` (MicroBatchWriter): one read and
  parse per micro-batch for the windows (added in PostgreSQL), the Parquet landing and the
  quarantine, into the benchmark's scratch folder and topic.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from telemetry import config, transforms
from telemetry.schema import METRIC_KEYS, PARTITION_COLUMNS, RAW_COLUMNS, ValidationRules
from telemetry.session import get_session
from telemetry.speed.app import parsed_records, read_kafka
from telemetry.speed.micro_batch import MicroBatchWriter

SEED_TABLE = "bench_seed_bytes"  # created by the benchmark (owner) for the seed's appends


def _run(queries: list) -> tuple[int, float]:
    """Wait for availableNow queries started together; rows read by the first, seconds."""
    started = time.perf_counter()
    for query in queries:
        query.awaitTermination()
    seconds = time.perf_counter() - started
    return sum(p["numInputRows"] for p in queries[0].recentProgress), seconds


def _no_op(spark: SparkSession, settings, name: str, build: Callable[[DataFrame], DataFrame]):
    frame = build(read_kafka(spark, settings))
    return frame.writeStream.queryName(name).trigger(availableNow=True).format("noop").start()


def _append_to_postgres(settings: config.Settings):
    def write(batch: DataFrame, _batch_id: int) -> None:
        rows = batch.collect()
        if rows:
            with psycopg.connect(settings.pg_dsn) as conn:
                with conn.cursor().copy(
                    f"COPY {SEED_TABLE} (timestamp, id, value, type) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)

    return write


def seed_design(spark: SparkSession, settings: config.Settings, scratch) -> list:
    parse = transforms.parse_events(ValidationRules.from_settings(settings))
    checkpoints = scratch / "seed_checkpoints"
    queries = []
    for metric, column in METRIC_KEYS.items():
        windows = (
            read_kafka(spark, settings)
            .transform(parse)
            .transform(transforms.valid_events)
            .transform(transforms.with_event_time)
            .withWatermark("event_time", settings.watermark)
            .groupBy(F.window("event_time", settings.window).alias("w"), F.col(column).alias("id"))
            .agg(F.sum("bytes").alias("value"))
            .select(
                F.col("w.start").cast("timestamp_ntz").alias("timestamp"),
                "id",
                "value",
                F.lit(metric).alias("type"),
            )
        )
        queries.append(
            windows.writeStream.queryName(f"seed_{metric}")
            .outputMode("append")
            .foreachBatch(_append_to_postgres(settings))
            .option("checkpointLocation", str(checkpoints / metric))
            .trigger(availableNow=True)
            .start()
        )
    raw = (
        read_kafka(spark, settings)
        .transform(parse)
        .transform(transforms.valid_events)
        .transform(transforms.with_event_time)
        .withColumn("speed_status", F.lit(None).cast("string"))
        .select(*RAW_COLUMNS)
    )
    queries.append(
        raw.writeStream.queryName("seed_raw")
        .format("parquet")
        .partitionBy(*PARTITION_COLUMNS)
        .option("path", str(scratch / "seed_raw"))
        .option("checkpointLocation", str(checkpoints / "raw"))
        .trigger(availableNow=True)
        .start()
    )
    # The raw query reads every record; the window queries too, each on its own.
    return [queries[-1], *queries[:-1]]


def one_pass(spark: SparkSession, settings: config.Settings, scratch) -> list:
    local = dataclasses.replace(settings, raw_dir=str(scratch / "one_pass_raw"))
    return [
        parsed_records(spark, settings)
        .writeStream.queryName("one_pass")
        .foreachBatch(MicroBatchWriter(spark, local))
        .option("checkpointLocation", str(scratch / "one_pass_checkpoint"))
        .trigger(availableNow=True)
        .start()
    ]


def main() -> int:
    # The benchmark sets LAMBDA_KAFKA_TOPIC to its backlog's topic and LAMBDA_RAW_DIR to its
    # scratch folder; the sinks are the speed layer's, with its role.
    settings = config.load(role="speed")
    scratch = Path(settings.raw_dir).parent / "stages"
    spark = get_session("telemetry-benchmark-stages", settings)
    parse = transforms.parse_events(ValidationRules.from_settings(settings))
    stages: dict[str, Callable[[], list]] = {
        "kafka_source": lambda: [_no_op(spark, settings, "kafka_source", lambda s: s)],
        "parse_validate": lambda: [
            _no_op(
                spark,
                settings,
                "parse_validate",
                lambda s: s.transform(parse).transform(transforms.valid_events),
            )
        ],
        "seed_design": lambda: seed_design(spark, settings, scratch),
        "one_pass": lambda: one_pass(spark, settings, scratch),
    }
    results = {}
    try:
        # Warm-up: class loading and JIT would otherwise be charged to the first stage.
        _run([_no_op(spark, settings, "warm_up", lambda s: s)])
        for name, start in stages.items():
            rows, seconds = _run(start())
            results[name] = {"rows": rows, "seconds": seconds}
            print(f"[bench] {name}: {rows} rows in {seconds:.1f} s", file=sys.stderr)
    finally:
        spark.stop()
    print("BENCH_STAGES " + json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
