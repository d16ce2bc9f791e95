"""The SparkSession every app uses, and the tests too: UTC event time, small shuffles, partial
JSON results. The master is never set here: spark-submit decides, so the same app runs locally
and on a cluster; the tests set theirs on top of this builder."""

from __future__ import annotations

from pyspark.sql import SparkSession

from telemetry import config


def builder(app_name: str, settings: config.Settings) -> SparkSession.Builder:
    """The production session's configuration, not yet created."""
    return (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.sql.json.enablePartialResults", "true")
    )


def get_session(app_name: str, settings: config.Settings | None = None) -> SparkSession:
    settings = settings or config.load()
    spark = builder(app_name, settings).getOrCreate()
    spark.sparkContext.setLogLevel(settings.spark_log_level)
    return spark
