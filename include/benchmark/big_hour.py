"""Land hours of synthetic events in the raw master dataset, as the speed layer lands them
(raw_store layout and provenance), for the batch-job benchmark: N1 events in the hour starting
at FIRST_HOUR_EPOCH, N2 in the next one, and so on. Submitted with
include/scripts/spark_submit.sh:

    big_hour.py ROOT FIRST_HOUR_EPOCH USERS ANTENNAS N1 [N2 ...]

Events are a deterministic function of their number: 1 in 50 repeats the content of the one
before it (a producer retry), so the batch job's duplicate drop has work to do.
"""

from __future__ import annotations

import sys
import time

from pyspark.sql import functions as F

from telemetry import transforms
from telemetry.schema import PARTITION_COLUMNS, RAW_COLUMNS
from telemetry.session import get_session

APPS = ["SKYPE", "WHATSAPP", "TELEGRAM", "FACEBOOK", "INSTAGRAM", "YOUTUBE", "NETFLIX", "SPOTIFY"]


def uuid_of(prefix: str, n) -> F.Column:
    return F.concat(F.lit(prefix), F.lpad(n.cast("string"), 12, "0"))


def land_hour(spark, root: str, hour: int, n: int, users: int, antennas: int) -> None:
    # Event k takes the content of k - 1 when k % 50 == 1: same fields, its own offset.
    k = F.col("id")
    base = F.when(k % 50 == 1, k - 1).otherwise(k)
    mix = (base * 2654435761) % 1000003
    app = F.element_at(F.array(*[F.lit(a) for a in APPS]), (mix % len(APPS) + 1).cast("int"))
    events = spark.range(n, numPartitions=8).select(
        (F.lit(hour) + base % 3600).alias("timestamp"),
        uuid_of("00000000-0000-0000-0000-", 1 + mix % users).alias("id"),
        F.concat(
            F.lit("00000000-0000-0000-0000-1"), F.lpad((mix % antennas).cast("string"), 11, "0")
        ).alias("antenna_id"),
        (mix * 7 % 2_000_000).alias("bytes"),
        app.alias("app"),
        (k % 4).cast("int").alias("kafka_partition"),
        k.alias("kafka_offset"),
        F.timestamp_seconds(F.lit(hour) + base % 3600 + 2).alias("kafka_timestamp"),
        # Landed without the speed layer (no provenance): the hour's reconciliation then explains
        # every byte as unseen, as the DAG run's check_hour_explained requires (claiming
        # "counted" without the speed layer's rows failed it: 2026-12-07's bench).
        F.lit(None).cast("string").alias("speed_status"),
    )
    (
        events.transform(transforms.with_event_time)
        .select(*RAW_COLUMNS)
        .write.mode("append")
        .partitionBy(*PARTITION_COLUMNS)
        .parquet(root)
    )


def main() -> int:
    root, first, users, antennas = sys.argv[1], *map(int, sys.argv[2:5])
    sizes = [int(n) for n in sys.argv[5:]]
    spark = get_session("telemetry-benchmark-big-hour")
    for i, n in enumerate(sizes):
        started = time.perf_counter()
        land_hour(spark, root, first + 3600 * i, n, users, antennas)
        print(f"[big-hour] {n} events landed in {time.perf_counter() - started:.1f} s", flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
