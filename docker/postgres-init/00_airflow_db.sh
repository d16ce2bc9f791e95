#!/usr/bin/env bash
# First start of the postgres container only (docker-entrypoint-initdb.d, sorted order): the
# Airflow metadata database, owned by the same role as `telemetry` (what
# include/scripts/postgres.sh does for a local cluster). The entrypoint executes this file, or
# sources it if it lost its executable bit, so no `set` here; a failure ends the init.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  -v db="${LAMBDA_AIRFLOW_DB:-airflow}" -v owner="$POSTGRES_USER" <<'SQL' || exit 1
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
