# Sourced by test.sh, chaos.sh, bench.sh, soak.sh and cluster_test.sh before common.sh: each kind
# of run gets its own state folder and port range, so none disturbs a running `make up` or
# another run.
# run_profile NAME RANGE PG_PORT: LAMBDA_HOME=.local/<name> and the service ports RANGE092,
# RANGE093 (controller), RANGE108/RANGE109 (metrics), RANGE090 (Prometheus), RANGE094
# (Alertmanager), RANGE080 (Airflow) and PG_PORT; each overridable as LAMBDA_<NAME>_HOME,
# LAMBDA_<NAME>_KAFKA_PORT, ... (NAME upper-cased).
run_profile() {
  local name="$1" range="$2" pg_port="$3" prefix setting port override
  prefix="LAMBDA_${name^^}_"
  override="${prefix}HOME"
  export LAMBDA_HOME="${!override:-$REPO/.local/$name}"
  for setting in KAFKA_PORT:092 KAFKA_CONTROLLER_PORT:093 SPEED_METRICS_PORT:108 \
    BATCH_METRICS_PORT:109 PROMETHEUS_PORT:090 ALERTMANAGER_PORT:094 AIRFLOW_PORT:080 \
    PG_PORT:"$pg_port"; do
    port="${setting#*:}"
    [ "${#port}" = 3 ] && port="$range$port"
    override="$prefix${setting%%:*}"
    export "LAMBDA_${setting%%:*}=${!override:-$port}"
  done
}
