#!/usr/bin/env bash
# Airflow 3 on this machine: start|stop|status. Metadata in the project's PostgreSQL (database
# LAMBDA_AIRFLOW_DB, its own role), LocalExecutor, api-server (UI) + scheduler + dag-processor,
# the SQL tasks' connection from the secrets backend's file (config.py, common.sh airflow_env).
# Needs PostgreSQL up (services.sh starts it first).
source "$(dirname "$0")/common.sh"
airflow_env
AIRFLOW="$VENV_AIRFLOW/bin/airflow"
PARTS=(api-server scheduler dag-processor)

start() {
  [ -x "$AIRFLOW" ] || die "Airflow environment missing: run include/scripts/setup.sh"
  log "migrating the Airflow metadata database ($LAMBDA_AIRFLOW_DB)"
  "$AIRFLOW" db migrate >>"$LOG_DIR/airflow-db.log" 2>&1 \
    || { tail -20 "$LOG_DIR/airflow-db.log"; die "airflow db migrate failed"; }
  port_in_use 127.0.0.1 "$LAMBDA_AIRFLOW_PORT" && ! pid_alive airflow-api-server \
    && die "port $LAMBDA_AIRFLOW_PORT is taken by another program; set LAMBDA_AIRFLOW_PORT"
  local part args logfile
  for part in "${PARTS[@]}"; do
    pid_alive "airflow-$part" && continue
    log "starting airflow $part"
    args=("$part")
    [ "$part" = api-server ] && args+=(--host 127.0.0.1 --port "$LAMBDA_AIRFLOW_PORT")
    # No log server: Airflow 3.3's listens on every interface (no host setting), and on one
    # machine the api-server reads the task logs from the shared log folder.
    [ "$part" = scheduler ] && args+=(--skip-serve-logs)
    # Supervised: the scheduler and the dag-processor exit when they lose the metadata
    # database (a PostgreSQL crash); they come back by themselves once it is up again.
    logfile="$LOG_DIR/airflow-$part.log"
    start_bg "airflow-$part" "$logfile" "$REPO/include/scripts/supervise.sh" "airflow-$part" \
      "$logfile" "" "$AIRFLOW" "${args[@]}"
  done
  wait_port 127.0.0.1 "$LAMBDA_AIRFLOW_PORT" 120 "the Airflow api-server"
}

stop() {
  for part in "${PARTS[@]}"; do
    pid_alive "airflow-$part" && log "stopping airflow $part"
    stop_supervised "airflow-$part" 30
  done
}

status() {
  local rc=0 part
  for part in "${PARTS[@]}"; do pid_alive "airflow-$part" || rc=1; done
  if [ $rc = 0 ] && curl -fsS "http://127.0.0.1:$LAMBDA_AIRFLOW_PORT/api/v2/monitor/health" >/dev/null 2>&1; then
    echo "airflow: up (http://127.0.0.1:$LAMBDA_AIRFLOW_PORT, user admin)"
  else
    echo "airflow: down"; rc=1
  fi
  for part in "${PARTS[@]}"; do
    pid_alive "airflow-$part" && echo "  $part$(supervised_status "airflow-$part")"
  done
  return $rc
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  cli) shift; exec "$AIRFLOW" "$@" ;;
  *) die "usage: airflow.sh start|stop|status|cli ARGS" ;;
esac
