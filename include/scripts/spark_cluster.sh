#!/usr/bin/env bash
# A Spark standalone cluster from the installed pyspark, on loopback: a master and
# LAMBDA_SPARK_WORKERS workers of LAMBDA_SPARK_WORKER_CORES cores each (make cluster-test).
# start|stop|status|kill-worker I|start-worker I. Apps reach it as LAMBDA_SPARK_MASTER=spark://...
source "$(dirname "$0")/common.sh"

eval "$("$VENV_SPARK/bin/python" -m telemetry.submit_args spark-env)"  # SPARK_HOME: pyspark's
SPARK_CLASS="$SPARK_HOME/bin/spark-class"
CLUSTER_DIR="$LAMBDA_HOME/spark-cluster"
MASTER_URL="spark://127.0.0.1:$LAMBDA_SPARK_MASTER_PORT"
# The daemons themselves are small; executors get the worker's memory.
export SPARK_DAEMON_MEMORY="${SPARK_DAEMON_MEMORY:-256m}"
export SPARK_LOG_DIR="$LOG_DIR" SPARK_PID_DIR="$RUN_DIR"

worker_ui_port() { echo $((LAMBDA_SPARK_WORKER_UI_PORT + $1 - 1)); }

start_master() {
  pid_alive spark-master && return 0
  port_in_use 127.0.0.1 "$LAMBDA_SPARK_MASTER_PORT" \
    && die "port $LAMBDA_SPARK_MASTER_PORT is taken; set LAMBDA_SPARK_MASTER_PORT"
  log "starting the Spark master on $MASTER_URL (UI http://127.0.0.1:$LAMBDA_SPARK_MASTER_UI_PORT)"
  start_bg spark-master "$LOG_DIR/spark-master.log" "$SPARK_CLASS" \
    org.apache.spark.deploy.master.Master --host 127.0.0.1 \
    --port "$LAMBDA_SPARK_MASTER_PORT" --webui-port "$LAMBDA_SPARK_MASTER_UI_PORT"
  wait_port 127.0.0.1 "$LAMBDA_SPARK_MASTER_PORT" 60 "the Spark master"
}

start_worker() {
  local i="$1" ui
  pid_alive "spark-worker-$i" && return 0
  ui="$(worker_ui_port "$i")"
  mkdir -p "$CLUSTER_DIR/worker-$i"
  log "starting Spark worker $i ($LAMBDA_SPARK_WORKER_CORES core(s), $LAMBDA_SPARK_WORKER_MEMORY; UI http://127.0.0.1:$ui)"
  start_bg "spark-worker-$i" "$LOG_DIR/spark-worker-$i.log" "$SPARK_CLASS" \
    org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --webui-port "$ui" \
    --cores "$LAMBDA_SPARK_WORKER_CORES" --memory "$LAMBDA_SPARK_WORKER_MEMORY" \
    --work-dir "$CLUSTER_DIR/worker-$i" "$MASTER_URL"
  wait_port 127.0.0.1 "$ui" 60 "Spark worker $i"
}

# alive_workers: workers the master lists as ALIVE (its JSON API).
alive_workers() {
  "$PYTHON_BOOT" - "$LAMBDA_SPARK_MASTER_UI_PORT" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=3) as r:
        print(sum(w["state"] == "ALIVE" for w in json.load(r)["workers"]))
except OSError:
    print(0)
PY
}

wait_workers() {
  local want="$1" i
  for ((i = 0; i < 120; i++)); do
    [ "$(alive_workers)" -ge "$want" ] && return 0
    sleep 0.5
  done
  die "the Spark master does not list $want live workers (see $LOG_DIR/spark-*.log)"
}

start() {
  start_master
  for ((i = 1; i <= LAMBDA_SPARK_WORKERS; i++)); do start_worker "$i"; done
  wait_workers "$LAMBDA_SPARK_WORKERS"
}

stop() {
  for ((i = 1; i <= LAMBDA_SPARK_WORKERS; i++)); do stop_pid "spark-worker-$i" 30; done
  stop_pid spark-master 30
}

status() {
  if pid_alive spark-master; then
    echo "spark cluster: up ($MASTER_URL, $(alive_workers) live workers, UI http://127.0.0.1:$LAMBDA_SPARK_MASTER_UI_PORT)"
  else
    echo "spark cluster: down"; return 1
  fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  # A worker lost as a machine would be: kill -9 of its JVM group (executors included).
  kill-worker) kill -KILL -- "-$(cat "$RUN_DIR/spark-worker-$2.pid")"; rm -f "$RUN_DIR/spark-worker-$2.pid" ;;
  start-worker) start_worker "$2" ;;
  *) die "usage: spark_cluster.sh start|stop|status|kill-worker I|start-worker I" ;;
esac
