#!/usr/bin/env bash
# All services in the background: up|down|status. `up` runs set-up first (idempotent).
source "$(dirname "$0")/common.sh"
S="$REPO/include/scripts"
# The order of start (stop is the reverse).
SERVICES=(postgres kafka speed_layer batch_metrics airflow alertmanager prometheus)

case "${1:-}" in
  up)
    "$S/setup.sh" all
    for s in "${SERVICES[@]}"; do "$S/$s.sh" start; done
    "$0" status
    ;;
  down)
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do "$S/${SERVICES[i]}.sh" stop || true; done
    ;;
  status)
    rc=0
    for s in "${SERVICES[@]}"; do "$S/$s.sh" status || rc=1; done
    "$VENV_SPARK/bin/python" -m telemetry.status || true  # the data's state, not a service's
    exit $rc
    ;;
  *) die "usage: services.sh up|down|status" ;;
esac
