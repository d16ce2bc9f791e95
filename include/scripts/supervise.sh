#!/usr/bin/env bash
# supervise.sh NAME LOGFILE STARTED_LINE CMD...: keep a long-running service up.
#
# Runs CMD in a process group of its own and, when it exits without being asked to, ends what
# is left of that group and starts it again, with a backoff of 2 s doubling to 60 s (back to
# 2 s once a run lasted 2 minutes). SIGTERM/SIGINT go to CMD and end the supervisor once CMD
# has exited. Restarts and the last error are kept in $RUN_DIR/NAME.state (`make status`
# shows them), CMD's pid in $RUN_DIR/NAME_app.pid. If STARTED_LINE is not empty, exit code 2
# before that line ever appeared in LOGFILE is a refusal to start (bad configuration): it is
# not retried, it needs a person; so is exit code 3 at any time (the app found a state that a
# restart would meet again, such as Kafka offsets that went backwards).
source "$(dirname "$0")/common.sh"
name="$1" logfile="$2" started_line="$3"
shift 3
state="$RUN_DIR/$name.state"
app_pid="$RUN_DIR/${name}_app.pid"

write_state() {  # restarts last_exit last_error
  printf 'restarts=%s\nlast_exit=%s\nlast_exit_at=%s\nlast_error=%s\n' \
    "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$3" > "$state.tmp"
  mv "$state.tmp" "$state"
}
log_since() { tail -c "+$(($1 + 1))" "$logfile" 2>/dev/null || true; }
started_since() { [ -z "$started_line" ] || grep -qF "$started_line" <(log_since "$1"); }
# The last line that names an error ("...Error: ...", "error: ...", "...Exception: ...").
last_error() {
  log_since "$1" | grep -E '(Error|Exception|error)(:| \()' | grep -v 'Background on this error' \
    | tail -1 | cut -c1-300 || true
}

child="" stopping=0 restarts=0 delay=2 ever_started=0
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
write_state 0 "" ""
while true; do
  began=$SECONDS
  offset="$(stat -c %s "$logfile" 2>/dev/null || echo 0)"
  # The app exposes its restarts (lambda_speed_restarts_total): it cannot count them itself.
  LAMBDA_SUPERVISOR_RESTARTS="$restarts" setsid "$@" < /dev/null &
  child=$!
  echo "$child" > "$app_pid"
  rc=0
  while true; do  # a trapped signal interrupts wait: wait again until CMD is gone
    if wait "$child"; then rc=0; else rc=$?; fi
    kill -0 "$child" 2>/dev/null || break
  done
  # What a killed process leaves behind (a JVM's Python driver, workers) goes with its group.
  kill -KILL -- "-$child" 2>/dev/null || true
  child=""
  rm -f "$app_pid"
  [ "$stopping" = 1 ] && exit "$rc"
  started_since "$offset" && ever_started=1
  if [ "$rc" = 2 ] && [ -n "$started_line" ] && [ "$ever_started" = 0 ]; then
    log "$name refused to start (exit 2): not restarting"
    exit 2
  fi
  if [ "$rc" = 3 ]; then
    write_state "$restarts" 3 "$(last_error "$offset")"
    log "$name stopped (exit 3): it needs a person, see $logfile; not restarting"
    exit 3
  fi
  restarts=$((restarts + 1))
  if ((rc > 128)); then
    write_state "$restarts" "$rc" "killed by signal $((rc - 128))"
  else
    write_state "$restarts" "$rc" "$(last_error "$offset")"
  fi
  if ((SECONDS - began >= 120)); then delay=2; fi
  log "$name exited with $rc; restart $restarts in ${delay}s"
  sleep "$delay" &
  wait $! || true
  [ "$stopping" = 1 ] && exit 0
  delay=$((delay * 2 > 60 ? 60 : delay * 2))
done
