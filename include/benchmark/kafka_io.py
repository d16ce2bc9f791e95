"""The benchmark's Kafka side: a scratch topic per measurement (so no run reads another's
records), the backlog's plan and the simulator producing it, and bursts sent all at once."""

from __future__ import annotations

import time
import uuid

from kafka.admin import KafkaAdminClient

from benchmark.figures import Figure, Target
from simulator.events import Generator, Plan
from simulator.producer import SendStats, connect, send_all
from telemetry import config
from telemetry.kafka_topics import new_topic

HISTORY_SECONDS = 2 * 3600  # the backlog's event time: two complete hours
SIMULATOR_TARGET = Target("rate", 100_000)  # from the project's performance goals


def create_topic(settings: config.Settings) -> str:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    try:
        admin.create_topics([new_topic(topic, settings)])
    finally:
        admin.close()
    return topic


def delete_topic(settings: config.Settings, topic: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","))
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()


def backlog_plan(events: int, users: int, antennas: int, start: int) -> Plan:
    """``events`` spread over two hours from ``start``, no duplicates: every stage counts the
    same events."""
    return Plan(
        users=users,
        antennas=antennas,
        count=events,
        start=start,
        rate=events / HISTORY_SECONDS,
        seed=3,
    )


def produce(settings: config.Settings, topic: str, plan: Plan) -> Figure:
    """The simulator sending ``plan`` into ``topic`` from one process, against generation alone."""
    producer = connect(settings.kafka_bootstrap, topic)
    try:
        stats = send_all(Generator(plan).phase(plan.start, plan.rate, plan.count), producer, topic)
    finally:
        producer.close(timeout=10)
    return Figure(
        "simulator",
        "simulator -> Kafka, one process",
        stats.sent,
        stats.elapsed,
        "generation",
        (SIMULATOR_TARGET,),
    )


class Bursts:
    """Bursts of ``size`` events stamped now, from one generator (no two share a content, so
    none is judged a duplicate), each generated before it is sent: the send is the burst."""

    def __init__(self, settings: config.Settings, topic: str, users: int, antennas: int, size: int):
        self.topic, self.size = topic, size
        plan = Plan(users=users, antennas=antennas, start=int(time.time()), rate=size, seed=17)
        self._generator = Generator(plan)
        self._producer = connect(settings.kafka_bootstrap, topic)

    def send(self) -> SendStats:
        """One burst, sent at once and flushed."""
        messages = list(self._generator.phase(int(time.time()), self.size, self.size))
        return send_all(messages, self._producer, self.topic, log=None)

    def close(self) -> None:
        self._producer.close(timeout=10)
