"""The simulator's KafkaProducer settings: no loss or reordering, and throughput (batching,
compression, a memoized key hash)."""

from __future__ import annotations

import functools
from typing import Any


def compression_type() -> str | None:
    """The best codec kafka-python can use without extra packages.

    lz4 needs the optional ``lz4`` package; gzip only needs the standard library's zlib.  gzip
    costs little here: kafka-python computes the batch CRC32C in pure Python unless the
    optional ``crc32c`` package is installed, and a CRC over a small compressed batch is
    cheaper than one over the raw batch, so gzip is even faster than no compression.
    """
    from kafka import codec

    if codec.has_lz4():
        return "lz4"
    if codec.has_gzip():
        return "gzip"
    return None


@functools.lru_cache(maxsize=1 << 17)  # bounded: scale mode may have millions of devices
def _key_hash(serialized_key: bytes) -> int:
    from kafka.partitioner.default import murmur2

    return murmur2(serialized_key) & 0x7FFFFFFF


def key_hash_partitioner() -> Any:
    """Kafka's default partitioning (murmur2 of the key, as the Java client does) with the hash
    memoized per key: the simulator's keys are its device ids, and kafka-python's pure-Python
    murmur2 took about a quarter of ``send()`` in a profile. Kafka numbers a topic's partitions
    0..n-1, so the default's ``sorted(partitions)[hash % n]`` is ``hash % n``."""
    from kafka.partitioner import DefaultPartitioner

    class KeyHashPartitioner(DefaultPartitioner):
        def partition(self, topic, key, serialized_key, value, serialized_value, cluster):
            count = len(cluster.partitions_for_topic(topic) or ())
            if serialized_key is None or not count:
                return super().partition(
                    topic, key, serialized_key, value, serialized_value, cluster
                )
            return _key_hash(serialized_key) % count

    return KeyHashPartitioner()


def producer_config(
    bootstrap: str, bootstrap_timeout_s: float = 10.0, client_options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """KafkaProducer settings: throughput (batching, compression) with no loss or reordering;
    ``client_options``: TLS / SASL (telemetry.kafka_client.python_options)."""
    from kafka import KafkaProducer

    wanted: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": "telemetry-simulator",
        "acks": "all",
        "enable_idempotence": True,  # no duplicates from retries, order kept per partition
        "retries": 2_147_483_647,  # bounded by delivery_timeout_ms instead
        "max_in_flight_requests_per_connection": 5,  # the maximum idempotence allows
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "compression_type": compression_type(),
        "partitioner": key_hash_partitioner(),
        "allow_auto_create_topics": False,  # a missing topic is an error, never created
        "bootstrap_timeout_ms": int(bootstrap_timeout_s * 1000),
        "max_block_ms": 60_000,
        **(client_options or {}),
    }
    known = KafkaProducer.DEFAULT_CONFIG
    config = {k: v for k, v in wanted.items() if k in known}
    if "enable_idempotence" not in known:  # older kafka-python: keep ordering on retries
        config["max_in_flight_requests_per_connection"] = 1
    return config
