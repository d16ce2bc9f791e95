#!/usr/bin/env bash
# `make test`: set-up if needed, start the services the tests need on their own ports and state
# folder (so a running `make up` is not disturbed), run lint and every test, stop what we started.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/include/scripts/run_profile.sh"
run_profile test 29 25432
export LAMBDA_TRIGGER="${LAMBDA_TRIGGER:-1 second}"
# Tests decide which DAG runs exist: nothing is scheduled on its own.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
# No scheduled runs either (a DAG is unpaused for a backfill): none competes for the CPU.
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False
# A retried task (the chaos run kills batch jobs) need not wait a minute.
export LAMBDA_TASK_RETRY_DELAY_SECONDS="${LAMBDA_TASK_RETRY_DELAY_SECONDS:-2}"
S="$REPO/include/scripts"

# The Spark class-data-sharing archive (set-up's longest step, ~70 s the first time) is
# recorded while the rest of set-up, the services' start and lint run (it needs only the Spark
# environment); the Spark-side tests wait for it.
"$S/setup.sh" spark
"$S/setup.sh" cds & cds_pid=$!
"$S/setup.sh" base
# A fresh state folder each run: tests start from empty topics, tables and checkpoints.
"$S/services.sh" down >/dev/null 2>&1 || true
"$S/postgres.sh" destroy >/dev/null 2>&1 || true
rm -rf "$LAMBDA_HOME"
source "$S/common.sh"

cleanup() {
  if [ -n "${unit_pid:-}" ]; then kill "$unit_pid" 2>/dev/null || true; fi
  if [ -n "${airflow_pid:-}" ]; then wait "$airflow_pid" 2>/dev/null || true; fi
  "$S/services.sh" down || true
}
trap cleanup EXIT
"$S/postgres.sh" start
"$S/kafka.sh" start

log "lint: ruff"
"$VENV_SPARK/bin/ruff" check "$REPO"
"$VENV_SPARK/bin/ruff" format --check "$REPO"
log "alert rules: promtool check and test"
"$PROMTOOL" check rules "$REPO/include/prometheus/rules/lambda.yml"
"$S/alertmanager.sh" check
(cd "$REPO/include/prometheus/rules" && "$PROMTOOL" test rules lambda_test.yml)

wait "$cds_pid" || true  # it only warns: Spark starts slower without the archive

rc=0
# Airflow (metadata migration, api-server, scheduler, DAG processor) starts while the Spark side's
# integration tests run: it idles until the Airflow-side tests, and its start is off the clock.
airflow_log="$LOG_DIR/airflow-start.log"
"$S/airflow.sh" start >"$airflow_log" 2>&1 & airflow_pid=$!
log "tests on the Spark side: integration with Kafka, PostgreSQL, spark-submit"
# Single long faults (-m fault) run in make chaos, the chaos phase below has each kind; the
# benchmark's smoke run (-m bench) runs at the start of make bench.
(cd "$REPO" && "$VENV_SPARK/bin/python" -m pytest tests/integration -m "not fault and not bench" --durations=20 "$@") || rc=$?
# The unit tests need no service (a local SparkSession): they run beside the Airflow-side
# tests, which mostly wait on Airflow and spark-submit start-ups. Their output follows.
log "tests on the Airflow side (DAG integrity, DAG runs, backfills, dashboard); Spark-side unit tests beside them"
unit_log="$LOG_DIR/unit-tests.log"
(cd "$REPO" && "$VENV_SPARK/bin/python" -m pytest tests/unit -m "not fault" --durations=10 "$@") >"$unit_log" 2>&1 &
unit_pid=$!
wait "$airflow_pid" || { cat "$airflow_log"; die "Airflow did not start (above)"; }
cat "$airflow_log"
airflow_env
(cd "$REPO" && "$VENV_AIRFLOW/bin/python" -m pytest tests/airflow --durations=20 "$@") || rc=$?
unit_rc=0; wait "$unit_pid" || unit_rc=$?
log "Spark-side unit tests (ran beside the Airflow side; also in $unit_log):"
cat "$unit_log"
[ "$unit_rc" = 0 ] || rc=$unit_rc
# Short: every fault kind once (a kill -9 inside the speed layer's PostgreSQL write, Kafka and
# PostgreSQL down 5 s, a pause, an hourly batch job killed mid-write, the daily compaction
# crashed); make chaos adds random kills and longer outages.
log "chaos: a short run with every fault kind once (make chaos runs the long one)"
(cd "$REPO" && LAMBDA_CHAOS_SECONDS="${LAMBDA_CHAOS_SECONDS:-45}" \
  LAMBDA_CHAOS_RATE="${LAMBDA_CHAOS_RATE:-150}" \
  LAMBDA_CHAOS_KILLS="${LAMBDA_CHAOS_KILLS:-0}" \
  LAMBDA_CHAOS_OUTAGE_SECONDS="${LAMBDA_CHAOS_OUTAGE_SECONDS:-5}" \
  "$VENV_SPARK/bin/python" -m pytest tests/chaos -s "$@") || rc=$?
exit $rc
