"""Wait for the broker, then make sure the topic exists with the configured partitions.

--check only reports (exit 1 when the broker or the topic is missing).
"""

from __future__ import annotations

import sys
import time

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from telemetry import config, kafka_client
from telemetry.kafka_topics import apply_configs, new_topic


def admin(settings: config.Settings, deadline: float) -> KafkaAdminClient:
    while True:
        try:
            return KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap.split(","),
                request_timeout_ms=10000,
                bootstrap_timeout_ms=5000,
                **kafka_client.python_options(settings),
            )
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def main() -> int:
    settings = config.load()
    check_only = "--check" in sys.argv
    deadline = time.monotonic() + (5 if check_only else 90)
    try:
        client = admin(settings, deadline)
    except KafkaError as exc:
        print(f"Kafka at {settings.kafka_bootstrap} is unreachable: {exc}", file=sys.stderr)
        return 1
    try:
        exists = settings.kafka_topic in client.list_topics()
        if check_only:
            return 0 if exists else 1
        if not exists:
            try:
                client.create_topics([new_topic(settings.kafka_topic, settings)])
                print(
                    f"created topic {settings.kafka_topic} ({settings.kafka_partitions} partitions)"
                )
            except TopicAlreadyExistsError:
                pass
        else:
            apply_configs(client, settings.kafka_topic, settings)
        while time.monotonic() < deadline:  # metadata reaches the broker a moment later
            described = client.describe_topics([settings.kafka_topic])
            if described and described[0].get("partitions"):
                return 0
            time.sleep(0.5)
        print(f"topic {settings.kafka_topic} has no partitions yet", file=sys.stderr)
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
