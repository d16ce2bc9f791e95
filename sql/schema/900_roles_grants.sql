-- Least privilege (docs/configuration.md "Database roles and secrets"): each role gets what its code does and
-- nothing else. Applied by the owner after the tables; the role names come as psql variables
-- (include/scripts/postgres.sh schema passes them). One transaction, everything revoked first:
-- a running service never sees a missing privilege, and a grant removed here is removed from the
-- server.
\if :{?speed_role}
\else
\echo 'no role names given (psql -v speed_role=... etc.): privileges left as they are'
\quit
\endif

BEGIN;

-- The database: only the project's roles may connect; nobody but the owner creates anything.
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE TEMPORARY ON DATABASE :"db" FROM :"speed_role";  -- it once staged in temporary tables
GRANT CONNECT ON DATABASE :"db" TO :"speed_role", :"batch_role", :"airflow_role", :"reader_role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public
    FROM PUBLIC, :"speed_role", :"batch_role", :"airflow_role", :"reader_role";

-- Speed layer (spark_apps/telemetry/postgres.py SpeedWriter): adds to windows, inserts
-- quarantined records, moves its offsets and progress; the upserts read rows. Its executors
-- stage the window deltas and the quarantine (telemetry.pg_stage), its driver moves and deletes
-- them. Its writes to bytes keep bytes_by_hour through the owner's triggers (no grant of its own).
GRANT SELECT, INSERT, UPDATE ON bytes TO :"speed_role";
GRANT SELECT, INSERT ON quarantine TO :"speed_role";
GRANT SELECT, INSERT, DELETE ON staged_bytes, staged_quarantine TO :"speed_role";
GRANT SELECT, INSERT, UPDATE ON speed_layer_progress, speed_layer_offsets, landed_hours
    TO :"speed_role";

-- Batch jobs (telemetry.batch_job, telemetry.postgres.replace_hours / replace_days_from_hours):
-- users over JDBC, then each interval replaced (DELETE ... WHERE timestamp, COPY / INSERT).
GRANT SELECT ON user_metadata TO :"batch_role";
GRANT SELECT, INSERT, DELETE ON bytes_hourly, user_quota_limit, batch_hourly_stats, bytes_daily
    TO :"batch_role";
-- Its executors stage the hours' totals and users over quota (telemetry.pg_stage).
GRANT SELECT, INSERT, DELETE ON staged_bytes_hourly, staged_user_quota_limit TO :"batch_role";
-- The Parquet retention (spark_apps/expire_raw.py) removes only days published and not stale.
GRANT SELECT ON serving_days, landed_hours TO :"batch_role";

-- Airflow's SQL tasks (sql/batch/*.sql): read both layers, write the reconciliation and publish
-- hours. Of the quarantine only the time and the reason are read (counts per hour, per day and
-- reason), never the payloads. Retention (sql/batch/retention.sql) creates and drops daily
-- partitions only through the two owner's functions, and expires the small tables' rows.
GRANT SELECT ON speed_layer_progress, bytes, bytes_by_hour, bytes_hourly, batch_hourly_stats,
    landed_hours TO :"airflow_role";
GRANT SELECT (kafka_timestamp, reason) ON quarantine TO :"airflow_role";
GRANT SELECT, INSERT, UPDATE ON reconciliation, serving_hours, serving_days TO :"airflow_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON batch_requests, quarantine_daily TO :"airflow_role";
-- The failure notifier (include/lambda_notify.py) records a task's last failed try; retention
-- expires the old records.
GRANT SELECT, INSERT, DELETE ON batch_task_failures TO :"airflow_role";
REVOKE ALL ON FUNCTION lambda_partitions(regclass), lambda_partition_key(regclass),
    lambda_ensure_partitions(regclass, date, date),
    lambda_drop_partitions_before(regclass, date, date[]),
    lambda_set_aside_unpartitioned(text), lambda_move_into_partitions(text, regclass)
    FROM PUBLIC, :"speed_role", :"batch_role", :"airflow_role", :"reader_role";
GRANT EXECUTE ON FUNCTION lambda_ensure_partitions(regclass, date, date),
    lambda_drop_partitions_before(regclass, date, date[])
    TO :"airflow_role";

-- People and dashboards: read everything, tables and views, including those created later.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader_role";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO :"reader_role";

COMMIT;
