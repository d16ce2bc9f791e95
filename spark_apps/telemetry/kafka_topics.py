"""How the project creates its Kafka topics (the service script, the tests, the benchmark)."""

from __future__ import annotations

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

from telemetry.config import TOPIC_CONFIGS, Settings


def topic_configs(settings: Settings) -> dict[str, str]:
    """Broker-stamped record times, and the replicas an acks=all write must reach."""
    return {**TOPIC_CONFIGS, "min.insync.replicas": str(settings.kafka_min_insync_replicas)}


def new_topic(name: str, settings: Settings, partitions: int | None = None) -> NewTopic:
    """A topic with the settings' partitions (or ``partitions``), replicas and configs."""
    return NewTopic(
        name,
        partitions or settings.kafka_partitions,
        settings.kafka_replication_factor,
        topic_configs=topic_configs(settings),
    )


def apply_configs(admin: KafkaAdminClient, name: str, settings: Settings) -> None:
    """Bring an existing topic (made before these configs existed) up to them; idempotent."""
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, configs=topic_configs(settings))]
    )
