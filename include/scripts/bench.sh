#!/usr/bin/env bash
# `make bench`: set-up if needed, start Kafka and PostgreSQL on the benchmark's own ports and
# state folder, run the throughput benchmark (arguments passed on), stop what it started.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/include/scripts/run_profile.sh"
run_profile bench 39 35432
# The speed layer's state for 500,000 events in one micro-batch needs more than the 1g default.
export LAMBDA_SPARK_DRIVER_MEMORY="${LAMBDA_SPARK_DRIVER_MEMORY:-3g}"
S="$REPO/include/scripts"

# cds: the Spark class-data-sharing archive, which every other run records too (without it each
# spark-submit starts 3-4 s slower, and the figures would not compare with theirs).
for part in spark cds airflow jars postgres; do "$S/setup.sh" "$part"; done
source "$S/common.sh"
cleanup() { "$S/kafka.sh" stop || true; "$S/postgres.sh" stop || true; }
trap cleanup EXIT
"$S/postgres.sh" start
"$S/kafka.sh" start
# The whole lambda_hourly run over the biggest hour (airflow dags test) needs Airflow's
# environment and metadata database, not its services.
airflow_env
"$VENV_AIRFLOW/bin/airflow" db migrate >>"$LOG_DIR/airflow-db.log" 2>&1 \
  || { tail -20 "$LOG_DIR/airflow-db.log"; die "airflow db migrate failed"; }
# First the 5,000-event smoke run of every stage (about two minutes): a broken stage fails here,
# not after the long run.
log "smoke run of the benchmark (tests/integration/test_benchmark_smoke.py)"
(cd "$REPO" && "$VENV_SPARK/bin/python" -m pytest tests/integration -m bench -q)
(cd "$REPO" && "$VENV_SPARK/bin/python" -m benchmark "$@")
