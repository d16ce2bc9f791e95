"""The schema's upgrade of tables made before partitioning, in place and keeping their rows: a
copy of the old shape in a scratch schema, the schema files applied there twice (as every start
applies them to an existing database)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

import pytest

from .conftest import REPO

pytestmark = pytest.mark.integration

PARTITIONED = ("bytes", "quarantine", "reconciliation")

OLD_SHAPE = """
CREATE TABLE bytes (timestamp TIMESTAMP NOT NULL, id TEXT NOT NULL, value BIGINT NOT NULL,
    type TEXT NOT NULL, PRIMARY KEY (timestamp, type, id));
CREATE TABLE quarantine (kafka_topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL,
    kafka_offset BIGINT NOT NULL, kafka_timestamp TIMESTAMP NOT NULL, reason TEXT NOT NULL,
    payload TEXT, quarantined_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset));
CREATE INDEX quarantine_kafka_timestamp ON quarantine (kafka_timestamp);
CREATE TABLE reconciliation (timestamp TIMESTAMP NOT NULL, type TEXT NOT NULL,
    speed_total BIGINT NOT NULL, batch_total BIGINT NOT NULL, difference BIGINT NOT NULL,
    late_events BIGINT NOT NULL, quarantined_events BIGINT NOT NULL,
    reconciled_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (timestamp, type));
INSERT INTO bytes VALUES ('2005-03-01 10:05', 'a', 7, 'app_bytes_total'),
    ('2005-03-02 00:00', 'b', 8, 'user_bytes_total');
INSERT INTO quarantine (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, reason,
    payload) VALUES ('t', 0, 1, '2005-03-01 11:00', 'not_json', 'caf\u00e9');
INSERT INTO reconciliation VALUES ('2005-03-01 10:00', 'app_bytes_total', 1, 2, 1, 0, 0, now());
CREATE VIEW old_reader AS SELECT * FROM bytes;
"""


def apply_schema_in(schema: str) -> None:
    for name in ("000_functions.sql", "001_serving_tables.sql"):
        subprocess.run(
            [
                "bash",
                str(REPO / "include" / "scripts" / "postgres.sh"),
                "psql",
                "-c",
                f"SET search_path TO {schema}, public",
                "-f",
                str(REPO / "sql" / "schema" / name),
            ],
            cwd=REPO,
            env={**os.environ, "LAMBDA_PG_ROLE": "owner"},
            check=True,
            capture_output=True,
            timeout=120,
        )


def test_tables_made_before_partitioning_are_upgraded_in_place(pg):
    schema = "retention_upgrade"
    pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    pg.execute(f"CREATE SCHEMA {schema}")
    try:
        pg.execute(f"SET search_path TO {schema}")
        pg.execute(OLD_SHAPE)
        apply_schema_in(schema)
        relations = "SELECT relname, relkind FROM pg_class WHERE relnamespace = %s::regnamespace"
        upgraded = dict(pg.execute(relations, (schema,)).fetchall())
        apply_schema_in(schema)  # again: nothing changes
        assert dict(pg.execute(relations, (schema,)).fetchall()) == upgraded
        assert {upgraded[t] for t in PARTITIONED} == {"p"}
        assert "old_reader" not in upgraded  # a view would have followed the renamed table
        assert not [name for name in upgraded if name.endswith("_unpartitioned")]
        assert pg.execute("SELECT * FROM bytes ORDER BY 1").fetchall() == [
            (dt.datetime(2005, 3, 1, 10, 5), "a", 7, "app_bytes_total"),
            (dt.datetime(2005, 3, 2), "b", 8, "user_bytes_total"),
        ]
        assert pg.execute(
            "SELECT tableoid::regclass::text FROM bytes ORDER BY timestamp"
        ).fetchall() == [("bytes_p20050301",), ("bytes_p20050302",)]
        assert pg.execute(
            "SELECT kafka_offset, reason, payload, payload_length FROM quarantine"
        ).fetchall() == [(1, "not_json", "café".encode(), None)]
        assert pg.execute(
            "SELECT difference, late_bytes, unexplained FROM reconciliation"
        ).fetchall() == [(1, 0, 0)]
    finally:
        pg.execute("RESET search_path")
        pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
