#!/usr/bin/env bash
# The speed layer as a background service: start|stop|status.
source "$(dirname "$0")/common.sh"
SPEED_LOG="$LOG_DIR/speed_layer.log"

case "${1:-}" in
  start)
    if pid_alive speed_layer; then echo "speed layer already running"; exit 0; fi
    log "starting the speed layer (log: $SPEED_LOG)"
    start_bg speed_layer "$SPEED_LOG" "$REPO/include/scripts/spark_submit.sh" spark_apps/speed_layer.py
    # Preflight failures end the app within seconds; report them instead of a silent failure.
    for _ in $(seq 1 40); do
      pid_alive speed_layer || { tail -5 "$SPEED_LOG"; die "the speed layer exited at start"; }
      grep -q "query .* started" "$SPEED_LOG" 2>/dev/null && break
      sleep 1
    done
    ;;
  stop) pid_alive speed_layer && log "stopping the speed layer"; stop_pid speed_layer 60 ;;
  status)
    if pid_alive speed_layer; then echo "speed layer: running (pid $(cat "$RUN_DIR/speed_layer.pid"))"
    else echo "speed layer: stopped"; exit 1; fi ;;
  *) die "usage: speed_layer.sh start|stop|status" ;;
esac
