#!/usr/bin/env bash
# spark-submit one of the project's apps with the pinned jars and the telemetry package.
# Usage: spark_submit.sh spark_apps/APP.py [app args...]. The master comes from
# LAMBDA_SPARK_MASTER (local[2,3] by default; spark://..., yarn, k8s://... on a cluster).
#
# SIGTERM/SIGINT to this script reach the Python driver only, which stops its streaming
# queries between batches and exits 0; a SIGTERM to the JVM would tear the context down under
# the running queries instead.
source "$(dirname "$0")/common.sh"
app="$1"; shift
[ -x "$VENV_SPARK/bin/spark-submit" ] || die "Spark environment missing: run include/scripts/setup.sh"
eval "$("$VENV_SPARK/bin/python" -m telemetry.submit_args shell)"
# shellcheck disable=SC2086  # SUBMIT_CONFS is a list of --conf words
"$VENV_SPARK/bin/spark-submit" --master "$LAMBDA_SPARK_MASTER" \
  --jars "$SUBMIT_JARS" --py-files "$SUBMIT_PY_FILES" $SUBMIT_CONFS "$REPO/$app" "$@" &
submit=$!

forward() {
  local driver
  driver="$(pgrep -P "$submit" -f "$REPO/$app" | head -1 || true)"
  kill -TERM "${driver:-$submit}" 2>/dev/null || true
}
trap forward TERM INT
while true; do
  wait "$submit" && exit 0
  rc=$?
  kill -0 "$submit" 2>/dev/null || exit "$rc"  # still running: the wait was cut by a signal
done
