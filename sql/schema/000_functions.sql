-- Sums of BIGINT columns are NUMERIC in PostgreSQL; casting one past 2^63-1 back to BIGINT
-- raises. Totals saturate instead, as the Spark jobs' sums do (transforms.saturating_sum):
-- no accepted event can make a view or a batch task fail.
CREATE OR REPLACE FUNCTION saturating_bigint(total NUMERIC) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT least(total, 9223372036854775807)::BIGINT $$;
