#!/usr/bin/env bash
# `make soak`: the whole stack as `make up` runs it (Kafka, PostgreSQL, the supervised speed
# layer, the exporters, Prometheus, Airflow with the DAGs' real schedules) on the soak's own
# ports and state folder, under the field's load for an hour (tests/soak; make soak
# ARGS="--minutes 90 --devices 1000000 --antennas 5000 --rate 5000"), then stopped.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$REPO/include/scripts/run_profile.sh"
run_profile soak 34 34432
# The schedules as in production: every DAG on, scheduled runs made by the scheduler.
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=True
S="$REPO/include/scripts"

"$S/setup.sh" all
"$S/services.sh" down >/dev/null 2>&1 || true
"$S/postgres.sh" destroy >/dev/null 2>&1 || true
rm -rf "$LAMBDA_HOME"
source "$S/common.sh"
cleanup() { "$S/services.sh" down || true; }
trap cleanup EXIT
"$S/services.sh" up
log "soak: the load, the probes and the watcher (a line per slice; summary in $LOG_DIR/soak-summary.txt)"
cd "$REPO"
"$VENV_SPARK/bin/python" -m pytest tests/soak -s "$@"
