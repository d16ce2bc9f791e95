"""Land events in the Parquet master dataset exactly as the speed layer does (raw_store), and
mark their hours in landed_hours as it does.

Run with the Spark side's Python (the Airflow-side tests have no full pyspark):
    python tests/support/land_events.py ROOT BATCH_ID < events.jsonl
Each input line: {"timestamp", "id", "antenna_id", "bytes", "app", "kafka_partition",
"kafka_offset", "kafka_timestamp" (epoch seconds), "speed_status" (optional: counted, late,
duplicate; absent or null: landed without the speed layer)}.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter

from local_spark import local_session  # this folder: the script runs as a file
from pyspark.sql import functions as F

from telemetry import config, postgres, raw_store, transforms
from telemetry.speed import commit

SCHEMA = (
    "timestamp long, id string, antenna_id string, bytes long, app string,"
    " kafka_partition int, kafka_offset long, kafka_timestamp long, speed_status string"
)


def main() -> int:
    root, batch_id = sys.argv[1], int(sys.argv[2])
    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    spark = local_session(config.load(), "land-events")
    frame = (
        spark.createDataFrame(rows, SCHEMA)
        .withColumn("kafka_timestamp", F.timestamp_seconds("kafka_timestamp"))
        .transform(transforms.with_event_time)
    )
    print(raw_store.land_batch(frame, root, batch_id), "files")
    spark.stop()
    # As the speed layer does once its files landed: the hours are stale for the batch sweep.
    hours = Counter(r["timestamp"] - r["timestamp"] % 3600 for r in rows)
    landed = {
        dt.datetime.fromtimestamp(h, dt.UTC).replace(tzinfo=None): n for h, n in hours.items()
    }
    with postgres.connect(config.load()) as conn, conn.cursor() as cur:
        commit.record_landed_hours(cur, landed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
