-- The project's roles and databases (docs/configuration.md "Database roles and secrets"), idempotent. Run by
-- include/scripts/postgres.sh start as the private cluster's superuser; on someone else's server
-- an administrator runs the same: `bash include/scripts/postgres.sh roles-sql | psql ...`.
-- psql variables (`python -m telemetry.pg_roles psql-vars`, on stdin): db, airflow_db,
-- <role>_role (names) and <role>_verifier (SCRAM verifiers: no plain password reaches the server).

SELECT format('CREATE ROLE %I LOGIN', r)
FROM unnest(ARRAY[:'owner_role', :'speed_role', :'batch_role', :'airflow_role', :'reader_role',
                  :'metadata_role']) AS r
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

-- No role may create roles or databases; the passwords are re-set so they match the files.
ALTER ROLE :"owner_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_verifier';
ALTER ROLE :"speed_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'speed_verifier';
ALTER ROLE :"batch_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'batch_verifier';
ALTER ROLE :"airflow_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'airflow_verifier';
ALTER ROLE :"reader_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_verifier';
ALTER ROLE :"metadata_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'metadata_verifier';
-- People and dashboards: a write fails even before the privilege check.
ALTER ROLE :"reader_role" SET default_transaction_read_only = on;
-- The dashboard's queries are short: compiling one (JIT) cost more than it saved at field size
-- (docs/design.md "Serving at field size").
ALTER ROLE :"reader_role" SET jit = off;

SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'airflow_db', :'metadata_role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'airflow_db') \gexec

-- A cluster from when the owner role had Airflow's database too: it and everything in it pass to
-- the metadata role. REASSIGN OWNED also moves the databases the owner owns (shared objects), so
-- the telemetry database is given back right after.
SELECT pg_get_userbyid(datdba) = :'owner_role' AS airflow_db_to_move
FROM pg_database WHERE datname = :'airflow_db' \gset
\if :airflow_db_to_move
\connect :airflow_db
REASSIGN OWNED BY :"owner_role" TO :"metadata_role";
ALTER DATABASE :"db" OWNER TO :"owner_role";
\endif

-- Airflow's database is the metadata role's alone (its owner keeps CONNECT as the owner).
REVOKE ALL ON DATABASE :"airflow_db" FROM PUBLIC;
