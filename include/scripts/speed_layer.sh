#!/usr/bin/env bash
# The speed layer as a background service: start|stop|status.
#
# `start` runs a supervisor (this script's `supervise` verb) in its own session. It starts the
# app (spark_submit.sh, in a process group of its own) and, when the app exits without being
# asked to, cleans up what is left of that group and starts it again, with a backoff of 2 s
# doubling to 60 s (back to 2 s once a run lasted 2 minutes). Restarts and the last error are
# kept in $RUN_DIR/speed_layer.state for `status`. A configuration error on the very first
# start (exit 2 before any query ran) is not retried: it needs a person.
source "$(dirname "$0")/common.sh"
SPEED_LOG="$LOG_DIR/speed_layer.log"
STATE="$RUN_DIR/speed_layer.state"
APP_PID="$RUN_DIR/speed_layer_app.pid"
STARTED_LINE="query raw_and_quarantine started"

write_state() {  # restarts last_exit last_error
  local tmp="$STATE.tmp"
  printf 'restarts=%s\nlast_exit=%s\nlast_exit_at=%s\nlast_error=%s\n' \
    "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$3" > "$tmp"
  mv "$tmp" "$STATE"
}

log_since() { tail -c "+$(($1 + 1))" "$SPEED_LOG" 2>/dev/null || true; }
# The app reached its streaming queries after byte offset $1 of the log.
started_since() { grep -q "$STARTED_LINE" <(log_since "$1"); }
# The last line of the app's log after byte offset $1 that names an error.
last_error() { log_since "$1" | grep -E 'error|Error|Exception' | tail -1 | cut -c1-300 || true; }
state_get() { sed -n "s/^$1=//p" "$STATE" 2>/dev/null || true; }

supervise() {
  local child="" stopping=0 restarts=0 delay=2 began offset rc ever_started=0
  trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
  write_state 0 "" ""
  while true; do
    began=$SECONDS
    offset="$(stat -c %s "$SPEED_LOG" 2>/dev/null || echo 0)"
    setsid "$REPO/include/scripts/spark_submit.sh" spark_apps/speed_layer.py < /dev/null &
    child=$!
    echo "$child" > "$APP_PID"
    rc=0
    while true; do  # a trapped signal interrupts wait: wait again until the app is gone
      if wait "$child"; then rc=0; else rc=$?; fi
      kill -0 "$child" 2>/dev/null || break
    done
    # What a killed JVM leaves behind (its Python driver) goes with the app's group.
    kill -KILL -- "-$child" 2>/dev/null || true
    child=""
    rm -f "$APP_PID"
    [ "$stopping" = 1 ] && exit "$rc"
    started_since "$offset" && ever_started=1
    if [ "$rc" = 2 ] && [ "$ever_started" = 0 ]; then
      log "the speed layer refused to start (exit 2): not restarting"
      exit 2
    fi
    restarts=$((restarts + 1))
    if ((rc > 128)); then
      write_state "$restarts" "$rc" "killed by signal $((rc - 128))"
    else
      write_state "$restarts" "$rc" "$(last_error "$offset")"
    fi
    if ((SECONDS - began >= 120)); then delay=2; fi
    log "speed layer exited with $rc; restart $restarts in ${delay}s"
    sleep "$delay" &
    wait $! || true
    [ "$stopping" = 1 ] && exit 0
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

status() {
  if ! pid_alive speed_layer; then echo "speed layer: stopped"; return 1; fi
  local restarts app=""
  restarts="$(state_get restarts)"
  [ -f "$APP_PID" ] && app=", app pid $(cat "$APP_PID")"
  echo "speed layer: running (supervisor pid $(cat "$RUN_DIR/speed_layer.pid")$app), restarts: ${restarts:-0}"
  if [ "${restarts:-0}" -gt 0 ]; then
    echo "  last exit: $(state_get last_exit) at $(state_get last_exit_at): $(state_get last_error)"
  fi
}

case "${1:-}" in
  start)
    if pid_alive speed_layer; then echo "speed layer already running"; exit 0; fi
    log "starting the speed layer (log: $SPEED_LOG)"
    touch "$SPEED_LOG"
    offset="$(stat -c %s "$SPEED_LOG")"
    start_bg speed_layer "$SPEED_LOG" "$0" supervise
    # Preflight failures end the app within seconds; report them instead of a silent failure.
    for _ in $(seq 1 60); do
      pid_alive speed_layer || { tail -5 "$SPEED_LOG"; die "the speed layer exited at start"; }
      started_since "$offset" && break
      sleep 1
    done
    ;;
  supervise) supervise ;;
  stop)
    pid_alive speed_layer && log "stopping the speed layer"
    stop_pid speed_layer 60
    # A supervisor killed after the grace period leaves its app's process group: end it too.
    [ -f "$APP_PID" ] && { kill -KILL -- "-$(cat "$APP_PID")" 2>/dev/null || true; rm -f "$APP_PID"; }
    ;;
  status) status ;;
  *) die "usage: speed_layer.sh start|stop|status" ;;
esac
