"""Removing a storage location given as a bare path or a Hadoop URI (the operator's
`speed_layer.sh forget-offsets` drops the speed layer's checkpoint with it).

``python -m telemetry.remove_location remove URI``: a local path is removed directly; any
other scheme (hdfs://, s3a://) through Hadoop's FileSystem in a short local Spark session, so
whatever file systems the Spark side can write, this can remove.
"""

from __future__ import annotations

import shutil
import sys

from telemetry import config


def remove(uri: str) -> bool:
    """Delete ``uri`` recursively; False when there was nothing there."""
    if config.is_local(uri):
        path = config.local_path(uri)
        if not path.exists():
            return False
        shutil.rmtree(path)
        return True
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("telemetry-remove-location")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        jvm = spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(uri)
        fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        return bool(fs.delete(path, True))
    finally:
        spark.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "remove":
        sys.exit("usage: python -m telemetry.remove_location remove URI")
    removed = remove(sys.argv[2])
    print(f"{'removed' if removed else 'nothing at'} {sys.argv[2]}")
