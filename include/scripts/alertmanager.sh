#!/usr/bin/env bash
# Alertmanager on this machine: start|stop|status|check. Prometheus (prometheus.sh) sends it the
# firing alerts; it groups, inhibits and routes them (include/alertmanager/alertmanager.yml) to
# the webhook LAMBDA_ALERT_WEBHOOK_URL. Its configuration is generated at each start from that
# file and the settings; `check` validates it with amtool (make test runs it).
source "$(dirname "$0")/common.sh"
AM_DIR="$LAMBDA_HOME/alertmanager"
AM_CONFIG="$AM_DIR/alertmanager.yml"
AM_LOG="$LOG_DIR/alertmanager.log"
TEMPLATE="$REPO/include/alertmanager/alertmanager.yml"
HOST="$LAMBDA_METRICS_HOST"
PORT="$LAMBDA_ALERTMANAGER_PORT"
URL="http://$HOST:$PORT"
# How long a new group waits for more alerts before its first notice, and between notices of
# a changed group (tests shorten them).
GROUP_WAIT="${LAMBDA_ALERT_GROUP_WAIT:-30s}"
GROUP_INTERVAL="${LAMBDA_ALERT_GROUP_INTERVAL:-5m}"

# write_config FILE: the template with the settings in; checked by amtool.
write_config() {
  local out="$1" webhook="${LAMBDA_ALERT_WEBHOOK_URL:-}" receiver=webhook
  if [ -z "$webhook" ]; then receiver=ui-only; webhook="http://127.0.0.1:9/unused"; fi
  mkdir -p "$(dirname "$out")"
  # The URL may hold a token: the file is the owner's only. Python fills it in (sed would
  # read a URL's & or | as its own syntax).
  (umask 077 && RECEIVER="$receiver" WEBHOOK_URL="$webhook" GROUP_WAIT="$GROUP_WAIT" \
    GROUP_INTERVAL="$GROUP_INTERVAL" "$PYTHON_BOOT" -c '
import os, sys
text = open(sys.argv[1]).read()
for name in ("RECEIVER", "WEBHOOK_URL", "GROUP_WAIT", "GROUP_INTERVAL"):
    text = text.replace(f"@{name}@", os.environ[name])
sys.stdout.write(text)' "$TEMPLATE" > "$out")
  local result
  result="$("$AMTOOL" check-config "$out" 2>&1)" || { echo "$result" >&2; die "invalid $out"; }
}

ready() { curl -fsS "$URL/-/ready" >/dev/null 2>&1; }

start() {
  [ -x "$ALERTMANAGER" ] || die "Alertmanager missing: run include/scripts/setup.sh prometheus"
  if pid_alive alertmanager; then echo "alertmanager already running ($URL)"; return 0; fi
  port_in_use "$HOST" "$PORT" && die "port $PORT is taken by another program; set LAMBDA_ALERTMANAGER_PORT"
  write_config "$AM_CONFIG"
  [ -n "${LAMBDA_ALERT_WEBHOOK_URL:-}" ] \
    || log "no LAMBDA_ALERT_WEBHOOK_URL: alerts are listed in Alertmanager's UI only"
  log "starting Alertmanager on $URL (config: $AM_CONFIG, log: $AM_LOG)"
  # One instance: no cluster port (its gossip listens on every interface by default).
  start_ready alertmanager Alertmanager "$AM_LOG" "$URL/-/ready" 30 "$ALERTMANAGER" \
    --config.file="$AM_CONFIG" --storage.path="$AM_DIR/data" \
    --web.listen-address="$HOST:$PORT" --web.external-url="$URL" --cluster.listen-address=
}

stop() {
  pid_alive alertmanager && log "stopping Alertmanager"
  stop_pid alertmanager 30
}

status() {
  if pid_alive alertmanager && ready; then
    echo "alertmanager: up ($URL, pid $(cat "$RUN_DIR/alertmanager.pid"))"
  else
    echo "alertmanager: down ($URL)"; return 1
  fi
}

check() {
  local tmp; tmp="$(mktemp -d)"
  write_config "$tmp/alertmanager.yml"
  local routed
  routed="$("$AMTOOL" config routes test --config.file="$tmp/alertmanager.yml" severity=page 2>/dev/null)"
  [ "$routed" = ui-only ] || [ "$routed" = webhook ] || die "a page is routed to '$routed'"
  rm -rf "$tmp"
  echo "alertmanager config: ok ($TEMPLATE)"
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; check) check ;;
  *) die "usage: alertmanager.sh start|stop|status|check" ;;
esac
