-- The speed layer's windows summed per hour, type and key: what the dashboard ranks and the
-- serving views serve for hours the batch layer has not published. With a million devices an
-- hour holds about 12 million window rows but a million hour rows, so a top-N over an hour reads
-- a twelfth of the rows (docs/design.md "Serving at field size").
--
-- Kept by statement triggers on bytes, in the writer's transaction: whoever writes bytes (the
-- speed layer's move, a test, an operator's correction) keeps it equal to the windows' sums, and
-- a batch replayed or rolled back moves both or neither. Partitioned per day like bytes;
-- retention creates and drops the same days of both (sql/batch/retention.sql).
BEGIN;
LOCK TABLE bytes IN SHARE ROW EXCLUSIVE MODE;  -- no window written while it is filled
DO $$
BEGIN
    IF to_regclass('bytes_by_hour') IS NOT NULL THEN
        RETURN;
    END IF;
    CREATE TABLE bytes_by_hour (
        timestamp TIMESTAMP NOT NULL,  -- the hour
        id        TEXT NOT NULL,
        value     BIGINT NOT NULL,
        type      TEXT NOT NULL,
        windows   INTEGER NOT NULL,  -- the window rows of bytes summed in value
        PRIMARY KEY (timestamp, type, id)
    ) PARTITION BY RANGE (timestamp);
    CREATE TABLE bytes_by_hour_default PARTITION OF bytes_by_hour DEFAULT;
    -- An install made before this table: the days bytes has, then their sums.
    PERFORM lambda_ensure_partitions('bytes_by_hour', p.lower_bound::DATE, p.lower_bound::DATE)
    FROM lambda_partitions('bytes') p
    WHERE p.lower_bound IS NOT NULL;
    INSERT INTO bytes_by_hour (timestamp, type, id, value, windows)
    SELECT date_trunc('hour', timestamp), type, id, saturating_bigint(sum(value)), count(*)
    FROM bytes
    GROUP BY 1, 2, 3;
END $$;

-- Each statement's rows added (INSERT), their change added (UPDATE: new minus old, so a changed
-- key moves its value) or subtracted (DELETE); `windows` counts an hour's window rows, and an
-- hour left with none goes. A DELETE or TRUNCATE of a partition itself (retention) fires nothing
-- here: retention drops the same days of bytes_by_hour.
CREATE OR REPLACE FUNCTION lambda_bytes_by_hour() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
    emptied bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE bytes_by_hour;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO bytes_by_hour AS h (timestamp, type, id, value, windows)
        SELECT date_trunc('hour', n.timestamp), n.type, n.id, saturating_bigint(sum(n.value)),
               count(*)
        FROM new_rows n
        GROUP BY 1, 2, 3
        ON CONFLICT (timestamp, type, id) DO UPDATE
        SET value = saturating_bigint(h.value::NUMERIC + EXCLUDED.value),
            windows = h.windows + EXCLUDED.windows;
        RETURN NULL;
    END IF;
    -- UPDATE: the new rows added, the old ones subtracted; DELETE: the old ones subtracted
    -- (a DELETE trigger has no new_rows to name).
    IF TG_OP = 'UPDATE' THEN
        WITH change AS (
            SELECT timestamp, type, id, value::NUMERIC AS value, 1 AS windows FROM new_rows
            UNION ALL
            SELECT timestamp, type, id, -value::NUMERIC, -1 FROM old_rows
        ),
        written AS (
            INSERT INTO bytes_by_hour AS h (timestamp, type, id, value, windows)
            SELECT date_trunc('hour', timestamp), type, id, saturating_bigint(sum(value)),
                   sum(windows)
            FROM change
            GROUP BY 1, 2, 3
            ON CONFLICT (timestamp, type, id) DO UPDATE
            SET value = saturating_bigint(h.value::NUMERIC + EXCLUDED.value),
                windows = h.windows + EXCLUDED.windows
            RETURNING h.windows
        )
        SELECT count(*) INTO emptied FROM written WHERE windows <= 0;
    ELSE
        WITH written AS (
            UPDATE bytes_by_hour h
            SET value = saturating_bigint(h.value::NUMERIC - o.value),
                windows = h.windows - o.windows
            FROM (SELECT date_trunc('hour', timestamp) AS timestamp, type, id,
                         sum(value) AS value, count(*) AS windows
                  FROM old_rows GROUP BY 1, 2, 3) o
            WHERE h.timestamp = o.timestamp AND h.type = o.type AND h.id = o.id
            RETURNING h.windows
        )
        SELECT count(*) INTO emptied FROM written WHERE windows <= 0;
    END IF;
    IF emptied > 0 THEN  -- only then: the speed layer's updates never empty an hour
        DELETE FROM bytes_by_hour
        WHERE windows <= 0
          AND (timestamp, type, id) IN (
              SELECT date_trunc('hour', timestamp), type, id FROM old_rows
          );
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER bytes_by_hour_insert AFTER INSERT ON bytes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lambda_bytes_by_hour();
CREATE OR REPLACE TRIGGER bytes_by_hour_update AFTER UPDATE ON bytes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lambda_bytes_by_hour();
CREATE OR REPLACE TRIGGER bytes_by_hour_delete AFTER DELETE ON bytes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lambda_bytes_by_hour();
CREATE OR REPLACE TRIGGER bytes_by_hour_truncate AFTER TRUNCATE ON bytes
    FOR EACH STATEMENT EXECUTE FUNCTION lambda_bytes_by_hour();
COMMIT;

SELECT lambda_ensure_partitions('bytes_by_hour', today - 2, today + 7)
FROM CAST(now() AT TIME ZONE 'UTC' AS DATE) AS today;
