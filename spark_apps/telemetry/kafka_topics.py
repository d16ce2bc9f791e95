"""How the project creates its Kafka topics (the service script, the tests, the benchmark)."""

from __future__ import annotations

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

from telemetry.config import TOPIC_CONFIGS


def new_topic(name: str, partitions: int) -> NewTopic:
    """A single-replica topic with the project's configs (broker-stamped record times)."""
    return NewTopic(name, partitions, 1, topic_configs=dict(TOPIC_CONFIGS))


def apply_configs(admin: KafkaAdminClient, name: str) -> None:
    """Bring an existing topic (made before these configs existed) up to them; idempotent."""
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, configs=dict(TOPIC_CONFIGS))]
    )
