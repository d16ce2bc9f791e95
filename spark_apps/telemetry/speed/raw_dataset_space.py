"""How full the Parquet dataset's file system is, for lambda_raw_storage_* (the disk alert):
Hadoop's FileSystem.getStatus, so a local disk, HDFS (the cluster's remaining space) and any
other Hadoop file system answer the same way."""

from __future__ import annotations

import os
import threading

from pyspark.sql import SparkSession

from telemetry import config, logs, raw_store
from telemetry.speed.metrics import SpeedMetrics

REFRESH_SECONDS = 30.0

log = logs.get("speed-layer")


def status(spark: SparkSession, root: str) -> tuple[int, int]:
    """(free bytes, capacity bytes) of the file system holding ``root``, asked of its nearest
    existing folder. A local disk answers with what an unprivileged writer may still use
    (statvfs f_bavail: Hadoop's local getStatus counts root's reserved blocks as free)."""
    if config.is_local(root):
        path = config.local_path(root)
        while not path.exists() and path != path.parent:
            path = path.parent
        disk = os.statvfs(path)
        return disk.f_bavail * disk.f_frsize, disk.f_blocks * disk.f_frsize
    fs, jvm = raw_store.filesystem(spark, root)
    hpath = jvm.org.apache.hadoop.fs.Path(root)
    while not fs.exists(hpath) and hpath.getParent() is not None:
        hpath = hpath.getParent()
    st = fs.getStatus(hpath)
    return int(st.getRemaining()), int(st.getCapacity())


def watch(spark: SparkSession, root: str, metrics: SpeedMetrics) -> threading.Event:
    """Refresh the gauges every REFRESH_SECONDS on a daemon thread (idle streams included);
    set the returned event to stop. A failed look only warns: it never touches the stream."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                metrics.storage(*status(spark, root))
            except Exception as exc:  # noqa: BLE001 (py4j raises many kinds)
                log.warning(f"raw storage status: {exc}")
            if stop.wait(REFRESH_SECONDS):
                return

    threading.Thread(target=loop, name="raw-storage-status", daemon=True).start()
    return stop
