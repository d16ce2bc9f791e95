"""The Spark-side stages over the backlog (include/benchmark/spark_stages.py, one application so
that every ratio compares runs of the same process), and the scratch state they need and leave:
the seed design's append table, what the one-pass stage applied for the backlog's topic."""

from __future__ import annotations

import json

from benchmark.figures import BenchmarkError, Figure, log
from benchmark.submit import submit
from telemetry import config, postgres

STAGES_APP = "include/benchmark/spark_stages.py"
SEED_TABLE = "bench_seed_bytes"
LABELS = {
    "kafka_source": ("Spark Kafka source alone -> no-op", None),
    "parse_validate": ("+ parse and validate -> no-op", "kafka_source"),
    "seed_design": (
        "seed's design: 3 window queries + raw query, each reading Kafka",
        "kafka_source",
    ),
    "one_pass": ("one pass: windows + Parquet + quarantine (availableNow)", "kafka_source"),
}


def prepare_seed_table(settings: config.Settings) -> None:
    """The seed design's append target (include/benchmark/spark_stages.py), empty."""
    with postgres.connect(settings) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SEED_TABLE}")
        conn.execute(f"CREATE TABLE {SEED_TABLE} (LIKE bytes)")
        conn.execute(f"ALTER TABLE {SEED_TABLE} DROP CONSTRAINT IF EXISTS {SEED_TABLE}_pkey")
        speed = settings.pg_login("speed")
        conn.execute(f'GRANT INSERT ON {SEED_TABLE} TO "{speed}"')


def drop_seed_table(settings: config.Settings) -> None:
    """A scratch table: no role keeps a grant on it."""
    with postgres.connect(settings) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SEED_TABLE}")


def forget_topic(settings: config.Settings, topic: str) -> None:
    """What the one-pass stage applied for the backlog's topic: gone, so the speed layer run
    after it counts the backlog again (the benchmark's own database)."""
    with postgres.connect(settings) as conn:
        conn.execute("DELETE FROM speed_layer_offsets WHERE kafka_topic = %s", (topic,))
        conn.execute("DELETE FROM speed_layer_progress")
        conn.execute("TRUNCATE bytes, quarantine")


def spark_stages(env: dict[str, str], events: int, timeout: float) -> list[Figure]:
    """The four stages' figures; BenchmarkError unless each read every event."""
    proc = submit(STAGES_APP, [], env, timeout)
    for line in proc.stderr.splitlines():
        if line.startswith("[bench]"):
            log(line.removeprefix("[bench] "))
    line = next(x for x in proc.stdout.splitlines() if x.startswith("BENCH_STAGES "))
    results = json.loads(line.removeprefix("BENCH_STAGES "))
    figures = []
    for key, (label, baseline) in LABELS.items():
        r = results[key]
        if r["rows"] != events:
            raise BenchmarkError(f"stage {key} read {r['rows']} rows, expected {events}")
        figures.append(Figure(key, label, r["rows"], r["seconds"], baseline))
    return figures
