"""What the settings imply beyond their values: PostgreSQL logins, passwords and connection
strings, Airflow's environment and connections, durations in seconds. The base of
config.Settings; standard library only (the shell scripts run config.py with a bare Python)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[2]
LINEAGE_NAMESPACE = "lambda_telemetry"  # the OpenLineage namespace of the DAGs and batch jobs
# The PostgreSQL roles (docs/configuration.md). A process connects as one of them: the Spark
# apps name theirs (speed, batch), others take LAMBDA_PG_ROLE (default owner).
PG_ROLES = ("owner", "speed", "batch", "airflow", "reader", "metadata")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def duration_seconds(text: str) -> int:
    """'90 seconds', '1 minute', '2 hours' (Spark interval words) in seconds; ValueError else."""
    parts = text.split()
    try:
        unit = parts[1].rstrip("s") if len(parts) > 1 else "second"
        return int(parts[0]) * _UNITS[unit]
    except (IndexError, KeyError) as exc:
        raise ValueError(text) from exc


def _conninfo_quote(value: str) -> str:
    """A libpq connection-string value, quoted (a given password may hold spaces or quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class DerivedSettings:
    """Methods of config.Settings (a frozen dataclass built from the declared settings)."""

    @property
    def window_seconds(self) -> int:
        return duration_seconds(self.window)

    @property
    def watermark_seconds(self) -> int:
        return duration_seconds(self.watermark)

    def pg_login(self, role: str | None = None) -> str:
        """The PostgreSQL user name of a role (of this process's role by default)."""
        role = role or self.pg_role
        if role == "owner":
            return self.pg_user
        return self.airflow_db_user if role == "metadata" else f"{self.pg_user}_{role}"

    def password_path(self, role: str | None = None) -> Path:
        role = role or self.pg_role
        if role == self.pg_role and self.pg_password_file is not None:
            return self.pg_password_file
        return self.secrets_dir / f"pg_password_{role}"

    def password_of(self, role: str | None = None) -> str:
        """A role's password, read from its file (never from the command line or a template)."""
        role = role or self.pg_role
        if role == "owner" and self.pg_owner_password and self.pg_password_file is None:
            return self.pg_owner_password
        path = self.password_path(role)
        try:
            return path.read_text().strip()
        except OSError:
            raise ConfigError(
                f"no password for PostgreSQL role {self.pg_login(role)!r} in {path} "
                "(include/scripts/postgres.sh start creates the roles and their password files)"
            ) from None

    @property
    def pg_password(self) -> str:
        return self.password_of(self.pg_role)

    def as_role(self, role: str):
        """The same settings, connecting as another role (with that role's own password file)."""
        if role not in PG_ROLES:
            raise ConfigError(f"unknown PostgreSQL role {role!r}: one of {', '.join(PG_ROLES)}")
        return replace(self, pg_role=role, pg_password_file=None)

    @property
    def pg_dsn(self) -> str:
        """libpq connection string for psycopg (the metadata role's is Airflow's database)."""
        db = self.airflow_db if self.pg_role == "metadata" else self.pg_db
        return (
            f"host={self.pg_host} port={self.pg_port} dbname={db} "
            f"user={self.pg_login()} password={_conninfo_quote(self.pg_password)} connect_timeout=5"
        )

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.pg_host}:{self.pg_port}/{self.pg_db}"

    @property
    def jars_dir(self) -> Path:
        return self.tools_dir / "jars"

    @property
    def spark_venv(self) -> Path:
        return self.tools_dir / "venv" / "spark"

    @property
    def lineage_dir(self) -> Path:
        """Where the file transport appends the OpenLineage events (airflow.jsonl, spark.jsonl)."""
        return self.home / "lineage"

    def metadata_url(self) -> str:
        """Airflow's metadata database, as its own role (printed by `config.py metadata-url`)."""
        meta = self.as_role("metadata")
        pw = quote(meta.pg_password, safe="")
        user = meta.pg_login()
        return f"postgresql+psycopg2://{user}:{pw}@{self.pg_host}:{self.pg_port}/{self.airflow_db}"

    def airflow_connections(self) -> dict[str, dict]:
        """Airflow's secret connections (written to a mode-600 file, never the environment):
        the SQL tasks connect as the airflow role."""
        tasks = self.as_role("airflow")
        return {
            "telemetry_db": {
                "conn_type": "postgres",
                "host": self.pg_host,
                "port": self.pg_port,
                "schema": self.pg_db,
                "login": tasks.pg_login(),
                "password": tasks.pg_password,
            }
        }

    @property
    def airflow_connections_file(self) -> Path:
        return self.home / "secrets" / "airflow_connections.json"

    def airflow_env(self) -> dict[str, str]:
        """Environment for every Airflow process: metadata DB, connections, folders. No secret:
        the metadata URL comes from a command, the SQL tasks' connection from a file."""
        config_py = REPO_ROOT / "spark_apps" / "telemetry" / "config.py"
        metadata_cmd = shlex.join([sys.executable, str(config_py), "metadata-url"])
        spark_conn = {
            "conn_type": "spark",
            "host": self.spark_master,
            "extra": {"deploy-mode": "client"},
        }
        airflow_home = self.home / "airflow"
        return {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": os.environ.get(
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False"
            ),
            # False in the tests: only their backfills and triggers make runs.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": os.environ.get(
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE", "True"
            ),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": metadata_cmd,
            "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
            "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(
                {"connections_file_path": str(self.airflow_connections_file)}
            ),
            "AIRFLOW__API__PORT": str(self.airflow_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.airflow_port}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                airflow_home / "simple_auth_manager_passwords.json"
            ),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs" / "airflow"),
            "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps(spark_conn),
            **self._lineage_env(),
        }

    def _lineage_env(self) -> dict[str, str]:
        """Airflow's OpenLineage provider: the LAMBDA_LINEAGE transport, and the run's ids handed
        to each spark-submit, so the batch job's events name their Airflow task as parent
        (the job's own transport: telemetry/lineage.py)."""
        if self.lineage == "off":
            return {"AIRFLOW__OPENLINEAGE__DISABLED": "true"}
        if self.lineage == "file":
            path = str(self.lineage_dir / "airflow.jsonl")
            transport = {"type": "file", "log_file_path": path, "append": True}
        elif self.lineage == "console":
            transport = {"type": "console"}
        else:
            transport = {"type": "http", "url": self.lineage}
        return {
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": LINEAGE_NAMESPACE,
            "AIRFLOW__OPENLINEAGE__SPARK_INJECT_PARENT_JOB_INFO": "true",
        }
