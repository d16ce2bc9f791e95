#!/usr/bin/env bash
# First start of the postgres container only: the project's schema and seed (sql/schema, mounted
# read-only at /opt/lambda/sql/schema), file by file in sorted order, in the telemetry database.
# The files are idempotent, so on an existing volume the same step can be re-run by hand:
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10_schema.sh
# Executed or sourced by the entrypoint, so no `set` here; a failure ends the init.
for schema_file in /opt/lambda/sql/schema/*.sql; do
  echo "applying $schema_file"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-telemetry}" \
    --dbname "${POSTGRES_DB:-telemetry}" -f "$schema_file" || exit 1
done
