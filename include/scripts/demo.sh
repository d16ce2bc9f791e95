#!/usr/bin/env bash
# `make demo`: set-up if needed, start everything, feed the simulator, show where to look, run
# until Ctrl-C, then stop what it started.
source "$(dirname "$0")/common.sh"
S="$REPO/include/scripts"
PSQL="env LAMBDA_PG_ROLE=reader bash include/scripts/postgres.sh psql"  # read-only role
reader_psql() { LAMBDA_PG_ROLE=reader bash "$S/postgres.sh" psql "$@"; }

cleanup() {
  log "stopping the demo"
  stop_pid simulator 20
  "$S/services.sh" down
}
trap cleanup EXIT
trap 'exit 0' INT TERM

"$S/services.sh" up
HISTORY_HOURS="${LAMBDA_DEMO_HISTORY_HOURS:-3}"
sent_at="$(date -u '+%Y-%m-%d %H:%M:%S+00')"
log "replaying the last $HISTORY_HOURS hours of history so the batch DAGs have data at once"
"$VENV_SPARK/bin/python" -m simulator --mode canonical --history-hours "$HISTORY_HOURS" \
  --count "${LAMBDA_DEMO_HISTORY_EVENTS:-20000}" --late-rate 0.01 --duplicate-rate 0.01 \
  --malformed-rate 0.005 --seed 42 2>>"$LOG_DIR/simulator.log"

# The scheduler runs lambda_hourly for the last complete hour by itself; the older replayed
# hours go through a backfill, once the speed layer has landed them. The live simulator starts
# after that: caught up is seen as no new micro-batch for a while, which live traffic prevents.
log "waiting for the speed layer to land the history"
for _ in $(seq 1 180); do
  idle="$(reader_psql -tA -c "SELECT updated_at > '$sent_at' AND now() - updated_at > interval '12 seconds' FROM speed_layer_progress WHERE query_name = 'speed_layer'" 2>/dev/null || true)"
  [ "$idle" = t ] && break
  sleep 1
done
log "starting the simulator (canonical mode: 20 users, 5 antennas, 5 apps)"
start_bg simulator "$LOG_DIR/simulator.log" "$VENV_SPARK/bin/python" -m simulator --mode canonical \
  --late-rate 0.01 --duplicate-rate 0.01 --malformed-rate 0.005
first="$(date -u -d "-$HISTORY_HOURS hours" +%Y-%m-%dT%H:00:00+00:00)"
last="$(date -u -d "-2 hours" +%Y-%m-%dT%H:00:00+00:00)"
log "backfilling lambda_hourly from $first to $last"
"$S/airflow.sh" cli backfill create --dag-id lambda_hourly --from-date "$first" --to-date "$last" \
  --reprocess-behavior completed >>"$LOG_DIR/airflow-backfill.log" 2>&1 \
  || log "the backfill request failed (see $LOG_DIR/airflow-backfill.log)"

log "waiting for the first rows in bytes (the speed layer's 5-minute windows)"
for _ in $(seq 1 120); do
  n="$(reader_psql -tA -c 'SELECT count(*) FROM bytes' 2>/dev/null || echo 0)"
  [ "${n:-0}" -gt 0 ] && break
  sleep 1
done
reader_psql -c \
  "SELECT timestamp, type, id, value FROM bytes ORDER BY timestamp DESC, type, value DESC LIMIT 10"

# The dashboard is healthy when its API answers an Airflow user (the password goes to curl on
# stdin, never on a command line).
log "waiting for the dashboard (Airflow plugin) to answer"
dashboard="down"
for _ in $(seq 1 60); do
  token="$(printf '{"username": "admin", "password": "%s"}' "$(cat "$LAMBDA_HOME/secrets/airflow_admin_password")" \
    | curl -fsS -X POST -H 'Content-Type: application/json' -d @- "http://127.0.0.1:$LAMBDA_AIRFLOW_PORT/auth/token" 2>/dev/null \
    | "$VENV_AIRFLOW/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null || true)"
  if [ -n "$token" ] && printf 'header = "Authorization: Bearer %s"\n' "$token" \
      | curl -fsS -K - -o /dev/null "http://127.0.0.1:$LAMBDA_AIRFLOW_PORT/telemetry/api/health"; then
    dashboard="up"; break
  fi
  sleep 2
done
[ "$dashboard" = up ] || log "warning: the dashboard does not answer (see $LOG_DIR/airflow-api-server.log)"

cat <<INFO

  The pipeline is running. Where to look:
    dashboard   http://127.0.0.1:$LAMBDA_AIRFLOW_PORT/plugin/telemetry  (inside the Airflow UI; log in first)
                the page alone, with its filters in the URL: http://127.0.0.1:$LAMBDA_AIRFLOW_PORT/telemetry/
                its JSON API: /telemetry/api/{traffic/antenna,traffic/app,traffic/user,quota,health}
    tables      bytes (speed), bytes_hourly, bytes_daily, user_quota_limit, serving_bytes_hourly,
                reconciliation, quarantine, speed_layer_progress
    psql        $PSQL -c 'SELECT * FROM bytes ORDER BY timestamp DESC LIMIT 20'
    or          PGPASSWORD=\$(cat $LAMBDA_HOME/secrets/pg_password_reader) psql -h $LAMBDA_PG_HOST -p $LAMBDA_PG_PORT -U ${LAMBDA_PG_USER}_reader $LAMBDA_PG_DB
    logs        $LOG_DIR/{speed_layer,simulator,kafka,postgres}.log
    raw events  $LAMBDA_RAW_DIR (Parquet, year=/month=/day=/hour=)
    metrics     speed layer http://$LAMBDA_METRICS_HOST:$LAMBDA_SPEED_METRICS_PORT/metrics
                batch layer http://$LAMBDA_METRICS_HOST:$LAMBDA_BATCH_METRICS_PORT/metrics
                Prometheus  http://$LAMBDA_METRICS_HOST:$LAMBDA_PROMETHEUS_PORT/alerts  (alert rules: include/prometheus/rules)
    alerts      Alertmanager http://$LAMBDA_METRICS_HOST:$LAMBDA_ALERTMANAGER_PORT  (routes: include/alertmanager/alertmanager.yml; to ${LAMBDA_ALERT_WEBHOOK_URL:+the webhook LAMBDA_ALERT_WEBHOOK_URL}${LAMBDA_ALERT_WEBHOOK_URL:-its UI only: set LAMBDA_ALERT_WEBHOOK_URL})
INFO
cat <<INFO
    Airflow UI  http://127.0.0.1:$LAMBDA_AIRFLOW_PORT  (user admin, password $(cat "$LAMBDA_HOME/secrets/airflow_admin_password"))
                read-only: user analyst, password $(cat "$LAMBDA_HOME/secrets/airflow_analyst_password") (no quarantined payloads)
                lambda_hourly: the last complete hour (scheduled) and the replayed hours (backfill)
    batch       $PSQL -c 'SELECT * FROM reconciliation ORDER BY timestamp DESC LIMIT 12'
INFO
echo "  Ctrl-C stops everything this command started."
while true; do
  sleep 30
  pid_alive speed_layer || die "the speed layer stopped: see $LOG_DIR/speed_layer.log"
  log "$(reader_psql -tA -c "SELECT 'speed: latest window ' || max(timestamp) || '; batch: ' || (SELECT count(*) FROM serving_hours) || ' hours published' FROM bytes")"
done
