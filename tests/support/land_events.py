"""Land events in the Parquet master dataset exactly as the speed layer does (raw_store), and
mark their hours in landed_hours as it does.

Run with the Spark side's Python (the Airflow-side tests have no full pyspark), once per test
session: one SparkSession serves every request, so a landing costs no Spark start.
    python tests/support/land_events.py ROOT
Each request is one stdin line, {"batch_id": N, "events": [...]}; {"stop": true} ends it (a
child the tests forked may hold the pipe open, so end-of-file may never come). Each event:
{"timestamp", "id", "antenna_id", "bytes", "app", "kafka_partition", "kafka_offset",
"kafka_timestamp" (epoch seconds), "speed_status" (optional: counted, late, duplicate; absent or
null: landed without the speed layer)}. The answer is one stdout line starting with REPLY:
"landed N files" or the error; anything else goes to stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import traceback
from collections import Counter

from local_spark import local_session  # this folder: the script runs as a file
from pyspark.sql import functions as F

from telemetry import config, postgres, raw_store, transforms
from telemetry.speed import commit

REPLY = "REPLY "
SCHEMA = (
    "timestamp long, id string, antenna_id string, bytes long, app string,"
    " kafka_partition int, kafka_offset long, kafka_timestamp long, speed_status string"
)


def land(spark, settings: config.Settings, root: str, batch_id: int, rows: list[dict]) -> int:
    frame = (
        spark.createDataFrame(rows, SCHEMA)
        .withColumn("kafka_timestamp", F.timestamp_seconds("kafka_timestamp"))
        .transform(transforms.with_event_time)
    )
    files = raw_store.land_batch(frame, root, batch_id)
    # As the speed layer does once its files landed: the hours are stale for the batch sweep.
    hours = Counter(r["timestamp"] - r["timestamp"] % 3600 for r in rows)
    landed = {
        dt.datetime.fromtimestamp(h, dt.UTC).replace(tzinfo=None): n for h, n in hours.items()
    }
    with postgres.connect(settings) as conn, conn.cursor() as cur:
        commit.record_landed_hours(cur, landed)
    return files


def main() -> int:
    root = sys.argv[1]
    # Answers on the real stdout; everything else written to fd 1 (the JVM's own output) goes to
    # stderr, so an unread pipe never fills up and blocks Spark between requests.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    settings = config.load()
    spark = local_session(settings, "land-events")
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            if request.get("stop"):
                break
            try:
                files = land(spark, settings, root, request["batch_id"], request["events"])
                print(f"{REPLY}landed {files} files", file=answers)
            except Exception as exc:  # the test gets the reason, the next request a fresh try
                traceback.print_exc()
                error = f"{type(exc).__name__}: {exc}".replace("\n", " ")
                print(f"{REPLY}error {error}", file=answers)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
