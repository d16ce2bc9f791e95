#!/usr/bin/env bash
# The batch layer's Prometheus exporter (telemetry.batch_metrics) as a background service:
# start|stop|status. It reads the tables when scraped; PostgreSQL must be up.
source "$(dirname "$0")/common.sh"
URL="http://$LAMBDA_METRICS_HOST:$LAMBDA_BATCH_METRICS_PORT/metrics"

case "${1:-}" in
  start)
    [ "$LAMBDA_BATCH_METRICS_PORT" != 0 ] || { log "batch metrics off (LAMBDA_BATCH_METRICS_PORT=0)"; exit 0; }
    pid_alive batch_metrics && { echo "batch metrics already running"; exit 0; }
    port_in_use "$LAMBDA_METRICS_HOST" "$LAMBDA_BATCH_METRICS_PORT" \
      && die "port $LAMBDA_BATCH_METRICS_PORT is taken by another program; set LAMBDA_BATCH_METRICS_PORT"
    log "starting the batch layer's metrics exporter ($URL)"
    start_bg batch_metrics "$LOG_DIR/batch_metrics.log" "$VENV_SPARK/bin/python" -m telemetry.batch_metrics
    wait_port "$LAMBDA_METRICS_HOST" "$LAMBDA_BATCH_METRICS_PORT" 30 "the batch metrics exporter"
    ;;
  stop) stop_pid batch_metrics 10 ;;
  status)
    if [ "$LAMBDA_BATCH_METRICS_PORT" = 0 ]; then echo "batch metrics: off"
    elif pid_alive batch_metrics; then echo "batch metrics: up ($URL)"
    else echo "batch metrics: down"; exit 1
    fi ;;
  *) die "usage: batch_metrics.sh start|stop|status" ;;
esac
