"""Device telemetry simulator: seeded event generation (``events``) and a Kafka sender
(``producer``), what was sent (``ground_truth``); run it with ``python -m simulator --help``."""

from simulator.events import (
    APPS,
    MALFORMED_REASONS,
    Event,
    Generator,
    Message,
    Plan,
    antenna_id,
    generate,
    user_id,
)
from simulator.ground_truth import GroundTruth

__all__ = [
    "APPS",
    "MALFORMED_REASONS",
    "Event",
    "Generator",
    "GroundTruth",
    "Message",
    "Plan",
    "antenna_id",
    "generate",
    "user_id",
]
