"""The parse/validate/aggregate functions on small DataFrames (local Spark, no services)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telemetry import transforms
from telemetry.schema import EVENT_FIELDS, ValidationRules

USER = "00000000-0000-0000-0000-000000000001"
USER2 = "00000000-0000-0000-0000-000000000002"
ANTENNA = "00000000-0000-0000-0000-100000000000"
T0 = 1_600_545_000  # 2020-09-19 19:50:00 UTC
KAFKA_TIME = dt.datetime(2020, 9, 19, 20, 0, 0)  # every test record's Kafka timestamp
KAFKA_EPOCH = 1_600_545_600
RULES = ValidationRules()
KAFKA_SOURCE_SCHEMA = T.StructType(
    [
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("timestamp", T.TimestampType()),
        T.StructField("value", T.BinaryType()),
    ]
)


def event(ts=T0, user=USER, antenna=ANTENNA, nbytes=100, app="SKYPE"):
    return {"timestamp": ts, "id": user, "antenna_id": antenna, "bytes": nbytes, "app": app}


def kafka_frame(spark, payloads):
    rows = [
        Row(
            topic="devices",
            partition=0,
            offset=i,
            timestamp=KAFKA_TIME,
            value=_payload_bytes(p),
        )
        for i, p in enumerate(payloads)
    ]
    return spark.createDataFrame(rows, KAFKA_SOURCE_SCHEMA)


def _payload_bytes(p) -> bytes | None:
    if p is None or isinstance(p, bytes):
        return p
    return (p if isinstance(p, str) else json.dumps(p)).encode()


def parse(spark, payloads):
    return kafka_frame(spark, payloads).transform(transforms.parse_events(RULES))


def reasons(spark, payloads):
    return [r.reason for r in parse(spark, payloads).orderBy("kafka_offset").collect()]


def test_valid_event_parses_with_types(spark):
    row = parse(spark, [event()]).collect()[0]
    assert row.reason is None
    assert (row.timestamp, row.id, row.antenna_id, row.bytes, row.app) == (
        T0,
        USER,
        ANTENNA,
        100,
        "SKYPE",
    )
    assert (row.kafka_topic, row.kafka_partition, row.kafka_offset) == ("devices", 0, 0)


BAD_RECORDS = [
    ("not json at all", "not_json"),
    ("[1, 2, 3]", "not_json"),
    ({k: v for k, v in event().items() if k != "bytes"}, "missing_field:bytes"),
    ({**event(), "app": None}, "missing_field:app"),
    ({**event(), "bytes": "9082"}, "wrong_type:bytes"),
    ({**event(), "timestamp": 1.5e9}, "wrong_type:timestamp"),
    ({**event(), "id": 7}, "wrong_type:id"),
    ({**event(), "app": ["SKYPE"]}, "wrong_type:app"),
    ({**event(), "antenna_id": {"a": 1}}, "wrong_type:antenna_id"),
    (event(nbytes=-1), "negative_bytes"),
    (event(ts=12), "absurd_timestamp"),
    (event(ts=4_000_000_000), "future_timestamp"),
    (event(ts=KAFKA_EPOCH + 301), "future_timestamp"),  # a device clock 5 minutes ahead
    (event(ts=KAFKA_EPOCH + 23 * 3600), "future_timestamp"),
    (event(user="bob"), "invalid_uuid:id"),
    (event(antenna="x"), "invalid_uuid:antenna_id"),
    (event(app="  "), "empty_app"),
    (event(nbytes=10**12 + 1), "bytes_too_large"),
    (event(nbytes=2**63 - 1), "bytes_too_large"),
    (event(app="A" * 65), "app_too_long"),
    (event(app="x\u0000"), "control_character:app"),  # NUL breaks PostgreSQL text
    (event(app="tab\tbed"), "control_character:app"),
    (None, "empty_payload"),
    ("", "empty_payload"),
    (b"\x00\x01\x02 binary", "not_json"),
    (b'{"app": "\xff\xfe"}', "invalid_utf8"),
    ("x" * 5000, "payload_too_large"),
    ("{'timestamp': 1}", "not_json"),  # single quotes are not JSON
    ('{"timestamp": NaN}', "not_json"),
    ('{"timestamp": 1, "timestamp": 2}', "duplicate_key"),
    # Found by the fuzz tests (test_fuzz_validation), each accepted before:
    (json.dumps(event()) + " x", "not_json"),  # trailing garbage
    (json.dumps(event()) + "]", "not_json"),
    (json.dumps(event()) + ',"x"]', "not_json"),
    (json.dumps(event()) * 2, "not_json"),
    ("[" + json.dumps(event()) + "]", "not_json"),
    ("\ufeff" + json.dumps(event()), "not_json"),  # a BOM is not JSON text
    (json.dumps(event())[:-1] + ', "bytes": [1]}', "duplicate_key"),  # Spark kept 100
    (json.dumps(event())[:-1] + ', "\\u0061pp": "X"}', "duplicate_key"),  # escaped name
    (json.dumps(event()).replace("SKYPE", "\\ud800"), "invalid_utf8"),  # lone surrogate
    (json.dumps(event()).replace("SKYPE", "\\udc00\\ud800"), "invalid_utf8"),
    (event(app="\u00a0\u3000"), "empty_app"),  # Unicode spaces only
    (event(user=USER + "\n"), "invalid_uuid:id"),  # Java's $ matched before the newline
    (json.dumps(event()).replace('"SKYPE"', "-1e400"), "wrong_type:app"),  # '"-Infinity"'
    (json.dumps(event())[:-1] + ', "x": ' + "[" * 999 + "]" * 999 + "}", "not_json"),
]


@pytest.fixture(scope="module")
def bad_record_reasons(spark) -> list:
    """Every BAD_RECORDS payload parsed in one Spark job (one job per case took a second each)."""
    return reasons(spark, [payload for payload, _ in BAD_RECORDS])


@pytest.mark.parametrize(
    ("index", "reason"),
    [(i, reason) for i, (_, reason) in enumerate(BAD_RECORDS)],
    ids=[f"{i}-{reason}" for i, (_, reason) in enumerate(BAD_RECORDS)],
)
def test_each_bad_record_gets_its_reason(bad_record_reasons, index, reason):
    assert bad_record_reasons[index] == reason, BAD_RECORDS[index][0]


def test_limits_are_inclusive(spark):
    edge = event(ts=KAFKA_EPOCH + 300, nbytes=10**12, app="A" * 64)
    assert reasons(spark, [edge, event(nbytes=0)]) == [None, None]


@pytest.mark.parametrize(
    "payload",
    [
        " \r\n" + json.dumps(event(), indent=2) + "\n\t",  # whitespace around and inside
        json.dumps(event(app="😀" * 64)),  # the length is in characters
        json.dumps(event(app="\U0001f600")),  # an escaped surrogate pair: one character
        json.dumps(event())[:-1] + ', "x": ' + "[" * 998 + "]" * 998 + "}",  # deep, not too deep
        json.dumps(event())[:-1] + ', "x": {"a": [1, "]"], "b": {"c": 1}}}',  # ']' and ':' inside
        json.dumps(event(app="a\\ud800")),  # an escaped backslash, then plain text
        json.dumps(event(nbytes=0)).replace('"bytes": 0', '"bytes": -0'),
    ],
)
def test_valid_events_in_unusual_spellings(spark, payload):
    assert reasons(spark, [payload]) == [None]


def test_quarantine_keeps_any_bytes_and_their_length(spark):
    binary = b"\x00\xff" * 3000  # NUL, invalid UTF-8, longer than the stored cut
    row = parse(spark, [binary]).collect()[0]
    assert row.reason == "payload_too_large"
    assert bytes(row.payload) == binary[: RULES.max_payload_bytes]
    assert row.payload_length == len(binary)


def test_valid_and_rejected_split_keeps_every_record(spark):
    parsed = parse(spark, [event(), "garbage", event(nbytes=-5), event(nbytes=7)])
    valid = transforms.valid_events(parsed)
    rejected = transforms.rejected_events(parsed)
    assert valid.count() == 2
    assert sorted(r.kafka_offset for r in rejected.collect()) == [1, 2]
    assert set(rejected.columns) >= {"payload", "reason", "kafka_partition", "kafka_offset"}


def events_frame(spark, events):
    rows = [
        {
            **e,
            "kafka_topic": "devices",
            "kafka_partition": 0,
            "kafka_offset": i,
            "kafka_timestamp": dt.datetime.fromtimestamp(e["timestamp"] + 5, dt.UTC).replace(
                tzinfo=None
            ),
        }
        for i, e in enumerate(events)
    ]
    return (
        spark.createDataFrame(rows)
        .select(*[F.col(c) for c in EVENT_FIELDS], "kafka_timestamp")
        .transform(transforms.with_event_time)
    )


def test_partition_columns_follow_event_time_in_utc(spark):
    row = events_frame(spark, [event(ts=T0)]).collect()[0]
    assert (row.year, row.month, row.day, row.hour) == (2020, 9, 19, 19)


def users_frame(spark):
    return spark.createDataFrame(
        [(USER, "andres@gmail.com", 50)], "id string, email string, quota long"
    )


def test_content_key_is_the_same_for_equal_events_only(spark):
    frame = spark.createDataFrame([event(), event(), event(nbytes=101)]).transform(
        transforms.with_content_key
    )
    keys = [(r.key_h1, r.key_h2) for r in frame.collect()]
    assert keys[0] == keys[1] != keys[2]


RAW_DDL = (
    "timestamp LONG, id STRING, antenna_id STRING, bytes LONG, app STRING, speed_status STRING"
)


def raw_frame(spark, statuses):
    """Raw master-dataset rows: (event, speed_status) pairs, one row per landed copy."""
    return spark.createDataFrame([{**e, "speed_status": s} for e, s in statuses], RAW_DDL)


def test_hour_stats_split_the_difference_into_causes(spark):
    from telemetry import batch

    statuses = [
        (event(ts=T0, nbytes=10), "counted"),
        (event(ts=T0, nbytes=10), "duplicate"),  # a resent copy: one event, nothing missing
        (event(ts=T0 + 1, nbytes=20), "late"),
        (event(ts=T0 + 2, nbytes=40), None),  # landed without the speed layer
        (event(ts=T0 + 3, nbytes=80), "counted"),
        (event(ts=T0 + 3, nbytes=80), "counted"),  # counted twice: the speed layer is 80 over
    ]
    stats = batch.hourly(raw_frame(spark, statuses), users_frame(spark)).stats
    row = stats.collect()[0].asDict()
    assert row == {
        "timestamp": dt.datetime(2020, 9, 19, 19, 0),
        "events": 4,
        "duplicates": 2,
        "late_events": 1,
        "late_bytes": 20,
        "unseen_events": 1,
        "unseen_bytes": 40,
        "duplicates_dropped": 1,
        "overcounted_bytes": 80,
    }
    exact = 10 + 20 + 40 + 80
    speed = 10 + 80 + 80
    assert exact - speed == row["late_bytes"] + row["unseen_bytes"] - row["overcounted_bytes"]


def test_landed_file_names_come_from_batch_id_and_spark_task():
    from telemetry.raw_store import _target_name

    spark_file = "part-00003-5c7e2a1b-aaaa-bbbb-cccc-0123456789ab.c000.snappy.parquet"
    tag = "batch-0000000007"
    assert _target_name(spark_file, tag) == f"{tag}-part-00003-c000.parquet"
    assert _target_name("_SUCCESS", tag) is None
    assert _target_name(f".{spark_file}.crc", tag) is None


# Events landed 1, 2 and 3 times with mixed verdicts, and one in the next hour.
H19, H20 = dt.datetime(2020, 9, 19, 19, 0), dt.datetime(2020, 9, 19, 20, 0)
COPIES = [
    (event(ts=T0, nbytes=10), ["counted", "duplicate", "duplicate"]),  # counted once
    (event(ts=T0 + 1, nbytes=20, user=USER2, app="WHATSAPP"), ["late", "late"]),  # late
    (event(ts=T0 + 2, nbytes=40), ["counted", "counted", "late"]),  # counted twice: 40 over
    (event(ts=T0 + 3, nbytes=80), [None, "duplicate"]),  # never counted, none late: unseen
    (event(ts=T0 + 4, nbytes=5), ["late", "counted"]),  # counted once
    (event(ts=T0 + 5, nbytes=7, user=USER2), ["counted"]),
    (event(ts=T0 + 6, nbytes=9, user=USER2), ["late"]),
    (event(ts=T0 + 600, nbytes=1000, user=USER2), ["counted", "duplicate"]),  # 20:00
]


def copies_frame(spark):
    return raw_frame(spark, [(e, s) for e, statuses in COPIES for s in statuses])


def figures(result):
    return (
        sorted(tuple(r) for r in result.totals.collect()),
        sorted(tuple(r) for r in result.over_quota.collect()),
        sorted(tuple(r) for r in result.stats.collect()),
    )


def test_hourly_counts_each_content_once_whatever_its_copies(spark):
    from telemetry import batch

    totals, over_quota, stats = figures(batch.hourly(copies_frame(spark), users_frame(spark)))
    email = "andres@gmail.com"
    assert totals == sorted(
        [
            (H19, ANTENNA, 171, "antenna_bytes_total"),
            (H19, "SKYPE", 151, "app_bytes_total"),
            (H19, "WHATSAPP", 20, "app_bytes_total"),
            (H19, USER2, 36, "user_bytes_total"),
            (H19, email, 135, "user_bytes_total"),
            (H20, ANTENNA, 1000, "antenna_bytes_total"),
            (H20, "SKYPE", 1000, "app_bytes_total"),
            (H20, USER2, 1000, "user_bytes_total"),
        ]
    )
    assert over_quota == [(email, 135, 50, H19)]
    # events, duplicates, late events/bytes, unseen events/bytes, dropped, overcounted bytes
    assert stats == [(H19, 7, 7, 2, 29, 1, 80, 3, 40), (H20, 1, 1, 0, 0, 0, 0, 1, 0)]


@pytest.mark.parametrize(
    "key",
    [lambda: F.lit(0), lambda: F.col("bytes") % 2, lambda: F.col("timestamp") - F.col("bytes")],
    ids=["one key for all", "two keys", "keys shared across contents"],
)
def test_hourly_figures_do_not_rest_on_the_content_key(spark, key):
    """A key shared by different events (a forced collision) changes which rows are grouped
    exactly, never a figure."""
    from telemetry import batch

    raw, users = copies_frame(spark), users_frame(spark)
    assert figures(batch.hourly(raw, users, key=key)) == figures(batch.hourly(raw, users))


def test_repeated_contents_groups_colliding_keys_by_their_fields(spark):
    from telemetry import content

    raw = raw_frame(
        spark,
        [(event(nbytes=1), "counted"), (event(nbytes=1), "late"), (event(nbytes=2), None)],
    )
    verdicts = raw.transform(content.repeated_contents(key=lambda: F.lit(0)))
    got = sorted((r.bytes, r.copies, r.counted, r.late, r.duplicate) for r in verdicts.collect())
    assert got == [(1, 2, 1, 1, 0), (2, 1, 0, 0, 0)]


def test_repeated_contents_leaves_out_events_of_one_copy(spark):
    from telemetry import content

    got = copies_frame(spark).transform(content.repeated_contents()).collect()
    assert sorted((r.bytes, r.copies) for r in got) == [
        (5, 2),
        (10, 3),
        (20, 2),
        (40, 3),
        (80, 2),
        (1000, 2),
    ]


def test_hourly_sums_stay_exact_where_the_copies_pass_bigint(spark):
    """The copies of a big event sum past BIGINT_MAX; the distinct events do not (MAX - 1),
    except on the antenna, which saturates at BIGINT_MAX as before."""
    from telemetry import batch
    from telemetry.schema import BIGINT_MAX

    big = 2**62
    x = event(nbytes=big, app="A")
    y = event(ts=T0 + 1, nbytes=big - 2, app="B")
    z = event(ts=T0 + 2, nbytes=2, user=USER2, app="C")
    raw = raw_frame(spark, [(x, "late"), (x, "late"), (y, "late"), (z, "counted")])
    result = batch.hourly(raw, users_frame(spark))
    totals = {(r.type, r.id): r.value for r in result.totals.collect()}
    assert totals == {
        ("antenna_bytes_total", ANTENNA): BIGINT_MAX,
        ("user_bytes_total", "andres@gmail.com"): BIGINT_MAX - 1,
        ("user_bytes_total", USER2): 2,
        ("app_bytes_total", "A"): big,
        ("app_bytes_total", "B"): big - 2,
        ("app_bytes_total", "C"): 2,
    }
    stats = result.stats.collect()[0]
    assert (stats.events, stats.late_events, stats.late_bytes) == (3, 2, BIGINT_MAX - 1)
    assert [tuple(r) for r in result.over_quota.collect()] == [
        ("andres@gmail.com", BIGINT_MAX - 1, 50, H19)
    ]
