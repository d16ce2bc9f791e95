-- Rows Spark's executors stage for the driver's transaction (spark_apps/telemetry/pg_stage.py):
-- each Spark task COPYs its partition's rows under the writer's token (one per micro-batch or
-- batch run attempt) and its partition number; the driver then moves the token's rows into the
-- serving table in the transaction that commits the batch, and deletes them there. Rows of an
-- attempt that died before its commit are never moved; the writers delete those a day old.
CREATE TABLE IF NOT EXISTS staged_bytes (
    token     TEXT NOT NULL,
    part      INTEGER NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    id        TEXT NOT NULL,
    value     BIGINT NOT NULL,
    type      TEXT NOT NULL,
    staged_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS staged_bytes_token ON staged_bytes (token, part);

CREATE TABLE IF NOT EXISTS staged_quarantine (
    token           TEXT NOT NULL,
    part            INTEGER NOT NULL,
    kafka_topic     TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    kafka_timestamp TIMESTAMP NOT NULL,
    reason          TEXT NOT NULL,
    payload         BYTEA,
    payload_length  INTEGER,
    staged_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS staged_quarantine_token ON staged_quarantine (token, part);

-- bytes_hourly has bytes' columns.
CREATE TABLE IF NOT EXISTS staged_bytes_hourly (LIKE staged_bytes INCLUDING DEFAULTS);
CREATE INDEX IF NOT EXISTS staged_bytes_hourly_token ON staged_bytes_hourly (token, part);

CREATE TABLE IF NOT EXISTS staged_user_quota_limit (
    token     TEXT NOT NULL,
    part      INTEGER NOT NULL,
    email     TEXT NOT NULL,
    usage     BIGINT NOT NULL,
    quota     BIGINT NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    staged_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS staged_user_quota_limit_token ON staged_user_quota_limit (token, part);
