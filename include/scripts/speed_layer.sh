#!/usr/bin/env bash
# The speed layer as a background service: start|stop|status. `start` runs it under
# supervise.sh, which restarts it when it exits without being asked to (make status shows the
# restarts and the last error); a configuration error on the very first start is not retried.
source "$(dirname "$0")/common.sh"
SPEED_LOG="$LOG_DIR/speed_layer.log"
STARTED_LINE="query speed_layer started"

case "${1:-}" in
  start)
    if pid_alive speed_layer; then echo "speed layer already running"; exit 0; fi
    log "starting the speed layer (log: $SPEED_LOG)"
    touch "$SPEED_LOG"
    offset="$(stat -c %s "$SPEED_LOG")"
    start_bg speed_layer "$SPEED_LOG" "$REPO/include/scripts/supervise.sh" speed_layer \
      "$SPEED_LOG" "$STARTED_LINE" "$REPO/include/scripts/spark_submit.sh" spark_apps/speed_layer.py
    # Preflight failures end the app within seconds; report them instead of a silent failure.
    for _ in $(seq 1 60); do
      pid_alive speed_layer || { tail -5 "$SPEED_LOG"; die "the speed layer exited at start"; }
      grep -qF "$STARTED_LINE" <(tail -c "+$((offset + 1))" "$SPEED_LOG") && break
      sleep 1
    done
    ;;
  stop) pid_alive speed_layer && log "stopping the speed layer"; stop_supervised speed_layer 60 ;;
  status)
    metrics=""
    [ "$LAMBDA_SPEED_METRICS_PORT" = 0 ] \
      || metrics=", metrics http://$LAMBDA_METRICS_HOST:$LAMBDA_SPEED_METRICS_PORT/metrics"
    if pid_alive speed_layer; then echo "speed layer: running$(supervised_status speed_layer)$metrics"
    else
      echo "speed layer: stopped$(sed -n 's/^last_exit=3$/ (it needs a person: see its log)/p' \
        "$RUN_DIR/speed_layer.state" 2>/dev/null)"
      exit 1
    fi ;;
  forget-offsets)  # after a deliberate topic recreation: start again from the new topic
    pid_alive speed_layer && die "stop the speed layer first (speed_layer.sh stop)"
    LAMBDA_PG_ROLE=owner "$VENV_SPARK/bin/python" -m telemetry.kafka_offsets forget
    # A bare path or a Hadoop URI (hdfs://, s3a://): removed through Hadoop's FileSystem.
    "$VENV_SPARK/bin/python" -m telemetry.remove_location remove "$LAMBDA_CHECKPOINT_DIR/speed_layer"
    ;;
  *) die "usage: speed_layer.sh start|stop|status|forget-offsets" ;;
esac
