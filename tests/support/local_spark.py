"""The tests' SparkSession: production's (telemetry.session.builder) on two local cores, bound
to loopback, without its UI, so a setting cannot differ between what is tested and what runs."""

from __future__ import annotations

import os
import sys

from telemetry import config, session, submit_args


def local_session(settings: config.Settings, app: str, confs: dict[str, str] | None = None):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = session.builder(app, settings).master("local[2]")
    local = {
        **submit_args.driver_java_options(settings),  # a faster start
        "spark.ui.enabled": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }
    for key, value in {**local, **(confs or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
