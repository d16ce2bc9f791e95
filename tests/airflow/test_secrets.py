"""Airflow gets its secrets without exposing them: the metadata URL from a command, the SQL
tasks' connection from a mode-600 file (as the Airflow-task role), nothing in the environment,
`ps`, the logs or a rendered task; every Airflow socket on loopback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import stat
import subprocess

import psycopg
import pytest

from telemetry import config

from ..system import command_line, environment, leaks, listeners, project_processes, secrets

WORKER_LOG_SERVER_PORT = 8793  # Airflow's default [logging] worker_log_server_port


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_environment_names_where_secrets_are_not_what_they_are(settings):
    secret_values = secrets(settings)
    exported = config.shell_exports(settings)
    assert leaks(exported, secret_values) == []
    assert leaks("\n".join(f"{k}={v}" for k, v in os.environ.items()), secret_values) == []
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=" not in exported
    assert "AIRFLOW_CONN_TELEMETRY_DB" not in exported and "LAMBDA_PG_PASSWORD=" not in exported
    # The command Airflow runs for its metadata URL: the metadata role, its own database.
    command = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"]
    url = subprocess.run(shlex.split(command), capture_output=True, text=True, check=True).stdout
    assert url.startswith(f"postgresql+psycopg2://{settings.pg_login('metadata')}:")
    assert url.endswith(f"/{settings.airflow_db}")


def test_secret_files_are_private_and_the_sql_tasks_use_their_own_role(settings):
    folders = {settings.secrets_dir, settings.airflow_connections_file.parent}
    assert {mode(folder) for folder in folders} == {0o700}
    files = [*settings.secrets_dir.glob("pg_password_*"), settings.airflow_connections_file]
    assert len(files) == len(config.PG_ROLES) + 1
    assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}

    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection("telemetry_db")  # through the secrets backend
    assert connection.login == settings.pg_login("airflow")
    dsn = settings.as_role("airflow").pg_dsn
    with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO bytes VALUES (now(), 'x', 1, 'app_bytes_total')")


def test_airflow_listens_on_loopback_only_and_leaks_no_secret(settings):
    secret_values = secrets(settings)
    processes = project_processes(settings)
    scheduler = int((settings.home / "run" / "airflow-scheduler.pid").read_text())
    assert scheduler in processes
    sockets = listeners(processes)
    assert settings.airflow_port in {x.port for x in sockets}
    exposed = [x for x in sockets if not x.on_loopback]
    assert exposed == [], "\n".join(f"{x.address}:{x.port} {x.command}" for x in exposed)
    # No log server at all (Airflow 3.3's would listen on every interface).
    assert WORKER_LOG_SERVER_PORT not in {x.port for x in sockets}

    every_pid = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    in_arguments = {pid: leaks(command_line(pid), secret_values) for pid in every_pid}
    assert {pid: found for pid, found in in_arguments.items() if found} == {}
    in_environment = {pid: leaks(environment(pid), secret_values) for pid in processes}
    assert {pid: found for pid, found in in_environment.items() if found} == {}


def render(dag_id: str, task_id: str, logical_date: str) -> str:
    """`airflow tasks render`: the task's template fields as a run would see them (the CLI's
    own command, run in this process: three CLI start-ups cost 20-30 s)."""
    from airflow.cli import cli_parser

    args = cli_parser.get_parser().parse_args(["tasks", "render", dag_id, task_id, logical_date])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        args.func(args)
    return out.getvalue()


def test_rendered_tasks_hold_no_secret_and_bind_the_interval(settings, airflow_db):
    secret_values = secrets(settings)
    logical_date = "2026-01-01T01:00:00+00:00"
    for task_id in ("wait_for_hour_complete", "compute_hour", "reconcile_hour"):
        text = render("lambda_hourly", task_id, logical_date)
        assert leaks(text, secret_values) == [], task_id
        if task_id != "compute_hour":
            # The SQL text is the file as it is; the values travel as bind parameters.
            sql_part, params_part = text.split("# property: parameters")
            assert "%(interval_end)s" in sql_part and "2026-01-01" not in sql_part, task_id
            assert "'interval_end': '2026-01-01T01:00:00+00:00'" in params_part, task_id
    # What Airflow stored of every task that ran in this session.
    stored = airflow_db.execute(
        "SELECT coalesce(string_agg(rendered_fields::text, ' '), '')"
        " FROM rendered_task_instance_fields"
    ).fetchone()[0]
    assert leaks(stored, secret_values) == []
    reconcile = airflow_db.execute(
        "SELECT rendered_fields::text FROM rendered_task_instance_fields"
        " WHERE dag_id = 'lambda_hourly' AND task_id = 'reconcile_hour' LIMIT 1"
    ).fetchone()
    if reconcile:  # the DAG tests ran before this one
        assert "%(interval_start)s" in json.loads(reconcile[0])["sql"]


def test_logs_and_airflow_files_hold_no_secret(settings):
    secret_values = secrets(settings)
    files = [p for p in (settings.home / "logs").rglob("*") if p.is_file()]
    files += [p for p in (settings.home / "airflow").glob("*.cfg")]
    assert any("airflow" in p.name for p in files)
    for path in files:
        assert leaks(path.read_text(errors="replace"), secret_values) == [], path
