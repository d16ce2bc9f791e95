"""LAMBDA_LINEAGE: one setting gives the Airflow side and the batch jobs' Spark listener the same
OpenLineage transport (the events themselves: tests/airflow/test_lineage.py)."""

from __future__ import annotations

import json

import pytest

from telemetry import config, lineage


@pytest.fixture
def settings(monkeypatch, tmp_path):
    def load(value: str | None) -> config.Settings:
        monkeypatch.setenv("LAMBDA_HOME", str(tmp_path))
        if value is None:
            monkeypatch.delenv("LAMBDA_LINEAGE", raising=False)
        else:
            monkeypatch.setenv("LAMBDA_LINEAGE", value)
        return config.load()

    return load


def test_a_file_in_the_state_folder_by_default(settings, tmp_path):
    s = settings(None)
    env = s.airflow_env()
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport == {
        "type": "file",
        "log_file_path": str(tmp_path / "lineage" / "airflow.jsonl"),
        "append": True,
    }
    assert env["AIRFLOW__OPENLINEAGE__SPARK_INJECT_PARENT_JOB_INFO"] == "true"
    confs = lineage.spark_confs(s)
    assert confs["spark.extraListeners"] == lineage.LISTENER
    assert confs["spark.openlineage.transport.type"] == "file"
    assert confs["spark.openlineage.transport.location"] == str(
        tmp_path / "lineage" / "spark.jsonl"
    )


def test_a_marquez_url_goes_to_both_sides(settings):
    s = settings("http://marquez.internal:5000")
    transport = json.loads(s.airflow_env()["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport == {"type": "http", "url": "http://marquez.internal:5000"}
    confs = lineage.spark_confs(s)
    assert confs["spark.openlineage.transport.type"] == "http"
    assert confs["spark.openlineage.transport.url"] == "http://marquez.internal:5000"


def test_off_loads_no_listener_and_disables_the_provider(settings):
    s = settings("off")
    assert s.airflow_env()["AIRFLOW__OPENLINEAGE__DISABLED"] == "true"
    assert lineage.spark_confs(s) == {} and lineage.jars(s) == []


def test_console(settings):
    s = settings("console")
    assert json.loads(s.airflow_env()["AIRFLOW__OPENLINEAGE__TRANSPORT"]) == {"type": "console"}
    assert lineage.spark_confs(s)["spark.openlineage.transport.type"] == "console"


def test_anything_else_is_named(settings):
    with pytest.raises(config.ConfigError, match="LAMBDA_LINEAGE='kafka'"):
        settings("kafka")
