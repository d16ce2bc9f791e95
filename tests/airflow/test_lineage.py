"""Lineage of one real lambda_hourly run (OpenLineage, LAMBDA_LINEAGE=file, as by default): the
batch job's Spark listener names the Parquet it read, the SQL task's events the tables it wrote,
and the job's events name the Airflow task that submitted it as their parent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from telemetry import raw_layout

from .conftest import run_dag
from .test_batch_dags import hour_events, speed_saw

HOUR = dt.timedelta(hours=1)


def new_events(path: Path, offset: int) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        f.seek(offset)
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def lineage(base_day, land, pg, settings) -> dict:
    """The events one lambda_hourly run of an hour no other test uses appended, per side."""
    assert settings.lineage == "file"
    hour = base_day + 17 * HOUR
    events = hour_events(hour)
    land(events)
    speed_saw(pg, hour, hour + HOUR, events)
    files = {side: settings.lineage_dir / f"{side}.jsonl" for side in ("airflow", "spark")}
    offsets = {side: p.stat().st_size if p.exists() else 0 for side, p in files.items()}
    assert run_dag("lambda_hourly", hour, HOUR) == "success"
    return {"hour": hour, **{side: new_events(files[side], offsets[side]) for side in files}}


def datasets(events: list[dict], kind: str) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for e in events for d in e.get(kind, [])}


def test_the_sql_task_names_the_tables_it_wrote(lineage, settings):
    done = [
        e
        for e in lineage["airflow"]
        if e["job"]["name"] == "lambda_hourly.reconcile_hour" and e["eventType"] == "COMPLETE"
    ]
    assert done, sorted({e["job"]["name"] for e in lineage["airflow"]})
    outputs, inputs = datasets(done, "outputs"), datasets(done, "inputs")
    print(f"\nlineage of reconcile_hour: inputs {sorted(inputs)}, outputs {sorted(outputs)}")
    namespace = f"postgres://{settings.pg_host}:{settings.pg_port}"
    assert {ns for ns, _ in outputs | inputs} == {namespace}
    names = {name.rsplit(".", 1)[-1] for _, name in outputs}
    assert {"reconciliation", "serving_hours"} <= names, names
    # The parser (openlineage-sql 1.54) misses the tables read inside the INSERT's CTEs
    # (bytes_by_hour, bytes_hourly, quarantine): the inputs are what it names.
    assert "batch_hourly_stats" in {name.rsplit(".", 1)[-1] for _, name in inputs}, inputs


def test_the_spark_job_names_the_parquet_hours_it_read_and_its_airflow_parent(lineage, settings):
    """The dataset is the Parquet root (the listener folds year=/month=/day=/hour= directories
    into one dataset); which hours the job read is its input's `subset` facet."""
    spark = lineage["spark"]
    app = [e for e in spark if e["job"]["name"] == "batch_hourly"]
    assert app, sorted({e["job"]["name"] for e in spark})
    parents = {e["run"]["facets"].get("parent", {}).get("job", {}).get("name") for e in app}
    assert parents == {"lambda_hourly.compute_hour"}, parents
    raw = settings.raw_dir.removeprefix("file://").removeprefix("file:").rstrip("/")
    done = [e for e in spark if e["eventType"] == "COMPLETE" and e.get("inputs")]
    assert done, "no completed Spark job with inputs"
    read = [d for e in done for d in e["inputs"] if d["namespace"] == "file"]
    assert {d["name"] for d in read} == {raw}
    hour = lineage["hour"]
    hours = {
        location
        for d in read
        for location in d["inputFacets"]["subset"]["inputCondition"]["locations"]
    }
    assert hours == {raw_layout.hour_folder(raw, hour)}
    print(f"\nlineage of compute_hour's Spark job: inputs {sorted(datasets(done, 'inputs'))},"
          f" hours read {sorted(hours)}")  # fmt: skip
