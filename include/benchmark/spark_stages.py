"""Spark-side stages over one Kafka backlog, each a streaming query with an availableNow trigger
into the no-op sink or one of the speed layer's own sinks. Submitted by the benchmark
with include/scripts/spark_submit.sh; prints one ``BENCH_STAGES {json}`` line.

The stages add one step each to the speed layer's own functions: the Kafka source alone (the
baseline), then parse and validation, then the window query (watermark, duplicate drop, three
metrics, 5-minute windows) as the speed layer builds it, then each of the speed layer's two
queries alone with its real sink (PostgreSQL upserts; Parquet landing + quarantine into a scratch
folder), which the speed layer runs concurrently.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame

from speed_layer import (
    BatchWriter,
    land_raw_and_quarantine,
    read_kafka,
    upsert_windows,
    window_totals,
)
from telemetry import config, transforms
from telemetry.schema import ValidationRules
from telemetry.session import get_session


@dataclass(frozen=True)
class Stage:
    build: Callable[[DataFrame], DataFrame]
    sink: BatchWriter | None = None  # None: Spark's no-op sink
    update_mode: bool = False


def stages(settings: config.Settings) -> dict[str, Stage]:
    parse = transforms.parse_events(ValidationRules.from_settings(settings))
    scratch = dataclasses.replace(settings, raw_dir=settings.raw_dir.with_name("stage_raw"))

    def windows(source: DataFrame) -> DataFrame:
        return window_totals(source.transform(parse), settings)

    return {
        "kafka_source": Stage(lambda source: source),
        "parse_validate": Stage(
            lambda source: source.transform(parse).transform(transforms.valid_events)
        ),
        "window_query": Stage(windows, update_mode=True),
        "window_query_pg": Stage(windows, upsert_windows(settings), update_mode=True),
        "raw_query": Stage(
            lambda source: source.transform(parse), land_raw_and_quarantine(scratch)
        ),
    }


def run_stage(spark, settings: config.Settings, name: str, stage: Stage) -> dict[str, float]:
    frame = stage.build(read_kafka(spark, settings))
    writer = frame.writeStream.queryName(name).trigger(availableNow=True)
    writer = writer.foreachBatch(stage.sink) if stage.sink else writer.format("noop")
    if stage.update_mode:
        writer = writer.outputMode("update")
    started = time.perf_counter()
    query = writer.start()
    query.awaitTermination()
    seconds = time.perf_counter() - started
    rows = sum(p["numInputRows"] for p in query.recentProgress)
    return {"rows": rows, "seconds": seconds}


def main() -> int:
    # The benchmark sets LAMBDA_KAFKA_TOPIC to its backlog's topic; the sinks are the speed layer's.
    settings = config.load(role="speed")
    spark = get_session("telemetry-benchmark-stages")
    results = {}
    try:
        # Warm-up: class loading and JIT would otherwise be charged to the first stage.
        run_stage(spark, settings, "warm_up", Stage(lambda source: source))
        for name, build in stages(settings).items():
            results[name] = run_stage(spark, settings, name, build)
            r = results[name]
            print(f"[bench] {name}: {r['rows']} rows in {r['seconds']:.1f} s", file=sys.stderr)
    finally:
        spark.stop()
    print("BENCH_STAGES " + json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
