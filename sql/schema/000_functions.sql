-- Sums of BIGINT columns are NUMERIC in PostgreSQL; casting one past 2^63-1 back to BIGINT
-- raises. Totals saturate instead, as the Spark jobs' sums do (transforms.saturating_sum):
-- no accepted event can make a view or a batch task fail.
CREATE OR REPLACE FUNCTION saturating_bigint(total NUMERIC) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT least(total, 9223372036854775807)::BIGINT $$;

-- Time partitioning (001_serving_tables.sql): the large tables are partitioned by range of one
-- TIMESTAMP column, one partition per UTC day (<table>_pYYYYMMDD) and a DEFAULT partition, so a
-- write is never refused and expiry drops a whole day instead of deleting rows. The two
-- SECURITY DEFINER functions are what the Airflow role runs for retention (sql/batch/
-- retention.sql). Their search_path is the one they are created with: the schema they are
-- created in (public, where only the owner creates; a test's scratch schema) and pg_temp
-- last, so no caller's temporary object can stand in for one they use.
SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', false);

-- The partitions of a table and their bounds (NULL for the DEFAULT partition).
CREATE OR REPLACE FUNCTION lambda_partitions(tbl regclass)
RETURNS TABLE (part regclass, lower_bound timestamp, upper_bound timestamp)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid::regclass, b[1]::timestamp, b[2]::timestamp
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                    '^FOR VALUES FROM \(''([^'']+)''\) TO \(''([^'']+)''\)$') AS b
    WHERE i.inhparent = tbl
$$;

-- The table's partition key column; raises for anything but a range over one TIMESTAMP.
CREATE OR REPLACE FUNCTION lambda_partition_key(tbl regclass) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key_column text;
BEGIN
    SELECT a.attname INTO key_column
    FROM pg_partitioned_table p
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE p.partrelid = tbl AND p.partstrat = 'r' AND p.partnatts = 1
      AND a.atttypid = 'timestamp'::regtype;
    IF key_column IS NULL THEN
        RAISE EXCEPTION '% is not partitioned by range of one TIMESTAMP column', tbl;
    END IF;
    RETURN key_column;
END $$;

-- Creates the missing daily partitions of [from_day, to_day]; returns their names. Rows the
-- DEFAULT partition holds for such a day move into it (PostgreSQL refuses to attach a range
-- the DEFAULT partition has rows of). Attaching locks the DEFAULT partition until the
-- transaction ends: a write of that day waits, then goes to the new partition.
CREATE OR REPLACE FUNCTION lambda_ensure_partitions(tbl regclass, from_day date, to_day date)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
    key_column text := lambda_partition_key(tbl);
    parent_schema text;
    parent_name text;
    default_part regclass;
    columns text;
    day date;
    part text;
    moved bigint;
BEGIN
    IF to_day - from_day > 1000 THEN
        RAISE EXCEPTION 'refusing to create % daily partitions of % at once', to_day - from_day, tbl;
    END IF;
    SELECT n.nspname, c.relname INTO parent_schema, parent_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    -- One creator at a time per table (the schema's start and the daily DAG may meet); writers
    -- and readers are not blocked by this lock.
    EXECUTE format('LOCK TABLE ONLY %s IN SHARE UPDATE EXCLUSIVE MODE', tbl);
    SELECT c.oid::regclass INTO default_part
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = tbl AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns
    FROM pg_attribute WHERE attrelid = tbl AND attnum > 0 AND NOT attisdropped;
    FOR day IN SELECT d::date FROM generate_series(from_day, to_day, interval '1 day') AS d LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM lambda_partitions(tbl) p
            WHERE p.lower_bound < day + 1 AND p.upper_bound > day
        );
        part := parent_name || '_p' || to_char(day, 'YYYYMMDD');
        EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       parent_schema, part, tbl);
        IF default_part IS NOT NULL THEN
            EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', default_part);
            EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING *)'
                           ' INSERT INTO %I.%I (%s) SELECT %s FROM moved',
                           default_part, key_column, key_column, parent_schema, part, columns,
                           columns)
                USING day::timestamp, (day + 1)::timestamp;
            GET DIAGNOSTICS moved = ROW_COUNT;
            IF moved > 0 THEN
                RAISE NOTICE 'moved % rows of % from % into %', moved, day, default_part, part;
            END IF;
        END IF;
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                       tbl, parent_schema, part, day::timestamp, (day + 1)::timestamp);
        RETURN NEXT part;
    END LOOP;
END $$;

-- Drops every daily partition entirely before `before` except those holding a day of `keep`,
-- and deletes the DEFAULT partition's rows before `before` outside `keep` (rows written where
-- no daily partition existed expire too); returns what went and how many rows it held (the
-- statistics' estimate for a partition: counting would hold the parent tables locked longer).
CREATE OR REPLACE FUNCTION lambda_drop_partitions_before(tbl regclass, before date, keep date[])
RETURNS TABLE (partition_name text, row_count bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
    key_column text := lambda_partition_key(tbl);
    kept date[] := coalesce(keep, '{}');
    p record;
    default_part regclass;
BEGIN
    FOR p IN SELECT * FROM lambda_partitions(tbl) WHERE upper_bound <= before ORDER BY lower_bound
    LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM unnest(kept) AS k
            WHERE k >= p.lower_bound::date AND k < p.upper_bound
        );
        partition_name := p.part::text;
        -- NULL when never analyzed
        row_count := (SELECT CASE WHEN reltuples >= 0 THEN reltuples END FROM pg_class
                      WHERE oid = p.part);
        EXECUTE format('DROP TABLE %s', p.part);
        RAISE NOTICE 'dropped % (about % rows)', partition_name, coalesce(row_count::text, '?');
        RETURN NEXT;
    END LOOP;
    SELECT c.oid::regclass INTO default_part
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = tbl AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    IF default_part IS NOT NULL THEN
        EXECUTE format('DELETE FROM %s WHERE %I < $1 AND NOT date_trunc(''day'', %I)::date = ANY($2)',
                       default_part, key_column, key_column)
            USING before::timestamp, kept;
        GET DIAGNOSTICS row_count = ROW_COUNT;
        IF row_count > 0 THEN
            partition_name := default_part::text;
            RAISE NOTICE 'deleted % rows before % from %', row_count, before, partition_name;
            RETURN NEXT;
        END IF;
    END IF;
END $$;

-- Upgrade of a table created before it was partitioned (owner only, at schema time): a plain
-- table `tbl` becomes `<tbl>_unpartitioned`, its indexes renamed so the partitioned table can
-- take their names, and the views reading it dropped (a view follows a renamed table; the
-- schema files after 001 create them again). No-op for anything but a plain table.
CREATE OR REPLACE FUNCTION lambda_set_aside_unpartitioned(tbl text) RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    old regclass := to_regclass(tbl);
    dependent regclass;
    idx regclass;
BEGIN
    IF old IS NULL OR (SELECT relkind FROM pg_class WHERE oid = old) <> 'r' THEN
        RETURN false;
    END IF;
    FOR dependent IN
        SELECT DISTINCT r.ev_class::regclass
        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.refobjid = old AND r.ev_class <> old
    LOOP
        IF to_regclass(dependent::text) IS NOT NULL THEN  -- not gone with an earlier CASCADE
            RAISE NOTICE 'dropping view % (it reads %)', dependent, tbl;
            EXECUTE format('DROP VIEW %s CASCADE', dependent);
        END IF;
    END LOOP;
    FOR idx IN SELECT indexrelid::regclass FROM pg_index WHERE indrelid = old LOOP
        EXECUTE format('ALTER INDEX %s RENAME TO %I',
                       idx, left((SELECT relname FROM pg_class WHERE oid = idx), 48) || '_unpartitioned');
    END LOOP;
    EXECUTE format('ALTER TABLE %s RENAME TO %I', old, tbl || '_unpartitioned');
    RETURN true;
END $$;

-- The second half of that upgrade: the set-aside table's rows into `target` (the columns both
-- have; the others take their defaults), each day with rows getting its partition; then the
-- set-aside table is dropped. Returns the rows moved (NULL when there was nothing to move).
CREATE OR REPLACE FUNCTION lambda_move_into_partitions(source text, target regclass)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    src regclass := to_regclass(source);
    key_column text := lambda_partition_key(target);
    columns text;
    day date;
    moved bigint;
BEGIN
    IF src IS NULL THEN
        RETURN NULL;
    END IF;
    FOR day IN EXECUTE format('SELECT DISTINCT date_trunc(''day'', %I)::date FROM %s',
                              key_column, src) LOOP
        PERFORM lambda_ensure_partitions(target, day, day);
    END LOOP;
    SELECT string_agg(quote_ident(t.attname), ', ' ORDER BY t.attnum) INTO columns
    FROM pg_attribute t
    JOIN pg_attribute s ON s.attrelid = src AND s.attname = t.attname
                       AND s.attnum > 0 AND NOT s.attisdropped
    WHERE t.attrelid = target AND t.attnum > 0 AND NOT t.attisdropped;
    EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM %s', target, columns, columns, src);
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('DROP TABLE %s', src);
    RAISE NOTICE 'moved % rows of % into the partitioned %', moved, source, target;
    RETURN moved;
END $$;
