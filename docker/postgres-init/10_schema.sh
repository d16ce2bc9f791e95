#!/usr/bin/env bash
# First start of the postgres container only: the project's schema, seed and grants (sql/schema,
# mounted read-only at /opt/lambda/sql/schema), file by file in sorted order, in the telemetry
# database, as its owner (SET ROLE), with the role names the grants need. The files are
# idempotent, so on an existing volume the same step can be re-run by hand:
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10_schema.sh
# Executed or sourced by the entrypoint, so no `set` here; a failure ends the init.
owner="${LAMBDA_PG_USER:-telemetry}"
for schema_file in /opt/lambda/sql/schema/*.sql; do
  echo "applying $schema_file"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" \
    --dbname "${LAMBDA_PG_DB:-telemetry}" \
    -v db="${LAMBDA_PG_DB:-telemetry}" -v airflow_db="${LAMBDA_AIRFLOW_DB:-airflow}" \
    -v owner_role="$owner" -v speed_role="${owner}_speed" -v batch_role="${owner}_batch" \
    -v airflow_role="${owner}_airflow" -v reader_role="${owner}_reader" \
    -v metadata_role="${LAMBDA_AIRFLOW_DB_USER:-airflow}" \
    -c "SET ROLE \"$owner\"" -f "$schema_file" || exit 1
done
