-- Serving layer. Canonical tables keep the columns existing clients read; keys make every write
-- an idempotent upsert or an in-transaction replacement. Timestamps are UTC, without time zone.

CREATE TABLE IF NOT EXISTS user_metadata (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    quota BIGINT NOT NULL CHECK (quota >= 0)  -- bytes per hour
);

-- The three tables that grow with time are partitioned per UTC day (000_functions.sql): bytes,
-- quarantine and reconciliation. Each upgrades a table made before that in place, in one
-- transaction: the plain table is set aside, the partitioned one created, the rows moved.
-- Partitions exist from two days back to a week ahead (the daily DAG's retention task keeps
-- a week ahead); a row outside them goes to the DEFAULT partition.

-- Speed layer: one row per 5-minute window start, type and key.
BEGIN;
SELECT lambda_set_aside_unpartitioned('bytes');
CREATE TABLE IF NOT EXISTS bytes (
    timestamp TIMESTAMP NOT NULL,
    id        TEXT NOT NULL,
    value     BIGINT NOT NULL,
    type      TEXT NOT NULL,
    PRIMARY KEY (timestamp, type, id)
) PARTITION BY RANGE (timestamp);
CREATE TABLE IF NOT EXISTS bytes_default PARTITION OF bytes DEFAULT;
SELECT lambda_move_into_partitions('bytes_unpartitioned', 'bytes');
COMMIT;

-- Batch layer: one row per hour, type and key (users keyed by email).
CREATE TABLE IF NOT EXISTS bytes_hourly (
    timestamp TIMESTAMP NOT NULL,
    id        TEXT NOT NULL,
    value     BIGINT NOT NULL,
    type      TEXT NOT NULL,
    PRIMARY KEY (timestamp, type, id)
);

-- Batch layer: one row per day (00:00 UTC), type and key.
CREATE TABLE IF NOT EXISTS bytes_daily (
    timestamp TIMESTAMP NOT NULL,
    id        TEXT NOT NULL,
    value     BIGINT NOT NULL,
    type      TEXT NOT NULL,
    PRIMARY KEY (timestamp, type, id)
);

CREATE TABLE IF NOT EXISTS user_quota_limit (
    email     TEXT NOT NULL,
    usage     BIGINT NOT NULL,
    quota     BIGINT NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    PRIMARY KEY (timestamp, email)
);

-- Every rejected record, with its reason and where it sat in Kafka. The key has the Kafka
-- timestamp (the partition key must be in it): a record's broker time never changes, so a
-- replayed record is still the same row.
BEGIN;
SELECT lambda_set_aside_unpartitioned('quarantine');
CREATE TABLE IF NOT EXISTS quarantine (
    kafka_topic     TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    kafka_timestamp TIMESTAMP NOT NULL,
    reason          TEXT NOT NULL,
    payload         BYTEA,    -- the record's bytes as sent (anything: NUL, invalid UTF-8), cut
    payload_length  INTEGER,  -- to LAMBDA_MAX_PAYLOAD_BYTES; the length before the cut
    quarantined_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp)
) PARTITION BY RANGE (kafka_timestamp);
CREATE TABLE IF NOT EXISTS quarantine_default PARTITION OF quarantine DEFAULT;
CREATE INDEX IF NOT EXISTS quarantine_kafka_timestamp ON quarantine (kafka_timestamp);
-- Quarantines created before payloads were binary: text -> bytea, keeping what they held.
DO $$
BEGIN
    IF (SELECT data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'quarantine_unpartitioned'
          AND column_name = 'payload') = 'text' THEN
        ALTER TABLE quarantine_unpartitioned
            ALTER COLUMN payload TYPE BYTEA USING convert_to(payload, 'UTF8');
    END IF;
END $$;
SELECT lambda_move_into_partitions('quarantine_unpartitioned', 'quarantine');
COMMIT;

-- Quarantined records per UTC day (of their Kafka timestamp) and reason, counted by the daily
-- DAG's retention (sql/batch/retention.sql) before the payloads expire, and kept far longer.
CREATE TABLE IF NOT EXISTS quarantine_daily (
    day     DATE NOT NULL,
    reason  TEXT NOT NULL,
    records BIGINT NOT NULL,
    PRIMARY KEY (day, reason)
);

-- What the batch layer measured for each hour it computed (written with bytes_hourly).
CREATE TABLE IF NOT EXISTS batch_hourly_stats (
    timestamp   TIMESTAMP PRIMARY KEY,
    events      BIGINT NOT NULL,  -- distinct valid events in the hour
    duplicates  BIGINT NOT NULL,  -- extra copies dropped (producer retries)
    late_events BIGINT NOT NULL,  -- dropped by the speed layer as late (behind its watermark)
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Where the speed layer's figure differs, per cause (from the provenance landed with each event,
-- raw_store speed_status): bytes of events it dropped as late, bytes of events it never saw
-- (history landed or replayed without it), bytes it counted more than once.
ALTER TABLE batch_hourly_stats
    ADD COLUMN IF NOT EXISTS late_bytes BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS unseen_events BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS unseen_bytes BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS duplicates_dropped BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS overcounted_bytes BIGINT NOT NULL DEFAULT 0;

-- Hours whose batch results have been reconciled and now serve instead of the speed layer.
CREATE TABLE IF NOT EXISTS serving_hours (
    timestamp    TIMESTAMP PRIMARY KEY,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Per hour and type: how far the speed layer was from the exact batch figure.
-- difference = late_bytes + unseen_bytes - overcounted_bytes + unexplained; unexplained is 0
-- when the speed layer's PostgreSQL rows and its landed provenance agree. (A table made before
-- the causes were columns moves in with them at 0.)
BEGIN;
SELECT lambda_set_aside_unpartitioned('reconciliation');
CREATE TABLE IF NOT EXISTS reconciliation (
    timestamp          TIMESTAMP NOT NULL,
    type               TEXT NOT NULL,
    speed_total        BIGINT NOT NULL,
    batch_total        BIGINT NOT NULL,
    difference         BIGINT NOT NULL,  -- batch_total - speed_total
    late_events        BIGINT NOT NULL,
    quarantined_events BIGINT NOT NULL,
    reconciled_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    late_bytes         BIGINT NOT NULL DEFAULT 0,
    unseen_events      BIGINT NOT NULL DEFAULT 0,
    unseen_bytes       BIGINT NOT NULL DEFAULT 0,
    duplicates_dropped BIGINT NOT NULL DEFAULT 0,
    overcounted_bytes  BIGINT NOT NULL DEFAULT 0,
    unexplained        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (timestamp, type)
) PARTITION BY RANGE (timestamp);
CREATE TABLE IF NOT EXISTS reconciliation_default PARTITION OF reconciliation DEFAULT;
SELECT lambda_move_into_partitions('reconciliation_unpartitioned', 'reconciliation');
COMMIT;

-- Daily partitions from two days back (an hour the speed layer still writes) to a week ahead.
SELECT lambda_ensure_partitions(t, today - 2, today + 7)
FROM unnest(ARRAY['bytes', 'quarantine', 'reconciliation']::regclass[]) AS t,
     CAST(now() AT TIME ZONE 'UTC' AS DATE) AS today;

-- The speed layer's last progress per streaming query (watermark drives the hourly DAG's wait).
CREATE TABLE IF NOT EXISTS speed_layer_progress (
    query_name                TEXT PRIMARY KEY,
    batch_id                  BIGINT NOT NULL,
    watermark                 TIMESTAMP,
    input_rows                BIGINT NOT NULL,
    input_rows_per_second     DOUBLE PRECISION,
    processed_rows_per_second DOUBLE PRECISION,
    updated_at                TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The Kafka offsets whose effect is in PostgreSQL, written in the same transaction as that
-- effect: a record at or below applied_through is never counted again (speed_layer.py). The
-- topic's largest max_event_time, minus the watermark delay, is the speed layer's watermark.
CREATE TABLE IF NOT EXISTS speed_layer_offsets (
    kafka_topic     TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    applied_through BIGINT NOT NULL,
    max_event_time  TIMESTAMP,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kafka_topic, kafka_partition)
);
-- The broker time of the record at applied_through: on start the speed layer finds that record
-- in Kafka again, or stops (a topic recreated, another cluster: offsets that went backwards).
ALTER TABLE speed_layer_offsets ADD COLUMN IF NOT EXISTS applied_record_time TIMESTAMP;
-- How many Kafka records the speed layer is behind the topic's end (its last progress).
ALTER TABLE speed_layer_progress ADD COLUMN IF NOT EXISTS offsets_behind BIGINT;

-- Every hour the speed layer landed valid events in, and when it last did (written in the same
-- transaction as its offsets). An hour whose landed_at is after the batch layer read it
-- (batch_hourly_stats.read_from) has events the batch has not counted: the sweep recomputes it.
CREATE TABLE IF NOT EXISTS landed_hours (
    timestamp TIMESTAMP PRIMARY KEY,
    events    BIGINT NOT NULL,
    landed_at TIMESTAMPTZ NOT NULL
);
-- When the batch job that wrote an hour began reading it (PostgreSQL's clock, as landed_at).
ALTER TABLE batch_hourly_stats ADD COLUMN IF NOT EXISTS read_from TIMESTAMPTZ;

-- Days whose daily run (compaction, every hour recomputed, bytes_daily) has completed.
CREATE TABLE IF NOT EXISTS serving_days (
    timestamp    TIMESTAMP PRIMARY KEY,
    read_from    TIMESTAMPTZ,  -- the earliest read_from of its hours in that run
    published_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What the sweep (dags/lambda_sweep.py) asked Airflow to run, so one staleness is run once.
CREATE TABLE IF NOT EXISTS batch_requests (
    kind         TEXT NOT NULL,  -- hour | day
    timestamp    TIMESTAMP NOT NULL,
    landed_at    TIMESTAMPTZ NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, timestamp)
);
-- The claim's run, and when the sweep saw it created: a claim without triggered_at (its
-- trigger failed, or was never reached) is claimed again by the next sweep.
ALTER TABLE batch_requests ADD COLUMN IF NOT EXISTS run_id TEXT;
ALTER TABLE batch_requests ADD COLUMN IF NOT EXISTS triggered_at TIMESTAMPTZ;
