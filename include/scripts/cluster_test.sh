#!/usr/bin/env bash
# `make cluster-test`: the product on a cluster, all on loopback: a Spark standalone master and
# two one-core workers, a 3-broker KRaft Kafka (replication 3, min.insync.replicas 2), HDFS (a
# NameNode and a DataNode) holding the Parquet dataset and the checkpoints, PostgreSQL and
# Airflow; then tests/cluster (a broker and a worker killed mid-stream), and everything stopped.
# Its own ports and state folder: a running `make up` or `make test` is not disturbed.
# `cluster_test.sh versions` prints what it runs.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/include/scripts/run_profile.sh"
run_profile cluster 37 37432
export LAMBDA_KAFKA_BROKERS=3
# Kafka brokers 2 and 3 listen on LAMBDA_KAFKA_PORT + 10 and + 20.
export LAMBDA_KAFKA_HEAP="${LAMBDA_KAFKA_HEAP:-384m}"
export LAMBDA_SPARK_MASTER_PORT="${LAMBDA_CLUSTER_SPARK_PORT:-37077}"
export LAMBDA_SPARK_MASTER_UI_PORT="${LAMBDA_CLUSTER_SPARK_UI_PORT:-37180}"
export LAMBDA_SPARK_WORKER_UI_PORT="${LAMBDA_CLUSTER_SPARK_WORKER_UI_PORT:-37181}"
export LAMBDA_HDFS_NAMENODE_PORT="${LAMBDA_CLUSTER_HDFS_PORT:-37020}"
export LAMBDA_HDFS_NAMENODE_HTTP_PORT="${LAMBDA_CLUSTER_HDFS_HTTP_PORT:-37870}"
export LAMBDA_HDFS_DATANODE_PORT="${LAMBDA_CLUSTER_HDFS_DATANODE_PORT:-37866}"
export LAMBDA_HDFS_DATANODE_HTTP_PORT="${LAMBDA_CLUSTER_HDFS_DATANODE_HTTP_PORT:-37864}"
export LAMBDA_HDFS_DATANODE_IPC_PORT="${LAMBDA_CLUSTER_HDFS_DATANODE_IPC_PORT:-37867}"
export LAMBDA_SPARK_MASTER="spark://127.0.0.1:$LAMBDA_SPARK_MASTER_PORT"
export LAMBDA_RAW_DIR="hdfs://127.0.0.1:$LAMBDA_HDFS_NAMENODE_PORT/telemetry/raw"
export LAMBDA_CHECKPOINT_DIR="hdfs://127.0.0.1:$LAMBDA_HDFS_NAMENODE_PORT/telemetry/checkpoints"
# Executors get what a one-core worker of 1 GiB can hold; the driver stays small too.
export LAMBDA_SPARK_WORKER_MEMORY="${LAMBDA_SPARK_WORKER_MEMORY:-1g}"
export LAMBDA_SPARK_EXECUTOR_MEMORY="${LAMBDA_SPARK_EXECUTOR_MEMORY:-768m}"
export LAMBDA_TRIGGER="${LAMBDA_TRIGGER:-1 second}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False
export LAMBDA_TASK_RETRY_DELAY_SECONDS="${LAMBDA_TASK_RETRY_DELAY_SECONDS:-5}"
S="$REPO/include/scripts"

if [ "${1:-}" = versions ]; then
  source "$S/common.sh"
  kafka="$(ls "$LAMBDA_TOOLS_DIR/jars/kafka" | sed -n 's/^kafka_2\.13-\(.*\)\.jar$/\1/p' | head -1)"
  hadoop="$(ls "$LAMBDA_TOOLS_DIR/jars/hdfs" | sed -n 's/^hadoop-hdfs-\([0-9.]*\)\.jar$/\1/p' | head -1)"
  spark="$("$VENV_SPARK/bin/python" -c 'import pyspark; print(pyspark.__version__)')"
  echo "Kafka $kafka (3 brokers, KRaft), Hadoop HDFS $hadoop, Spark $spark (standalone, 2 workers)"
  exit 0
fi

"$S/setup.sh" all
"$S/setup.sh" cluster
"$S/services.sh" down >/dev/null 2>&1 || true
"$S/spark_cluster.sh" stop >/dev/null 2>&1 || true
"$S/hdfs.sh" stop >/dev/null 2>&1 || true
"$S/postgres.sh" destroy >/dev/null 2>&1 || true
rm -rf "$LAMBDA_HOME"
source "$S/common.sh"
cleanup() {
  "$S/services.sh" down || true
  "$S/spark_cluster.sh" stop || true
  "$S/hdfs.sh" stop || true
}
trap cleanup EXIT
"$S/postgres.sh" start
"$S/kafka.sh" start
"$S/hdfs.sh" start
"$S/spark_cluster.sh" start
"$S/airflow.sh" start
airflow_env
log "cluster run: $LAMBDA_SPARK_MASTER, Kafka $LAMBDA_KAFKA_BOOTSTRAP, $LAMBDA_RAW_DIR"
cd "$REPO"
"$VENV_SPARK/bin/python" -m pytest tests/cluster -s "$@"
