"""The batch jobs' OpenLineage listener (openlineage-spark): which Parquet hours a job read and
which tables it wrote, sent where LAMBDA_LINEAGE says, like the Airflow side's events
(settings_derived.DerivedSettings._lineage_env). The speed layer runs without it: the listener
would emit an event per micro-batch, every second, for a lineage that never changes."""

from __future__ import annotations

from telemetry import config

LISTENER = "io.openlineage.spark.agent.OpenLineageSparkListener"


def jars(settings: config.Settings) -> list[str]:
    """The listener's jar (set-up's `fetch_jars lineage`); none when lineage is off."""
    if settings.lineage == "off":
        return []
    return sorted(str(p) for p in (settings.jars_dir / "lineage").glob("*.jar"))


def spark_confs(settings: config.Settings) -> dict[str, str]:
    """spark-submit confs that load the listener with the LAMBDA_LINEAGE transport."""
    if settings.lineage == "off":
        return {}
    if settings.lineage == "file":
        settings.lineage_dir.mkdir(parents=True, exist_ok=True)
        transport = {"type": "file", "location": str(settings.lineage_dir / "spark.jsonl")}
    elif settings.lineage == "console":
        transport = {"type": "console"}
    else:
        transport = {"type": "http", "url": settings.lineage}
    return {
        "spark.extraListeners": LISTENER,
        "spark.openlineage.namespace": config.LINEAGE_NAMESPACE,
        **{f"spark.openlineage.transport.{k}": v for k, v in transport.items()},
    }
