# Sourced by every service script: settings from the one config module, paths, helpers.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON_BOOT="${LAMBDA_PYTHON:-python3}"
_exports="$("$PYTHON_BOOT" "$REPO/spark_apps/telemetry/config.py" shell)" || exit 2
eval "$_exports"
VENV_SPARK="$LAMBDA_TOOLS_DIR/venv/spark"
VENV_AIRFLOW="$LAMBDA_TOOLS_DIR/venv/airflow"
PROMETHEUS="$LAMBDA_TOOLS_DIR/prometheus/usr/bin/prometheus"
PROMTOOL="$LAMBDA_TOOLS_DIR/prometheus/usr/bin/promtool"
ALERTMANAGER="$LAMBDA_TOOLS_DIR/alertmanager/bin/alertmanager"
AMTOOL="$LAMBDA_TOOLS_DIR/alertmanager/bin/amtool"
LOG_DIR="$LAMBDA_HOME/logs"
RUN_DIR="$LAMBDA_HOME/run"
mkdir -p "$LOG_DIR" "$RUN_DIR"
# Spark binds to loopback unless told otherwise (a cluster deployment sets SPARK_LOCAL_IP).
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
export PYTHONPATH="$REPO/spark_apps:$REPO/include${PYTHONPATH:+:$PYTHONPATH}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# pid_alive NAME: the process recorded in $RUN_DIR/NAME.pid is running.
pid_alive() {
  local f="$RUN_DIR/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# stop_pid NAME [SECONDS]: SIGTERM the recorded process, SIGKILL its group after the grace period.
stop_pid() {
  local name="$1" grace="${2:-30}" f="$RUN_DIR/$1.pid" pid i
  if ! pid_alive "$name"; then rm -f "$f"; return 0; fi
  pid="$(cat "$f")"
  # The leader only: our launchers forward the signal to what must stop cleanly.
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 2; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in ${grace}s, killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# stop_supervised NAME [SECONDS]: stop a service started under supervise.sh; a supervisor
# killed after the grace period leaves its service's process group, which goes too.
stop_supervised() {
  stop_pid "$1" "${2:-30}"
  local app="$RUN_DIR/$1_app.pid"
  if [ -f "$app" ]; then
    kill -KILL -- "-$(cat "$app")" 2>/dev/null || true
    rm -f "$app"
  fi
}

# supervised_status NAME: ", restarts N" and, after a restart, the last exit and its error.
supervised_status() {
  local state="$RUN_DIR/$1.state" restarts
  restarts="$(sed -n 's/^restarts=//p' "$state" 2>/dev/null)"
  printf ' (pid %s), restarts: %s' "$(cat "$RUN_DIR/$1.pid" 2>/dev/null)" "${restarts:-0}"
  if [ "${restarts:-0}" -gt 0 ]; then
    printf '; last exit %s at %s: %s' "$(sed -n 's/^last_exit=//p' "$state")" \
      "$(sed -n 's/^last_exit_at=//p' "$state")" "$(sed -n 's/^last_error=//p' "$state")"
  fi
}

# start_bg NAME LOGFILE CMD...: run CMD in its own process group, record its pid.
start_bg() {
  local name="$1" logfile="$2"; shift 2
  # Services read their own role's password from its file: an owner password given in the
  # environment (LAMBDA_PG_PASSWORD) stays out of theirs.
  setsid env -u LAMBDA_PG_PASSWORD "$@" >>"$logfile" 2>&1 < /dev/null &
  echo $! > "$RUN_DIR/$name.pid"
}

# wait_port HOST PORT SECONDS NAME
wait_port() {
  local host="$1" port="$2" secs="$3" name="$4" i
  for ((i = 0; i < secs * 2; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  die "$name did not open $host:$port within ${secs}s (see $LOG_DIR)"
}

port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# start_ready NAME LABEL LOGFILE READY_URL SECONDS COMMAND...: start COMMAND in the background
# (start_bg) and wait until READY_URL answers. An early exit (a bad flag, the port taken
# meanwhile) is reported at once with the error lines it logged since this start, not the usage
# text that follows them.
start_ready() {
  local name="$1" label="$2" logfile="$3" url="$4" secs="$5" offset i; shift 5
  touch "$logfile"
  offset="$(stat -c %s "$logfile")"
  start_bg "$name" "$logfile" "$@"
  for ((i = 0; i < secs * 2; i++)); do
    if ! pid_alive "$name"; then
      tail -c "+$((offset + 1))" "$logfile" | grep -iE '^error|level=error' | tail -3 >&2 || true
      rm -f "$RUN_DIR/$name.pid"
      die "$label exited at start (see $logfile)"
    fi
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  die "$label was not ready on $url within ${secs}s (see $logfile)"
}

# airflow_env: what Airflow processes (and the Airflow-side tests) need on top of the settings:
# the Spark side's spark-submit first on PATH (SparkSubmitOperator looks it up there), its
# SPARK_HOME and Python, an admin password generated once per state folder, and the SQL tasks'
# connection in the secrets backend's mode-600 file (not in the environment).
airflow_env() {
  export PATH="$VENV_SPARK/bin:$PATH"
  eval "$("$VENV_SPARK/bin/python" -m telemetry.submit_args spark-env)"  # SPARK_HOME, PYSPARK_PYTHON
  mkdir -p "$AIRFLOW_HOME" "$LAMBDA_HOME/secrets"
  # admin runs everything; analyst (viewer) reads the UI and the dashboard, not device data.
  local user
  for user in admin analyst; do
    local pw_file="$LAMBDA_HOME/secrets/airflow_${user}_password"
    [ -s "$pw_file" ] || (umask 077; "$PYTHON_BOOT" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$pw_file")
  done
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,analyst:viewer"
  printf '{"admin": "%s", "analyst": "%s"}\n' "$(cat "$LAMBDA_HOME/secrets/airflow_admin_password")" \
    "$(cat "$LAMBDA_HOME/secrets/airflow_analyst_password")" > "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  chmod 600 "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  "$PYTHON_BOOT" -m telemetry.pg_roles airflow-connections || die "Airflow's connections file"
}
