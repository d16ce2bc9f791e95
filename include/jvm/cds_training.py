"""A short PySpark run that loads the classes the project's apps use, submitted once by
setup.sh with -XX:ArchiveClassesAtExit: the JVM writes them to a class-data-sharing archive
that every later spark-submit maps instead of loading and verifying ~10,000 classes again
(submit_args.driver_java_options). Measured here: a tiny spark-submit 20 s -> 12.5 s.

Usage: spark-submit cds_training.py WORK_DIR
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main(work: str) -> None:
    spark = (
        SparkSession.builder.appName("cds-training")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    rows = [
        (f'{{"timestamp": {1_790_000_000 + i}, "bytes": {i}, "app": "A{i % 3}"}}',)
        for i in range(500)
    ]
    raw = spark.createDataFrame(rows, "value STRING")
    events = raw.select(
        F.from_json("value", "timestamp LONG, bytes LONG, app STRING").alias("e"),
        F.xxhash64("value").alias("key"),
    ).select("e.*", "key")
    events = events.withColumn("event_time", F.timestamp_seconds("timestamp"))
    windows = events.groupBy(F.window("event_time", "5 minutes"), "app").agg(
        F.try_sum("bytes").alias("bytes")
    )
    windows.collect()
    events.withColumn("hour", F.hour("event_time")).write.partitionBy("hour").mode(
        "overwrite"
    ).parquet(f"{work}/raw")
    landed = spark.read.parquet(f"{work}/raw")
    landed.join(windows.select("app").distinct(), "app").groupBy("hour").count().toArrow()

    def each_batch(batch, _batch_id) -> None:
        batch.groupBy("app").agg(F.sum("bytes")).collect()

    query = (
        spark.readStream.schema(landed.schema)
        .parquet(f"{work}/raw")
        .writeStream.foreachBatch(each_batch)
        .option("checkpointLocation", f"{work}/checkpoint")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
