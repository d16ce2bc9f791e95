#!/usr/bin/env bash
# First start of the postgres container only (docker-entrypoint-initdb.d, sorted order): the
# project's roles and databases, with the same SQL as include/scripts/postgres.sh on the host
# (sql/roles/cluster.sql), each password read from its Compose secret in /run/secrets. The server
# hashes them (scram-sha-256); on the host they arrive as verifiers already. The entrypoint
# executes this file, or sources it if it lost its executable bit, so no `set` here; a failure
# ends the init.
owner="${LAMBDA_PG_USER:-telemetry}"
{
  printf "\\set db '%s'\n\\set airflow_db '%s'\n" "${LAMBDA_PG_DB:-telemetry}" "${LAMBDA_AIRFLOW_DB:-airflow}"
  for role in owner speed batch airflow reader metadata; do
    case "$role" in
      owner) name="$owner" ;;
      metadata) name="${LAMBDA_AIRFLOW_DB_USER:-airflow}" ;;
      *) name="${owner}_${role}" ;;
    esac
    printf "\\set %s_role '%s'\n" "$role" "$name"
    # psql reads the file itself (backquotes): the password is in no argument or variable here.
    printf "\\set %s_verifier \`cat /run/secrets/pg_password_%s\`\n" "$role" "$role"
  done
  cat /opt/lambda/sql/roles/cluster.sql
} | psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname postgres || exit 1
