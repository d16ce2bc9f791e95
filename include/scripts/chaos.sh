#!/usr/bin/env bash
# `make chaos`: the long fault-injection run. Set-up if needed, then PostgreSQL, Kafka and
# Airflow on the chaos run's own ports and state folder (a running `make up` or `make test` is
# not disturbed), the run (tests/chaos, knobs LAMBDA_CHAOS_*), and everything stopped after.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/include/scripts/run_profile.sh"
run_profile chaos 36 36432
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True
# No scheduled runs either (a DAG is unpaused for a backfill): none competes for the CPU.
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=False
export LAMBDA_TASK_RETRY_DELAY_SECONDS="${LAMBDA_TASK_RETRY_DELAY_SECONDS:-5}"
export LAMBDA_CHAOS_SECONDS="${LAMBDA_CHAOS_SECONDS:-360}"
export LAMBDA_CHAOS_RATE="${LAMBDA_CHAOS_RATE:-300}"
export LAMBDA_CHAOS_KILLS="${LAMBDA_CHAOS_KILLS:-4}"
S="$REPO/include/scripts"

"$S/setup.sh" all
"$S/services.sh" down >/dev/null 2>&1 || true
"$S/postgres.sh" destroy >/dev/null 2>&1 || true
rm -rf "$LAMBDA_HOME"
source "$S/common.sh"
cleanup() { "$S/services.sh" down || true; }
trap cleanup EXIT
"$S/postgres.sh" start
"$S/kafka.sh" start
"$S/airflow.sh" start
airflow_env
log "chaos run: ${LAMBDA_CHAOS_SECONDS}s at ${LAMBDA_CHAOS_RATE} records/s, seed ${LAMBDA_CHAOS_SEED:-1}"
cd "$REPO"
log "single long faults: a PostgreSQL restart, a kill -9 mid-stream, the speed layer stopped until its alert reaches a webhook"
"$VENV_SPARK/bin/python" -m pytest tests/integration -m fault "$@"
"$VENV_SPARK/bin/python" -m pytest tests/chaos -s "$@"
