"""Pure DataFrame -> DataFrame transformations, the same for the speed and the batch layer.

Every function here either is a transform (``df.transform(f)``) or returns one; none reads or
writes anything. Streaming and batch DataFrames go through the same code.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from telemetry.schema import (
    BIGINT_MAX,
    EVENT_FIELDS,
    EVENT_SCHEMA,
    QUARANTINE_COLUMNS,
    UUID_PATTERN,
    ValidationRules,
)

Transform = Callable[[DataFrame], DataFrame]

KAFKA_COLUMNS: tuple[str, ...] = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
)
_JSON_MAP = T.MapType(T.StringType(), T.StringType())


STRING_FIELDS: tuple[str, ...] = ("id", "antenna_id", "app")
# Spark's JSON reader gives a string field the text of a number, boolean, array or object; those
# texts are the only trace that the field was not a JSON string. A number beyond a double (1e400)
# comes out as "Infinity" with its quotes. \A...\z: Java's $ would also match before a final
# line terminator.
_NON_STRING_JSON = (
    r"(?s)\A(\[.*\]|\{.*\}|-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|NaN|[+-]?Infinity"
    r'|"-?Infinity")\z'
)
# RFC 8259 JSON only: Spark's reader otherwise also takes 'single quotes' and NaN/Infinity.
JSON_OPTIONS: dict[str, str] = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false"}
_CONTROL_CHARACTER = r"\p{Cc}"  # U+0000-U+001F, U+007F-U+009F: NUL breaks PostgreSQL text
_NOT_WHITE_SPACE = r"\P{IsWhite_Space}"  # Unicode White_Space: also NBSP, U+3000, U+2028...

# A \u escape of a UTF-16 surrogate that is not half of a high+low pair: it decodes to no
# character (Spark's reader turns it into "?", Python's into a lone surrogate PostgreSQL rejects).
# Escapes are read left to right, "\\" being one, so a \u starts an escape only after an even
# run of backslashes; (?<!\\) anchors each run at its first backslash.
_HEX2 = "[0-9a-fA-F]{2}"
_HIGH = rf"\\u[dD][89abAB]{_HEX2}"
_LOW = rf"\\u[dD][c-fC-F]{_HEX2}"
_LONE_SURROGATE_ESCAPE = "|".join(
    [
        rf"(?<!\\)(?:\\\\)*{_HIGH}(?!{_LOW})",  # a high one not followed by a low one
        rf"(?<!\\)\\\\(?:\\\\)*{_LOW}",  # a low one right after an escaped backslash
        rf"(?<!{_HIGH})(?<!\\){_LOW}",  # a low one after anything but a high one...
        rf"(?<!\\)(?:\\\\)+u[dD][89abAB]{_HEX2}{_LOW}",  # ...or after the text "\\uD8xx"
    ]
)


def _rejection_reason(
    value: Column,
    text: Column,
    kafka_timestamp: Column,
    parsed: Column,
    event: Column,
    fields: Column,
    shape: Column,
    rules: ValidationRules,
) -> Column:
    """The first rule a record breaks, or null when it is a valid event.

    ``text``: the payload as a string, null unless it is UTF-8 of a valid size. ``parsed``: the
    array-wrapped parse, ``event`` its first element. ``fields``: the payload as a string map,
    only parsed when a typed field came out null. ``shape``: the checks only some records need
    (_shape_checks). Rules read only the record itself (the future limit is relative to its
    Kafka timestamp), so a replayed batch gets the same verdicts.
    """
    size = F.length(value)  # bytes: value is binary
    some_field_null = F.lit(False)
    for name in EVENT_FIELDS:
        some_field_null = some_field_null | event[name].isNull()
    kafka_seconds = F.unix_seconds(kafka_timestamp)
    keys = shape["keys"]
    checks: list[tuple[Column, str]] = [
        (size.isNull() | (size == 0), "empty_payload"),
        (size > rules.max_payload_bytes, "payload_too_large"),
        # The text is null for the records above and those that are not UTF-8.
        (text.isNull() | shape["lone_surrogate"], "invalid_utf8"),
        (
            (some_field_null & fields.isNull())
            | ~F.coalesce((F.size(parsed) == 1) & shape["closes_alone"], F.lit(False)),
            "not_json",
        ),
        # RFC 8259 leaves duplicate names to each parser (Spark's reader keeps the last value
        # that converts: '"bytes": 5, "bytes": [1]' gave 5): ambiguous, rejected.
        (F.size(keys) != F.size(F.array_distinct(keys)), "duplicate_key"),
    ]
    checks += [(some_field_null & fields[n].isNull(), f"missing_field:{n}") for n in EVENT_FIELDS]
    checks += [(some_field_null & event[n].isNull(), f"wrong_type:{n}") for n in EVENT_FIELDS]
    checks += [(event[n].rlike(_NON_STRING_JSON), f"wrong_type:{n}") for n in STRING_FIELDS]
    checks += [
        (event["bytes"] < 0, "negative_bytes"),
        (event["bytes"] > rules.max_event_bytes, "bytes_too_large"),
        (event["timestamp"] < rules.min_event_epoch, "absurd_timestamp"),
        (event["timestamp"] > kafka_seconds + rules.max_future_seconds, "future_timestamp"),
        (~event["id"].rlike(UUID_PATTERN), "invalid_uuid:id"),
        (~event["antenna_id"].rlike(UUID_PATTERN), "invalid_uuid:antenna_id"),
        (~event["app"].rlike(_NOT_WHITE_SPACE), "empty_app"),
        (F.length(event["app"]) > rules.max_app_length, "app_too_long"),
        (event["app"].rlike(_CONTROL_CHARACTER), "control_character:app"),
    ]
    return F.coalesce(*[F.when(cond, F.lit(reason)) for cond, reason in checks])


def _wrapped(text: Column, tail: str) -> Column:
    return F.concat(F.lit("["), text, F.lit(tail))


def _shape_checks(text: Column, event: Column) -> Column:
    """The checks a valid event rarely needs, each behind a cheap test that skips it.

    Spark's JSON readers read the first value and ignore what follows it, so trailing garbage
    ('{...} x', '{...}{...}', '{...}]') would pass. Parsed as '[' + text + ']', text that is
    exactly one value gives one element, and so does text with a suffix that starts with ']'
    and closes the wrapper early: that one (possible only if the text has a ']') counts one
    element in '[' + text + ',0]' instead of two. Duplicate names need the top-level keys, but
    not when all five fields are there and the text has five colons: every member has one.
    """
    all_fields = F.lit(True)
    for name in EVENT_FIELDS:
        all_fields = all_fields & event[name].isNotNull()
    colons = F.length(text) - F.length(F.replace(text, F.lit(":"), F.lit("")))
    return F.struct(
        (~text.contains("]") | (F.json_array_length(_wrapped(text, ",0]")) == 2)).alias(
            "closes_alone"
        ),
        F.when(~all_fields | (colons > len(EVENT_FIELDS)), F.json_object_keys(text)).alias("keys"),
        (text.contains("\\u") & text.rlike(_LONE_SURROGATE_ESCAPE)).alias("lone_surrogate"),
    )


def parse_events(rules: ValidationRules) -> Transform:
    """Kafka records -> one row per record: Kafka coordinates, typed fields, reason, payload.

    ``reason`` is null for a valid event; otherwise it names the first rule the record broke.
    ``payload`` keeps the record's bytes (cut to ``max_payload_bytes``) for the quarantine:
    binary, since a device may send anything, NUL bytes and invalid UTF-8 included.

    A valid event costs one JSON parse: of '[' + text + ']', which also tells whether the
    text is one value (see _shape_checks); the other parses run only for the records that
    need them.
    """

    def transform(kafka: DataFrame) -> DataFrame:
        value = F.col("value")
        parseable = (F.length(value).between(1, rules.max_payload_bytes)) & F.is_valid_utf8(
            value.cast("string")
        )
        records = kafka.select(
            F.col("topic").alias("kafka_topic"),
            F.col("partition").alias("kafka_partition"),
            F.col("offset").alias("kafka_offset"),
            F.col("timestamp").alias("kafka_timestamp"),
            value,
        ).withColumn("_text", F.when(parseable, value.cast("string")))
        text = F.col("_text")
        records = records.withColumn(
            "_parsed", F.from_json(_wrapped(text, "]"), T.ArrayType(EVENT_SCHEMA), JSON_OPTIONS)
        ).withColumn("_event", F.get("_parsed", 0))  # null, not an error, for '[]'
        event = F.col("_event")
        some_null = F.lit(False)
        for name in EVENT_FIELDS:
            some_null = some_null | event[name].isNull()
        records = records.withColumn(
            "_fields", F.when(some_null, F.from_json(text, _JSON_MAP, JSON_OPTIONS))
        ).withColumn("_shape", _shape_checks(text, event))
        reason = _rejection_reason(
            value,
            text,
            F.col("kafka_timestamp"),
            F.col("_parsed"),
            event,
            F.col("_fields"),
            F.col("_shape"),
            rules,
        )
        return records.select(
            *KAFKA_COLUMNS,
            *[event[name].alias(name) for name in EVENT_FIELDS],
            reason.alias("reason"),
            F.substring(value, 1, rules.max_payload_bytes).alias("payload"),
            F.coalesce(F.length(value), F.lit(0)).alias("payload_length"),
        )

    return transform


def valid_events(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNull()).select(*EVENT_FIELDS, *KAFKA_COLUMNS)


def rejected_events(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)


def with_event_time(events: DataFrame) -> DataFrame:
    """Add the event time and the year/month/day/hour partition columns (session time zone: UTC)."""
    event_time = F.timestamp_seconds("timestamp")
    return (
        events.withColumn("event_time", event_time)
        .withColumn("year", F.year(event_time))
        .withColumn("month", F.month(event_time))
        .withColumn("day", F.dayofmonth(event_time))
        .withColumn("hour", F.hour(event_time))
    )


def with_content_key(events: DataFrame) -> DataFrame:
    """Add ``key_h1``/``key_h2``: two independent 64-bit hashes of the five event fields, one
    128-bit content key. The same for a Kafka record and its Parquet
    copy, so the speed layer can rebuild its duplicate state from what it landed."""
    fields = [F.col(name) for name in EVENT_FIELDS]
    return events.withColumn("key_h1", F.xxhash64(*fields)).withColumn(
        "key_h2", F.xxhash64(F.lit("lambda-content-key"), *fields)
    )


def saturating_sum(column: str) -> Column:
    """Sum that stops at BIGINT's maximum instead of failing the query (Spark's ANSI mode raises
    ARITHMETIC_OVERFLOW). With bytes <= max_event_bytes it takes millions of maximal reports to
    one key in one window to get there; the stream never dies of it."""
    return F.coalesce(F.try_sum(column), F.lit(BIGINT_MAX))


def utc_wallclock(column: str) -> Column:
    """TIMESTAMP -> TIMESTAMP_NTZ (session zone UTC), so collected values are naive UTC
    datetimes whatever the driver host's time zone, as the TIMESTAMP columns in PostgreSQL are."""
    return F.col(column).cast("timestamp_ntz").alias(column)
