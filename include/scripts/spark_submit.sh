#!/usr/bin/env bash
# spark-submit one of the project's apps with the pinned jars and the telemetry package.
# Usage: spark_submit.sh spark_apps/APP.py [app args...]. The master comes from
# LAMBDA_SPARK_MASTER (local[2] by default; spark://..., yarn, k8s://... on a cluster).
source "$(dirname "$0")/common.sh"
app="$1"; shift
[ -x "$VENV_SPARK/bin/spark-submit" ] || die "Spark environment missing: run include/scripts/setup.sh"
eval "$("$VENV_SPARK/bin/python" -m telemetry.submit_args shell)"
exec "$VENV_SPARK/bin/spark-submit" --master "$LAMBDA_SPARK_MASTER" \
  --jars "$SUBMIT_JARS" --py-files "$SUBMIT_PY_FILES" $SUBMIT_CONFS "$REPO/$app" "$@"
