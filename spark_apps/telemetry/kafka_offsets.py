"""Is the topic in Kafka still the one whose offsets PostgreSQL holds as applied?

The speed layer skips every record at or below ``speed_layer_offsets.applied_through``: a topic
deleted and recreated (its offsets start at 0 again) or a consumer pointed at another cluster
would have its first records skipped as "already applied". On start the speed layer finds the
last applied record of each partition in Kafka again, by offset, and compares its broker time
(``LogAppendTime``) with the one stored; anything else stops it with OffsetsWentBackwardsError.

``python -m telemetry.kafka_offsets forget`` is the way on after a deliberate recreation: it
removes the topic's applied offsets (and the speed layer's checkpoint must go with them:
``include/scripts/speed_layer.sh forget-offsets`` does both).
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from telemetry import kafka_client
from telemetry.config import ConfigError, Settings, load
from telemetry.preflight import PreflightError

FORGET_HINT = (
    "if the topic was recreated on purpose (its old records are gone for good), run "
    "`include/scripts/speed_layer.sh forget-offsets` and start the speed layer again; "
    "if it points at the wrong cluster or topic, fix LAMBDA_KAFKA_BOOTSTRAP / LAMBDA_KAFKA_TOPIC"
)


class OffsetsWentBackwardsError(PreflightError):
    """Kafka does not hold the records PostgreSQL has as applied: needs a person (exit 3)."""


def _epoch(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp())


def check_applied_offsets(settings: Settings, applied: list[tuple[int, int, Any, Any]]) -> None:
    """``applied``: (partition, applied offset, max event time, broker time of that record) per
    partition, as speed.commit.SpeedWriter.applied_records returns them."""
    if not applied:
        return
    from kafka import KafkaConsumer, TopicPartition

    topic = settings.kafka_topic
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap.split(","),
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
        **kafka_client.python_options(settings),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        wanted = [TopicPartition(topic, p) for p, *_ in applied]
        missing = [tp.partition for tp in wanted if tp.partition not in partitions]
        if missing:
            raise OffsetsWentBackwardsError(
                f"topic {topic!r} has no partition {missing} though PostgreSQL has offsets "
                f"applied there; {FORGET_HINT}"
            )
        first = consumer.beginning_offsets(wanted)
        end = consumer.end_offsets(wanted)
        for (partition, offset, _, record_time), tp in zip(applied, wanted, strict=True):
            if offset >= end[tp]:
                raise OffsetsWentBackwardsError(
                    f"{topic}[{partition}] ends at offset {end[tp] - 1} but PostgreSQL has "
                    f"applied it through {offset}: the topic was recreated or is another "
                    f"cluster's, and its records would be skipped as already applied; {FORGET_HINT}"
                )
            if offset < first[tp] or record_time is None:
                continue  # removed by retention (or applied before record times were kept)
            found = _record_time(consumer, tp, offset)
            if found != _epoch(record_time):
                raise OffsetsWentBackwardsError(
                    f"{topic}[{partition}] offset {offset} was appended at {found} (epoch s), "
                    f"but the record PostgreSQL applied there was appended at "
                    f"{_epoch(record_time)}: another topic under the same name; {FORGET_HINT}"
                )
    finally:
        consumer.close()


def _record_time(consumer, tp, offset: int) -> int | None:
    consumer.assign([tp])
    consumer.seek(tp, offset)
    for _ in range(20):
        for records in consumer.poll(timeout_ms=500, max_records=1).values():
            for record in records:
                return record.timestamp // 1000
    return None


def forget(settings: Settings) -> int:
    """Remove the topic's applied offsets (owner role); returns the rows removed."""
    import psycopg

    with psycopg.connect(settings.pg_dsn) as conn:
        return conn.execute(
            "DELETE FROM speed_layer_offsets WHERE kafka_topic = %s", (settings.kafka_topic,)
        ).rowcount


if __name__ == "__main__":
    if sys.argv[1:] != ["forget"]:
        sys.exit("usage: python -m telemetry.kafka_offsets forget")
    try:
        cfg = load()
        print(f"forgot the applied offsets of {forget(cfg)} partitions of {cfg.kafka_topic}")
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
