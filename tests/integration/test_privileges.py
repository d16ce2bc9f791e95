"""Least privilege, proved against the real server: each role can do its job and is refused
everything else (docs/configuration.md "Database roles and secrets"); the private cluster's
socket trusts no one."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from telemetry import config, postgres
from telemetry.speed import commit

from ..system import listeners

pytestmark = pytest.mark.integration

T0 = dt.datetime(2001, 1, 1)  # far from any other test's rows
HOUR = dt.timedelta(hours=1)
SERVICE_ROLES = ("speed", "batch", "airflow", "reader")
SPEED_TABLES = {
    "bytes": "value",
    "quarantine": "kafka_offset",
    "speed_layer_progress": "batch_id",
    "speed_layer_offsets": "applied_through",
}
# Table-level privileges of each role (the reader's: SELECT on every table and view).
EXPECTED_GRANTS = {
    "speed": {
        "bytes": {"SELECT", "INSERT", "UPDATE"},
        "quarantine": {"SELECT", "INSERT"},
        "speed_layer_progress": {"SELECT", "INSERT", "UPDATE"},
        "speed_layer_offsets": {"SELECT", "INSERT", "UPDATE"},
        "landed_hours": {"SELECT", "INSERT", "UPDATE"},
        # Its executors stage, its driver moves and deletes (telemetry.pg_stage).
        "staged_bytes": {"SELECT", "INSERT", "DELETE"},
        "staged_quarantine": {"SELECT", "INSERT", "DELETE"},
    },
    "batch": {
        "user_metadata": {"SELECT"},
        **{
            t: {"SELECT", "INSERT", "DELETE"}
            for t in ("bytes_hourly", "user_quota_limit", "batch_hourly_stats", "bytes_daily")
        },
        "staged_bytes_hourly": {"SELECT", "INSERT", "DELETE"},
        "staged_user_quota_limit": {"SELECT", "INSERT", "DELETE"},
        "serving_days": {"SELECT"},  # the Parquet retention: published days only
        "landed_hours": {"SELECT"},
    },
    "airflow": {
        **{
            t: {"SELECT"}
            for t in (
                "speed_layer_progress",
                "bytes",
                "bytes_by_hour",  # reconcile.sql's speed totals
                "bytes_hourly",
                "batch_hourly_stats",
                "landed_hours",
            )
        },
        **{
            t: {"SELECT", "INSERT", "UPDATE"}
            for t in ("reconciliation", "serving_hours", "serving_days")
        },
        **{
            t: {"SELECT", "INSERT", "UPDATE", "DELETE"}
            for t in ("batch_requests", "quarantine_daily")
        },
        "batch_task_failures": {"SELECT", "INSERT", "DELETE"},
    },
}
# Who may run the owner's partition functions (SECURITY DEFINER: retention's only way to create
# and drop partitions); the upgrade helpers are the owner's alone.
DEFINER_FUNCTIONS = (
    "lambda_ensure_partitions(regclass, date, date)",
    "lambda_drop_partitions_before(regclass, date, date[])",
)
OWNER_FUNCTIONS = (
    "lambda_partitions(regclass)",
    "lambda_partition_key(regclass)",
    "lambda_set_aside_unpartitioned(text)",
    "lambda_move_into_partitions(text, regclass)",
)


def connect(settings: config.Settings, role: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(settings.as_role(role).pg_dsn, autocommit=True, **kwargs)


def refused(conn: psycopg.Connection, statement: str, error=errors.InsufficientPrivilege) -> None:
    with pytest.raises(error):
        conn.execute(statement)


@pytest.fixture(scope="module")
def relations(settings) -> dict[str, str]:
    """Every table and view of the schema: name -> 'BASE TABLE' or 'VIEW'."""
    with connect(settings, "owner") as conn:
        rows = conn.execute(
            "SELECT table_name, table_type FROM information_schema.tables"
            " WHERE table_schema = 'public'"
        ).fetchall()
    assert {"bytes", "bytes_hourly", "serving_bytes_hourly"} <= {name for name, _ in rows}
    return dict(rows)


def test_roles_hold_exactly_the_documented_privileges(settings, relations):
    logins = {role: settings.pg_login(role) for role in config.PG_ROLES}
    with connect(settings, "owner") as conn:
        rows = conn.execute(
            "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE table_schema = 'public' AND grantee = ANY(%s)",
            ([logins[r] for r in SERVICE_ROLES],),
        ).fetchall()
        grants: dict[str, dict[str, set[str]]] = {role: {} for role in SERVICE_ROLES}
        by_login = {login: role for role, login in logins.items()}
        for grantee, table, privilege in rows:
            grants[by_login[grantee]].setdefault(table, set()).add(privilege)
        columns = conn.execute(
            "SELECT a.attrelid::regclass::text, a.attname, g.grantee::regrole::text,"
            " g.privilege_type FROM pg_attribute a, aclexplode(a.attacl) g"
            " WHERE a.attacl IS NOT NULL AND a.attrelid::regclass::text = ANY(%s)",
            (list(relations),),
        ).fetchall()
        attributes = conn.execute(
            "SELECT rolname, rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls"
            " FROM pg_roles WHERE rolname = ANY(%s)",
            (list(logins.values()),),
        ).fetchall()
        database = {
            role: conn.execute(
                "SELECT has_database_privilege(%s, current_database(), 'CONNECT'),"
                " has_database_privilege(%s, current_database(), 'TEMP'),"
                " has_database_privilege(%s, current_database(), 'CREATE'),"
                " has_schema_privilege(%s, 'public', 'CREATE')",
                (login,) * 4,
            ).fetchone()
            for role, login in logins.items()
        }
    for role, expected in EXPECTED_GRANTS.items():
        assert grants[role] == expected, role
    assert grants["reader"] == {name: {"SELECT"} for name in relations}
    # Column privileges: the Airflow tasks read the quarantine's times and reasons, not its
    # payloads.
    assert sorted(columns) == [
        ("quarantine", "kafka_timestamp", logins["airflow"], "SELECT"),
        ("quarantine", "reason", logins["airflow"], "SELECT"),
    ]
    assert sorted(attributes) == sorted((login, False) for login in logins.values())
    assert database == {
        "owner": (True, True, True, True),
        "speed": (True, False, False, False),
        "batch": (True, False, False, False),
        "airflow": (True, False, False, False),
        "reader": (True, False, False, False),
        "metadata": (False, False, False, False),
    }


def test_only_the_airflow_role_runs_the_partition_functions(settings):
    logins = {role: settings.pg_login(role) for role in SERVICE_ROLES}
    with connect(settings, "owner") as conn:
        for function in (*DEFINER_FUNCTIONS, *OWNER_FUNCTIONS):
            may = {
                role: conn.execute(
                    "SELECT has_function_privilege(%s, %s, 'EXECUTE')", (login, function)
                ).fetchone()[0]
                for role, login in logins.items()
            }
            airflow = function in DEFINER_FUNCTIONS
            assert may == {role: role == "airflow" and airflow for role in logins}, function


def test_reader_reads_everything_and_writes_nothing(settings, relations):
    with connect(settings, "reader") as conn:
        for name in relations:
            conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(name)))
        tables = [name for name, kind in relations.items() if kind == "BASE TABLE"]
        # Read-only by default, and without the privilege once the reader turns that off.
        refused(conn, "DELETE FROM bytes", errors.ReadOnlySqlTransaction)
        conn.execute("SET default_transaction_read_only = off")
        for name in tables:
            table = sql.Identifier(name)
            first = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                " ORDER BY ordinal_position LIMIT 1",
                (name,),
            ).fetchone()[0]
            column = sql.Identifier(first)
            for statement in (
                sql.SQL("INSERT INTO {} DEFAULT VALUES").format(table),
                sql.SQL("UPDATE {} SET {} = {}").format(table, column, column),
                sql.SQL("DELETE FROM {}").format(table),
                sql.SQL("TRUNCATE {}").format(table),
            ):
                refused(conn, statement)
        refused(conn, "CREATE TABLE mine (x int)")
        refused(conn, "CREATE FUNCTION mine() RETURNS int LANGUAGE sql AS 'SELECT 1'")


def test_speed_role_does_its_job_and_cannot_touch_the_schema_or_the_batch_layer(pg, settings):
    speed = settings.as_role("speed")
    writer = commit.SpeedWriter(speed)
    topic = "privileges-test"
    quarantined = ("t", 0, 1, T0, "not_json", b"x", 1)
    for batch_id, (before, after, value) in enumerate([({}, {0: 4}, 1), ({0: 4}, {0: 9}, 2)]):
        token = f"privileges-{batch_id}"
        with connect(settings, "speed") as conn:  # as its executors stage (telemetry.pg_stage)
            conn.execute(
                "INSERT INTO staged_bytes (token, part, timestamp, id, value, type)"
                " VALUES (%s, 0, %s, 'a', %s, 'app_bytes_total')",
                (token, T0, value),
            )
            conn.execute(
                "INSERT INTO staged_quarantine (token, part, kafka_topic, kafka_partition,"
                " kafka_offset, kafka_timestamp, reason, payload, payload_length)"
                " VALUES (%s, 0, %s, %s, %s, %s, %s, %s, %s)",
                (token, *quarantined),
            )
        work = commit.SpeedBatch(
            topic=topic,
            batch_id=batch_id,
            token=token,
            staged={"bytes": 1, "quarantine": 1},
            offsets_before=before,
            offsets_after=after,
            last_record_times={0: T0},
            landed_hours={T0: 1},
            watermark=T0 + batch_id * HOUR,
            max_event_time=T0 + batch_id * HOUR,
            input_rows=1,
            rows_per_second=1.0,
        )
        writer.apply(work)
    assert pg.execute("SELECT value FROM bytes WHERE timestamp = %s", (T0,)).fetchall() == [(3,)]
    assert writer.load(topic)[0] == {0: 9}
    with pytest.raises(commit.StaleSpeedStateError):  # another writer got there first
        writer.apply(work)
    writer.close()

    with connect(settings, "speed") as conn:
        refused(conn, "DROP TABLE bytes")
        refused(conn, "ALTER TABLE bytes ADD COLUMN extra INTEGER")
        refused(conn, "CREATE INDEX extra ON bytes (value)")
        refused(conn, "TRUNCATE bytes")
        refused(conn, "DELETE FROM bytes")
        refused(conn, "CREATE TABLE mine (x int)")
        refused(conn, "INSERT INTO bytes_hourly VALUES (now(), 'a', 1, 'app_bytes_total')")
        refused(conn, "DELETE FROM bytes_hourly")
        refused(conn, "INSERT INTO serving_hours VALUES (now())")
        refused(conn, "UPDATE user_metadata SET quota = 0")
        refused(conn, "SELECT * FROM user_metadata")
        refused(conn, "CREATE ROLE intruder")


def test_batch_role_does_its_job_and_cannot_write_the_speed_layer(pg, settings):
    batch = settings.as_role("batch")
    with connect(settings, "batch") as conn:  # as its executors stage (telemetry.pg_stage)
        conn.execute(
            "INSERT INTO staged_bytes_hourly (token, part, timestamp, id, value, type)"
            " VALUES ('privileges', 0, %s, 'a', 5, 'app_bytes_total')",
            (T0,),
        )
    written = postgres.replace_hours(
        batch, T0, T0 + HOUR, "privileges", {"bytes_hourly": 1}, [(T0, 1, *[0] * 7)], T0
    )
    assert written == {"bytes_hourly": 1, "user_quota_limit": 0, "batch_hourly_stats": 1}
    assert postgres.replace_days_from_hours(batch, T0, T0 + dt.timedelta(days=1)) == 1

    with connect(settings, "batch") as conn:
        conn.execute("SELECT id, email, quota FROM user_metadata")  # Spark's JDBC read
        for table, column in SPEED_TABLES.items():
            refused(conn, f"DELETE FROM {table}")
            refused(conn, f"UPDATE {table} SET {column} = {column}")
        refused(conn, "INSERT INTO bytes VALUES (now(), 'a', 1, 'app_bytes_total')")
        refused(
            conn,
            "INSERT INTO quarantine (kafka_topic, kafka_partition, kafka_offset,"
            " kafka_timestamp, reason) VALUES ('t', 0, 2, now(), 'x')",
        )
        refused(conn, "INSERT INTO reconciliation SELECT now(), 't', 0, 0, 0, 0, 0")
        refused(conn, "DROP TABLE bytes_hourly")
        refused(conn, "CREATE TEMP TABLE scratch (x int)")


def test_airflow_role_reads_both_layers_and_writes_only_reconciliation(pg, settings):
    with connect(settings, "airflow") as conn:
        conn.execute("SELECT count(*) FROM quarantine WHERE kafka_timestamp >= now()")
        conn.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason")
        # Partitions only through the owner's functions (retention.sql), never by hand.
        conn.execute("SELECT * FROM lambda_drop_partitions_before('bytes', '2000-01-01', '{}')")
        refused(conn, "DROP TABLE bytes_default")
        refused(conn, "ALTER TABLE bytes DETACH PARTITION bytes_default")
        refused(
            conn,
            "CREATE TABLE bytes_p19990101 PARTITION OF bytes FOR VALUES FROM"
            " ('1999-01-01') TO ('1999-01-02')",
        )
        conn.execute("SELECT count(*) FROM bytes, bytes_hourly, batch_hourly_stats")
        conn.execute("INSERT INTO serving_hours (timestamp) VALUES (%s)", (T0,))
        refused(conn, "SELECT payload FROM quarantine")
        refused(conn, "INSERT INTO bytes VALUES (now(), 'a', 1, 'app_bytes_total')")
        refused(conn, "UPDATE bytes SET value = 0")
        refused(conn, "DELETE FROM bytes")
        refused(conn, "DELETE FROM bytes_hourly")
        refused(conn, "DELETE FROM serving_hours")
        refused(conn, "UPDATE user_metadata SET quota = 0")


@pytest.mark.parametrize("role", ["owner", *SERVICE_ROLES])
def test_no_telemetry_role_can_connect_to_the_airflow_database(settings, role):
    dsn = settings.as_role(role).pg_dsn.replace(
        f"dbname={settings.pg_db}", f"dbname={settings.airflow_db}"
    )
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(dsn).close()


def test_airflow_metadata_role_reaches_only_its_own_database(settings):
    with psycopg.connect(settings.as_role("metadata").pg_dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == settings.airflow_db
    other = settings.as_role("metadata").pg_dsn.replace(
        f"dbname={settings.airflow_db}", f"dbname={settings.pg_db}"
    )
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(other).close()


# --- The private cluster's local socket ---------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(settings) -> dict:
    """The managed server's process, OS user, data folder and socket folder (from /proc)."""
    if not settings.pg_managed:
        pytest.skip("PostgreSQL is someone else's (LAMBDA_PG_HOST)")
    server = [x for x in listeners() if x.port == settings.pg_port and "-D" in x.command]
    assert server, f"no PostgreSQL listening on port {settings.pg_port}"
    pid = server[0].pid
    data = Path(re.search(r"-D (\S+)", server[0].command).group(1))
    conf = (data / "postgresql.conf").read_text()
    sockets = re.findall(r"^unix_socket_directories\s*=\s*'([^']*)'", conf, re.MULTILINE)
    return {
        "uid": os.stat(f"/proc/{pid}").st_uid,
        "data": data,
        "socket_dir": Path(sockets[-1].split(",")[0].strip()),
    }


def test_pg_hba_has_no_trust_and_the_socket_is_the_superuser_s_alone(cluster):
    rules = [
        line.split()
        for line in (cluster["data"] / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert rules and not [r for r in rules if "trust" in r]
    assert [r for r in rules if r[0] == "local"] == [
        ["local", "all", "postgres", "peer", "map=cluster_owner"]
    ]
    assert all(r[-1] == "scram-sha-256" and r[3] in ("127.0.0.1/32", "::1/128") for r in rules[1:])
    folder = cluster["socket_dir"].stat()
    assert (folder.st_mode & 0o777, folder.st_uid) == (0o700, cluster["uid"])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as other OS users")
def test_other_os_users_cannot_use_the_socket_as_the_superuser(settings, cluster):
    psql = shutil.which("psql")
    assert psql and cluster["uid"] != 0
    # Root gets through the folder but is not the server's OS user: peer refuses it.
    with pytest.raises(
        psycopg.OperationalError, match='Peer authentication failed for user "postgres"'
    ):
        psycopg.connect(
            host=str(cluster["socket_dir"]),
            port=settings.pg_port,
            user="postgres",
            dbname="postgres",
            connect_timeout=5,
        ).close()
    # Any other user cannot even reach the socket (folder mode 0700), with no password prompt.
    nobody = subprocess.run(
        [
            "runuser",
            "-u",
            "nobody",
            "--",
            psql,
            "-w",
            "-h",
            str(cluster["socket_dir"]),
            "-p",
            str(settings.pg_port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "SELECT 1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert nobody.returncode != 0 and "Permission denied" in nobody.stderr, nobody.stderr
    # The server's own OS user is the superuser, and the rules it loaded trust nobody.
    loaded = subprocess.run(
        [
            "runuser",
            "-u",
            pwd.getpwuid(cluster["uid"]).pw_name,
            "--",
            psql,
            "-w",
            "-X",
            "-At",
            "-h",
            str(cluster["socket_dir"]),
            "-p",
            str(settings.pg_port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "SELECT DISTINCT type || ' ' || auth_method FROM pg_hba_file_rules",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert loaded.returncode == 0, loaded.stderr
    assert set(loaded.stdout.split("\n")) - {""} == {"local peer", "host scram-sha-256"}
