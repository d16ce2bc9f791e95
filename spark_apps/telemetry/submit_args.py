"""What every spark-submit of the project passes: jars, Python interpreter, confs.

Shared by include/scripts/spark_submit.sh and the DAGs' SparkSubmitOperator, so both submit the
same way. Imports no pyspark (the Airflow environment imports it too).
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import zipfile
from pathlib import Path

from telemetry import config


def spark_python(settings: config.Settings) -> str:
    return str(settings.spark_venv / "bin" / "python")


def jars(settings: config.Settings) -> str:
    """Comma-separated jar paths (Kafka source, its client, the JDBC driver)."""
    return ",".join(sorted(str(p) for p in (settings.jars_dir / "spark").glob("*.jar")))


def cds_archive(settings: config.Settings) -> Path:
    """The driver's class-data-sharing archive, written by setup.sh (cds_training.py)."""
    return settings.tools_dir / "jvm" / "spark-cds.jsa"


def driver_java_options(settings: config.Settings) -> dict[str, str]:
    """The driver JVM's start from the archive; nothing when there is none (the images, or
    before set-up): the JVM then loads its classes itself."""
    archive = cds_archive(settings)
    if not archive.is_file():
        return {}
    return {"spark.driver.extraJavaOptions": f"-XX:SharedArchiveFile={archive}"}


def confs(settings: config.Settings) -> dict[str, str]:
    return {
        # Executors run the interpreter of their own machines (LAMBDA_EXECUTOR_PYTHON); the
        # driver runs where the submit happens, in the Spark side's environment.
        "spark.pyspark.python": settings.executor_python or spark_python(settings),
        "spark.pyspark.driver.python": spark_python(settings),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.ui.enabled": str(settings.spark_ui).lower(),
        "spark.sql.session.timeZone": "UTC",
        **driver_java_options(settings),
        **(spark_prometheus() if settings.spark_ui else {}),
    }


def spark_prometheus() -> dict[str, str]:
    """Spark's own metrics in Prometheus' format on the driver's UI (docs/operations.md):
    /metrics/prometheus/ (driver, streaming query) and /metrics/executors/prometheus/."""
    sink = "spark.metrics.conf.*.sink.prometheusServlet"
    return {
        "spark.ui.prometheus.enabled": "true",
        f"{sink}.class": "org.apache.spark.metrics.sink.PrometheusServlet",
        f"{sink}.path": "/metrics/prometheus",
        "spark.sql.streaming.metricsEnabled": "true",
    }


def py_files(settings: config.Settings) -> str:
    """Zip the telemetry package for executors on a cluster (rebuilt on every call: tiny).
    Written aside and renamed: tasks submitting at once never ship a half-written zip."""
    target = settings.home / "dist" / "telemetry.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    package = Path(__file__).resolve().parent
    partial = target.with_name(f".telemetry-{os.getpid()}-{threading.get_ident()}.zip")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for source in sorted(package.rglob("*.py")):
            zf.write(source, f"telemetry/{source.relative_to(package).as_posix()}")
    os.replace(partial, target)
    return str(target)


def spark_env(settings: config.Settings) -> dict[str, str]:
    """SPARK_HOME and the Python of the Spark side, for spark-submit launched from anywhere."""
    env = {"PYSPARK_PYTHON": spark_python(settings)}
    lib = next((settings.spark_venv / "lib").glob("python3*/site-packages/pyspark"), None)
    if lib is not None:
        env["SPARK_HOME"] = str(lib)
    return env


if __name__ == "__main__":
    cfg = config.load()
    if sys.argv[1:] == ["spark-env"]:  # only what another Python's process needs to submit
        for name, value in spark_env(cfg).items():
            print(f"export {name}={shlex.quote(value)}")
        sys.exit(0)
    if sys.argv[1:] != ["shell"]:
        sys.exit("usage: python -m telemetry.submit_args shell|spark-env")
    conf_args = " ".join(f"--conf {shlex.quote(f'{k}={v}')}" for k, v in confs(cfg).items())
    print(f"SUBMIT_JARS={shlex.quote(jars(cfg))}")
    print(f"SUBMIT_PY_FILES={shlex.quote(py_files(cfg))}")
    print(f"SUBMIT_CONFS={shlex.quote(conf_args)}")
    for name, value in spark_env(cfg).items():
        print(f"export {name}={shlex.quote(value)}")
