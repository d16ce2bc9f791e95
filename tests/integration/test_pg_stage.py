"""Serving rows written by Spark's executors (telemetry.pg_stage) and moved by the driver's
transaction (postgres.move_staged), against the real PostgreSQL and as the writers' roles: the
driver collects a few rows whatever the number of devices, a re-run task replaces what it
staged, and a count that does not match writes nothing."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from pyspark.sql import functions as F

from telemetry import pg_stage, postgres, transforms
from telemetry.schema import WINDOW_TOTAL_COLUMNS
from telemetry.speed import verdicts
from telemetry.speed.summary import BatchSummary, stage_windows, summarize

from ..unit.test_verdicts import ANTENNA, SCHEMA, T0

pytestmark = pytest.mark.integration

DEVICES = 500
WINDOW = T0 - T0 % 300


def fleet_batch(spark):
    """One micro-batch's records: one event of each of DEVICES devices, one antenna, one app,
    one 5-minute window, over two Kafka partitions; and two rejected records."""
    rows = [
        (T0, f"user-{n:04d}", ANTENNA, 100 + n, "SKYPE", "devices", n % 2, n, T0, None)
        for n in range(DEVICES)
    ]
    rows += [
        (T0, "x", ANTENNA, 0, "SKYPE", "devices", 0, DEVICES + n, T0, "not_json") for n in (0, 1)
    ]
    return (
        spark.createDataFrame(rows, SCHEMA)
        .withColumn("kafka_timestamp", F.timestamp_seconds("kafka_timestamp"))
        .withColumn("payload", F.when(F.col("reason").isNotNull(), F.lit(b"{\x00")))
        .withColumn("payload_length", F.lit(2))
        .transform(transforms.with_content_key)
        .transform(verdicts.judge(spark.createDataFrame([], verdicts.STATE_SCHEMA), None))
        .where(~F.col("_state"))
    )


def staged(pg, table: str, token: str) -> int:
    return pg.execute(f"SELECT count(*) FROM staged_{table} WHERE token = %s", (token,)).fetchone()[
        0
    ]


def test_the_executors_stage_every_window_and_the_driver_gets_a_few_rows(spark, pg, settings):
    target = pg_stage.Target(settings.as_role("speed").pg_dsn, "bytes", WINDOW_TOTAL_COLUMNS)
    token = pg_stage.new_token()
    summary = fleet_batch(spark).transform(summarize(300)).transform(stage_windows(target, token))
    collected = summary.collect()
    # Partitions, verdict, reason, hour and one tally per partition: none per device.
    assert len(collected) < 12, collected
    s = BatchSummary.of(collected)
    assert s.staged_windows == DEVICES + 2 == staged(pg, "bytes", token)  # users + antenna + app
    assert s.verdicts == {"counted": DEVICES} and s.rejected == 2

    # A task run again (a retry, a lost executor) replaces its partition's rows: never twice.
    assert BatchSummary.of(summary.collect()).staged_windows == DEVICES + 2
    assert staged(pg, "bytes", token) == DEVICES + 2

    with psycopg.connect(settings.as_role("speed").pg_dsn) as conn:
        with pytest.raises(postgres.StagedRowsError), conn.transaction():
            postgres.move_staged(conn, "bytes", WINDOW_TOTAL_COLUMNS, token, DEVICES)
        assert pg.execute("SELECT count(*) FROM bytes").fetchone()[0] == 0, "rolled back"
        assert staged(pg, "bytes", token) == DEVICES + 2
        with conn.transaction():
            moved = postgres.move_staged(conn, "bytes", WINDOW_TOTAL_COLUMNS, token, DEVICES + 2)
    assert moved == DEVICES + 2 and staged(pg, "bytes", token) == 0
    window = dt.datetime.fromtimestamp(WINDOW, dt.UTC).replace(tzinfo=None)
    totals = pg.execute(
        "SELECT type, count(*), sum(value) FROM bytes WHERE timestamp = %s GROUP BY 1 ORDER BY 1",
        (window,),
    ).fetchall()
    everything = sum(100 + n for n in range(DEVICES))
    assert totals == [
        ("antenna_bytes_total", 1, everything),
        ("app_bytes_total", 1, everything),
        ("user_bytes_total", DEVICES, everything),
    ]


def test_quarantine_rows_keep_their_bytes_through_the_executors(spark, pg, settings):
    from telemetry.schema import QUARANTINE_COLUMNS

    target = pg_stage.Target(settings.as_role("speed").pg_dsn, "quarantine", QUARANTINE_COLUMNS)
    token = pg_stage.new_token()
    rejected = (
        fleet_batch(spark)
        .where(F.col("reason").isNotNull())
        .withColumn("kafka_timestamp", transforms.utc_wallclock("kafka_timestamp"))
    )
    assert pg_stage.total(pg_stage.stage(rejected, target, token)) == 2
    with psycopg.connect(settings.as_role("speed").pg_dsn) as conn, conn.transaction():
        postgres.move_staged(conn, "quarantine", QUARANTINE_COLUMNS, token, 2)
    kept = pg.execute("SELECT kafka_offset, payload, kafka_timestamp FROM quarantine ORDER BY 1")
    broker = dt.datetime.fromtimestamp(T0, dt.UTC).replace(tzinfo=None)
    assert kept.fetchall() == [(DEVICES, b"{\x00", broker), (DEVICES + 1, b"{\x00", broker)]


def test_text_that_csv_would_misread_is_staged_as_it_was(spark, pg, settings):
    """Window rows go to COPY as Arrow's CSV (pg_stage._csv): quotes, commas, newlines, a
    backslash, COPY's end marker, an empty string and non-ASCII keys arrive unchanged, and both
    TIMESTAMP kinds Spark hands over (with and without a time zone) as the same UTC time."""
    keys = ['a,"b"', "line\nbreak", "back\\slash", "\\.", "", "ünï €", " padded "]
    at = dt.datetime(2026, 1, 2, 3, 5)
    frame = spark.createDataFrame(
        [(at, key, n, "user_bytes_total") for n, key in enumerate(keys)],
        "timestamp timestamp_ntz, id string, value long, type string",
    )
    target = pg_stage.Target(settings.as_role("speed").pg_dsn, "bytes", WINDOW_TOTAL_COLUMNS)
    for kind, typed in (
        ("ntz", frame),
        ("utc", frame.withColumn("timestamp", F.col("timestamp").cast("timestamp"))),
    ):
        token = f"csv-{kind}"
        assert pg_stage.total(pg_stage.stage(typed.repartition(2), target, token)) == len(keys)
        rows = pg.execute(
            "SELECT timestamp, id, value FROM staged_bytes WHERE token = %s ORDER BY value",
            (token,),
        ).fetchall()
        assert rows == [(at, key, n) for n, key in enumerate(keys)], kind
