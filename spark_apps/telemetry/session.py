"""The SparkSession every app uses: UTC event time, small shuffles. The master is never set
here: spark-submit decides, so the same app runs locally and on a cluster."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession


def get_session(app_name: str) -> SparkSession:
    spark = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("LAMBDA_SHUFFLE_PARTITIONS", "4"))
        .config("spark.sql.json.enablePartialResults", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel(os.environ.get("LAMBDA_SPARK_LOG_LEVEL", "WARN"))
    return spark
