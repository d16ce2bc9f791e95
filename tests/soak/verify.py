"""The soak's checks against its ledger, done by Spark (tens of millions of records: nothing per
record or per device reaches the harness's Python): every acknowledged record landed or
quarantined exactly once, with its content and the verdict or reason it had to get; ``bytes``,
``bytes_by_hour``, ``bytes_hourly``, ``user_quota_limit`` and ``serving_bytes_hourly`` equal to
the ground truth computed from the ledger (the chaos run's checks, tests/chaos/checks.py, at
field scale). PostgreSQL's tables are read over JDBC; timestamps travel as epoch seconds."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from telemetry import config, raw_store
from telemetry.schema import EVENT_FIELDS, EVENT_SCHEMA

KEYS = ("ts", "type", "key")
BY_TYPE = (
    ("antenna_bytes_total", "antenna_id"),
    ("user_bytes_total", "id"),
    ("app_bytes_total", "app"),
)


def epoch(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp())


def pg_query(
    spark: SparkSession, settings: config.Settings, sql: str, split: tuple[int, int] | None = None
) -> DataFrame:
    """A query's rows over JDBC. ``split`` (two epochs): read in parallel ranges of its ``t``
    column, a table's own timestamp, so that each range is an index scan (one connection for
    ~14 million window rows took most of the first soak's 20 minutes of checks)."""
    reader = spark.read.format("jdbc").options(
        url=settings.jdbc_url,
        dbtable=f"({sql}) AS q",
        user=settings.pg_login(),
        password=settings.pg_password,
        driver="org.postgresql.Driver",
        fetchsize="10000",
    )
    if split is not None:  # read.jdbc's bounds are numbers only; the options take timestamps
        reader = reader.options(
            partitionColumn="t",
            lowerBound=str(utc(split[0])),
            upperBound=str(utc(split[1])),
            numPartitions="8",
        )
    frame = reader.load()
    return frame.drop("t")


def utc(epoch_seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).replace(tzinfo=None)


def pg_table(spark, settings, table: str, start: int, end: int, value: str = "value") -> DataFrame:
    """(ts, type, key, value) of a window or hour table between two epochs."""
    return pg_query(
        spark,
        settings,
        f"SELECT timestamp AS t, extract(epoch FROM timestamp)::bigint AS ts, type, id AS key,"
        f" {value} AS value FROM {table} WHERE timestamp >= '{utc(start)}'"
        f" AND timestamp < '{utc(end)}'",
        (start, end),
    )


def totals(events: DataFrame, seconds: int, key_of: dict[str, Column] | None = None) -> DataFrame:
    """Bytes per (period start, type, key) of distinct events (equal events count once)."""
    key_of = key_of or {}
    stacked = [
        events.select(
            (F.col("timestamp") - F.col("timestamp") % seconds).alias("ts"),
            F.lit(kind).alias("type"),
            key_of.get(kind, F.col(column)).alias("key"),
            "bytes",
        )
        for kind, column in BY_TYPE
    ]
    union = stacked[0].unionByName(stacked[1]).unionByName(stacked[2])
    return union.groupBy(*KEYS).agg(F.sum("bytes").alias("value"))


def differences(found: DataFrame, truth: DataFrame, keys=KEYS) -> int:
    """Rows missing on either side or with another value."""
    joined = found.alias("f").join(truth.alias("t"), list(keys), "full_outer")
    return joined.where(~F.col("f.value").eqNullSafe(F.col("t.value"))).count()


def records(spark, settings, ledger: DataFrame, start, end, topic: str) -> dict[str, int]:
    """Every record of the ledger landed (valid) or quarantined (malformed) exactly once."""
    landed = (
        raw_store.read_hours(spark, settings.raw_dir, start, end)
        .groupBy("kafka_partition", "kafka_offset")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.first("speed_status").alias("status"),
            F.first(F.struct(*EVENT_FIELDS)).alias("landed"),
        )
    )
    valid = ledger.where(F.col("kind") != "malformed").withColumn(
        "sent", F.from_json(F.col("payload").cast("string"), EVENT_SCHEMA)
    )
    both = valid.join(landed, ["kafka_partition", "kafka_offset"], "full_outer")
    matched = F.col("n").isNotNull() & F.col("kind").isNotNull()
    counts = both.agg(
        F.sum(F.when(F.col("n").isNull(), 1).otherwise(0)).alias("lost"),
        F.sum(F.when(F.col("kind").isNull(), 1).otherwise(0)).alias("unknown"),
        F.sum(F.coalesce(F.col("n") - 1, F.lit(0))).alias("doubled"),
        F.sum(F.when(matched & (F.col("status") != F.col("expect")), 1).otherwise(0)).alias(
            "wrong_verdict"
        ),
        F.sum(F.when(matched & (F.to_json("sent") != F.to_json("landed")), 1).otherwise(0)).alias(
            "wrong_content"
        ),
    ).first()
    quarantine = pg_query(
        spark,
        settings,
        "SELECT kafka_partition, kafka_offset, reason FROM quarantine"
        f" WHERE kafka_topic = '{topic}'",
    ).withColumn("q", F.lit(1))
    malformed = ledger.where(F.col("kind") == "malformed")
    q = (
        malformed.join(quarantine, ["kafka_partition", "kafka_offset"], "full_outer")
        .agg(
            F.sum(F.when(F.col("q").isNull(), 1).otherwise(0)).alias("lost"),
            F.sum(F.when(F.col("kind").isNull(), 1).otherwise(0)).alias("unknown"),
            F.sum(
                F.when(
                    F.col("q").isNotNull() & ~F.col("reason").startswith(F.col("expect")), 1
                ).otherwise(0)
            ).alias("wrong_reason"),
        )
        .first()
    )
    return {
        "records": ledger.count(),
        "lost": (counts.lost or 0) + (q.lost or 0),
        "doubled": counts.doubled or 0,
        "unknown": (counts.unknown or 0) + (q.unknown or 0),
        "wrong_verdict": counts.wrong_verdict or 0,
        "wrong_content": counts.wrong_content or 0,
        "wrong_reason": q.wrong_reason or 0,
    }


def tables(spark, settings, ledger: DataFrame, start, end, batch_start, batch_end) -> dict:
    """Differences between each serving table and the truth: the speed layer's tables over
    [start, end), the batch layer's over the hours it ran for, [batch_start, batch_end)."""
    events = (
        ledger.where(F.col("kind") != "malformed")
        .select("expect", F.from_json(F.col("payload").cast("string"), EVENT_SCHEMA).alias("e"))
        .select("expect", "e.*")
    )
    counted = events.where(F.col("expect") == "counted").select(*EVENT_FIELDS).distinct()
    windows = totals(counted, settings.window_seconds).cache()
    s, e, bs, be = epoch(start), epoch(end), epoch(batch_start), epoch(batch_end)
    by_hour = windows.groupBy((F.col("ts") - F.col("ts") % 3600).alias("ts"), "type", "key").agg(
        F.sum("value").alias("value")
    )
    users = pg_query(spark, settings, "SELECT id, email, quota FROM user_metadata").cache()
    in_batch = (F.col("timestamp") >= bs) & (F.col("timestamp") < be)
    exact = (
        events.where(F.col("expect").isin("counted", "late") & in_batch)
        .select(*EVENT_FIELDS)
        .distinct()
        .join(F.broadcast(users), "id", "left")
        .cache()
    )
    hourly = totals(exact, 3600, {"user_bytes_total": F.coalesce("email", "id")})
    usage = exact.groupBy((F.col("timestamp") - F.col("timestamp") % 3600).alias("ts"), "id").agg(
        F.sum("bytes").alias("usage"), F.first("email").alias("email"), F.first("quota").alias("q")
    )
    over = usage.where(F.col("q").isNotNull() & (F.col("usage") > F.col("q")))
    quota_truth = over.select("ts", F.col("email").alias("key"), F.col("usage").alias("value"))
    quota_found = pg_query(
        spark,
        settings,
        "SELECT extract(epoch FROM timestamp)::bigint AS ts, email AS key, usage AS value"
        f" FROM user_quota_limit WHERE timestamp >= to_timestamp({bs}) AT TIME ZONE 'UTC'"
        f" AND timestamp < to_timestamp({be}) AT TIME ZONE 'UTC'",
    )
    serving = pg_query(
        spark,
        settings,
        "SELECT extract(epoch FROM timestamp)::bigint AS ts, type, id AS key,"
        " CASE WHEN source = 'batch' THEN value ELSE -1 END AS value FROM serving_bytes_hourly"
        f" WHERE timestamp >= to_timestamp({bs}) AT TIME ZONE 'UTC'"
        f" AND timestamp < to_timestamp({be}) AT TIME ZONE 'UTC'",
    )
    return {
        "bytes": differences(pg_table(spark, settings, "bytes", s, e), windows),
        "bytes_by_hour": differences(pg_table(spark, settings, "bytes_by_hour", s, e), by_hour),
        "bytes_hourly": differences(pg_table(spark, settings, "bytes_hourly", bs, be), hourly),
        "user_quota_limit": differences(quota_found, quota_truth, ("ts", "key")),
        "serving": differences(serving, hourly),
    }
