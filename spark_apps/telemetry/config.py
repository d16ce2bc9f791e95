"""Every setting of the product, read in one place from the environment, with local defaults.

Imports nothing outside the standard library, so the Spark apps, the DAGs, the simulator, the
tests and the shell scripts (``python spark_apps/telemetry/config.py shell``) share one source
of truth for names, ports, paths and credentials.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[2]


# Every topic the project creates: the broker stamps each record with its append time, so the
# future-time rule (event time vs. Kafka time) gives the same verdict when a batch is replayed
# and a producer cannot choose the reference clock.
TOPIC_CONFIGS: dict[str, str] = {"message.timestamp.type": "LogAppendTime"}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def storage_uri(value: str) -> str:
    """A storage location as Spark and Hadoop take it: a URI (hdfs://nn:8020/raw, s3a://b/x,
    file:///data) is kept as given, a bare path is made absolute. Never a pathlib.Path, which
    folds the double slash of hdfs:// and s3a://."""
    value = value.strip()
    if _SCHEME.match(value):
        return value.rstrip("/") if not value.endswith(":///") else value
    return str(Path(value).resolve())


def uri_join(base: str, *parts: str) -> str:
    """``base`` / ``parts`` for a storage_uri (a URI's slashes stay as they are)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def is_local(uri: str) -> bool:
    """A location on this machine's file system (a bare path or file:)."""
    return not _SCHEME.match(uri) or uri.startswith("file:")


def local_path(uri: str) -> Path:
    """The path of a local location (is_local): file:// or file: taken off."""
    return Path(uri.removeprefix("file://").removeprefix("file:"))


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = _env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be >= {minimum}")
    return value


def _env_nice(name: str, default: int) -> int:
    value = _env_int(name, default)
    if value > 19:
        raise ConfigError(f"{name}={value} must be a nice value, 0 to 19")
    return value


def _env_url(name: str) -> str:
    value = _env(name, "")
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL")
    return value


def alert_webhook_url() -> str:
    """LAMBDA_ALERT_WEBHOOK_URL alone: the failure notifier reads it without load(), since it
    must post even when another setting is what broke the task."""
    return _env_url("LAMBDA_ALERT_WEBHOOK_URL")


LINEAGE_NAMESPACE = "lambda_telemetry"  # the OpenLineage namespace of the DAGs and batch jobs


def _env_log_level(name: str, default: str) -> str:
    value = _env(name, default).upper()
    levels = ("ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF")
    if value not in levels:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(levels)}")
    return value


def _env_lineage(name: str) -> str:
    value = _env(name, "file")
    if value not in ("file", "console", "off") and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={value!r}: file, console, off or an http(s):// URL")
    return value


def _duration_seconds(name: str, default: str) -> int:
    """Parse '90 seconds', '1 minute', '2 hours' (Spark interval words) into seconds."""
    raw = _env(name, default)
    units = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
    parts = raw.split()
    try:
        amount = int(parts[0])
        unit = parts[1].rstrip("s") if len(parts) > 1 else "second"
        return amount * units[unit]
    except (IndexError, KeyError, ValueError):
        raise ConfigError(
            f"{name}={raw!r} is not a duration like '1 minute' or '30 seconds'"
        ) from None


def _conninfo_quote(value: str) -> str:
    """A libpq connection-string value, quoted (a given password may hold spaces or quotes)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# The PostgreSQL roles (docs/configuration.md). A process connects as one of them:
# the Spark apps name theirs (speed, batch), others take LAMBDA_PG_ROLE (default owner).
PG_ROLES = ("owner", "speed", "batch", "airflow", "reader", "metadata")


@dataclass(frozen=True)
class Settings:
    home: Path  # run-time state: data, checkpoints, logs, service folders
    tools_dir: Path  # what set-up installs: Python environments, jars (shared by test runs)
    # Kafka
    kafka_bootstrap: str
    kafka_topic: str
    kafka_partitions: int
    kafka_managed: bool
    kafka_port: int
    kafka_controller_port: int
    # PostgreSQL
    pg_host: str
    pg_port: int
    pg_db: str
    pg_user: str  # the owner role: owns the schema; set-up, tests and operators, no service
    pg_managed: bool = True
    # Brokers kafka.sh starts (broker i on kafka_port + 10 (i - 1)); the topic's replicas and
    # the in-sync replicas an acks=all write needs.
    kafka_brokers: int = 1
    kafka_replication_factor: int = 1
    kafka_min_insync_replicas: int = 1
    # A Java client properties file for a secured Kafka (TLS, SASL): telemetry.kafka_client.
    kafka_client_properties: str = ""
    # The Python the Spark executors run (their machines' own); empty: the Spark side's venv.
    executor_python: str = ""
    pg_role: str = "owner"  # the role this process connects as (PG_ROLES)
    airflow_db_user: str = "airflow"  # the metadata role: owns Airflow's database only
    # Where passwords come from: LAMBDA_PG_PASSWORD (owner only), LAMBDA_PG_PASSWORD_FILE (this
    # process's role), else <secrets_dir>/pg_password_<role>, read when first needed.
    pg_owner_password: str = field(default="", repr=False)
    pg_password_file: Path | None = None
    secrets_dir: Path = Path()  # LAMBDA_SECRETS_DIR: $LAMBDA_HOME/secrets, /run/secrets in Docker
    # Spark
    spark_master: str = "local[2,3]"
    # The standalone cluster include/scripts/spark_cluster.sh starts (make cluster-test).
    spark_master_port: int = 17077
    spark_master_ui_port: int = 18180
    spark_worker_ui_port: int = 18181  # worker i: this + i - 1
    spark_workers: int = 2
    spark_worker_cores: int = 1
    spark_worker_memory: str = "1g"
    # The HDFS include/scripts/hdfs.sh starts (make cluster-test).
    hdfs_namenode_port: int = 19020
    hdfs_namenode_http_port: int = 19870
    hdfs_datanode_port: int = 19866
    hdfs_datanode_http_port: int = 19864
    hdfs_datanode_ipc_port: int = 19867
    hdfs_replication: int = 1
    # Per submitted app (submit_args.confs).
    spark_driver_memory: str = "1g"
    spark_executor_memory: str = "1g"
    spark_ui: bool = False
    shuffle_partitions: int = 4  # spark.sql.shuffle.partitions of every session (session.py)
    spark_log_level: str = "WARN"
    window: str = "5 minutes"
    window_seconds: int = 300
    watermark: str = "1 minute"
    watermark_seconds: int = 60
    trigger: str = "5 seconds"
    # Records per micro-batch at most: a backlog drains in bounded steps (docs/events.md).
    max_offsets_per_trigger: int = 200_000
    starting_offsets: str = "earliest"
    # Storage locations: bare paths or Hadoop URIs (storage_uri), strings throughout.
    raw_dir: str = ""
    checkpoint_dir: str = ""
    # Validation limits (see transforms.parse_events and docs/events.md "What is quarantined").
    max_future_seconds: int = 300  # event time ahead of the record's Kafka timestamp
    min_event_epoch: int = 946684800  # 2000-01-01: older timestamps are "absurd"
    max_event_bytes: int = 10**12  # one report of 1 TB: sums of them stay far inside BIGINT
    max_app_length: int = 64
    max_payload_bytes: int = 4096  # longer records are quarantined, stored cut to this length
    # How long a speed-layer write keeps retrying an unreachable PostgreSQL before it gives up.
    pg_retry_seconds: int = 300
    # Batch
    hour_grace_seconds: int = 120
    hour_max_wait_seconds: int = 1800
    task_retry_delay_seconds: int = 60  # Airflow's wait before a failed task's next try
    # The batch jobs' CPU priority (nice 0-19) on the machine that submits them: below the
    # always-on speed layer's, so the top of the hour's job runs on the cores the stream leaves.
    batch_nice: int = 10
    # The sweep (dags/lambda_sweep.py): how far back it looks for hours and days to (re)compute.
    sweep_lookback_hours: int = 72
    # Airflow
    airflow_port: int = 18080
    airflow_db: str = "airflow"
    # Prometheus metrics (docs/operations.md "Monitoring"): each long-running part on its own port
    # (0: not exposed), the Prometheus server prometheus.sh starts.
    metrics_host: str = "127.0.0.1"
    speed_metrics_port: int = 19108
    batch_metrics_port: int = 19109
    prometheus_port: int = 19090
    # Alertmanager (alertmanager.sh): Prometheus sends it the firing alerts; it routes them to
    # the webhook (unset: kept in its UI only), which the batch tasks' failure notifier uses too.
    alertmanager_port: int = 19094
    alert_webhook_url: str = ""
    # Where OpenLineage events go (telemetry/lineage.py): file, console, off or a server's URL.
    lineage: str = "file"
    # Retention in days (docs/operations.md): the daily DAG's expire tasks drop what is older.
    retain_windows_days: int = 35
    retain_quarantine_days: int = 14
    retain_quarantine_counts_days: int = 400
    retain_reconciliation_days: int = 95
    retain_raw_days: int = 95
    retain_airflow_days: int = 30

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

    def as_role(self, role: str) -> Settings:
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
        metadata_cmd = shlex.join([sys.executable, str(Path(__file__).resolve()), "metadata-url"])
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

    @property
    def lineage_dir(self) -> Path:
        """Where the file transport appends the OpenLineage events (airflow.jsonl, spark.jsonl)."""
        return self.home / "lineage"

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


def load(role: str | None = None) -> Settings:
    """Read the environment once; raise ConfigError naming the bad variable.

    Kafka and PostgreSQL are "managed" (started by the project's scripts) unless their address
    is given; LAMBDA_*_MANAGED, which the scripts export, keeps that decision for child processes.
    ``role`` is the PostgreSQL role of an app that always runs as one (the speed layer, the batch
    jobs); other processes take LAMBDA_PG_ROLE, owner by default.
    """
    home = Path(_env("LAMBDA_HOME", str(REPO_ROOT / ".local"))).resolve()
    kafka_port = _env_int("LAMBDA_KAFKA_PORT", 19092, 1)
    pg_port = _env_int("LAMBDA_PG_PORT", 15432, 1)
    pg_host_env = os.environ.get("LAMBDA_PG_HOST", "").strip()
    bootstrap_env = os.environ.get("LAMBDA_KAFKA_BOOTSTRAP", "").strip()
    starting = _env("LAMBDA_STARTING_OFFSETS", "earliest")
    role = role or _env("LAMBDA_PG_ROLE", "owner")
    if role not in PG_ROLES:
        raise ConfigError(f"LAMBDA_PG_ROLE={role!r} must be one of {', '.join(PG_ROLES)}")
    password_file = os.environ.get("LAMBDA_PG_PASSWORD_FILE", "").strip()
    if starting not in ("earliest", "latest"):
        raise ConfigError(f"LAMBDA_STARTING_OFFSETS={starting!r} must be earliest or latest")
    brokers = _env_int("LAMBDA_KAFKA_BROKERS", 1, 1)
    replicas = _env_int("LAMBDA_KAFKA_REPLICATION_FACTOR", min(3, brokers), 1)
    min_insync = _env_int("LAMBDA_KAFKA_MIN_INSYNC_REPLICAS", max(1, replicas - 1), 1)
    kafka_managed = _env("LAMBDA_KAFKA_MANAGED", "0" if bootstrap_env else "1") == "1"
    if kafka_managed and replicas > brokers:
        raise ConfigError(
            f"LAMBDA_KAFKA_REPLICATION_FACTOR={replicas} needs as many brokers "
            f"(LAMBDA_KAFKA_BROKERS={brokers})"
        )
    if min_insync > replicas:
        raise ConfigError(
            f"LAMBDA_KAFKA_MIN_INSYNC_REPLICAS={min_insync} is more than the "
            f"{replicas} replicas (LAMBDA_KAFKA_REPLICATION_FACTOR): no write could succeed"
        )
    local_brokers = ",".join(f"127.0.0.1:{kafka_port + 10 * i}" for i in range(brokers))
    settings = Settings(
        home=home,
        tools_dir=Path(_env("LAMBDA_TOOLS_DIR", str(REPO_ROOT / ".local"))).resolve(),
        kafka_bootstrap=bootstrap_env or local_brokers,
        kafka_topic=_env("LAMBDA_KAFKA_TOPIC", "devices"),
        kafka_partitions=_env_int("LAMBDA_KAFKA_PARTITIONS", 4, 1),
        kafka_managed=kafka_managed,
        kafka_brokers=brokers,
        kafka_replication_factor=replicas,
        kafka_min_insync_replicas=min_insync,
        kafka_port=kafka_port,
        kafka_client_properties=_env("LAMBDA_KAFKA_CLIENT_PROPERTIES", ""),
        executor_python=_env("LAMBDA_EXECUTOR_PYTHON", ""),
        kafka_controller_port=_env_int("LAMBDA_KAFKA_CONTROLLER_PORT", 19093, 1),
        pg_host=pg_host_env or "127.0.0.1",
        pg_port=pg_port,
        pg_db=_env("LAMBDA_PG_DB", "telemetry"),
        pg_user=_env("LAMBDA_PG_USER", "telemetry"),
        pg_managed=_env("LAMBDA_PG_MANAGED", "0" if pg_host_env else "1") == "1",
        pg_role=role,
        airflow_db_user=_env("LAMBDA_AIRFLOW_DB_USER", "airflow"),
        pg_owner_password=os.environ.get("LAMBDA_PG_PASSWORD", ""),
        pg_password_file=Path(password_file).resolve() if password_file else None,
        secrets_dir=Path(_env("LAMBDA_SECRETS_DIR", str(home / "secrets"))),
        # local[N,F]: a task that fails (a Kafka fetch during a broker restart) is tried F times.
        spark_master=_env("LAMBDA_SPARK_MASTER", "local[2,3]"),
        spark_master_port=_env_int("LAMBDA_SPARK_MASTER_PORT", 17077, 1),
        spark_master_ui_port=_env_int("LAMBDA_SPARK_MASTER_UI_PORT", 18180, 1),
        spark_worker_ui_port=_env_int("LAMBDA_SPARK_WORKER_UI_PORT", 18181, 1),
        spark_workers=_env_int("LAMBDA_SPARK_WORKERS", 2, 1),
        spark_worker_cores=_env_int("LAMBDA_SPARK_WORKER_CORES", 1, 1),
        spark_worker_memory=_env("LAMBDA_SPARK_WORKER_MEMORY", "1g"),
        hdfs_namenode_port=_env_int("LAMBDA_HDFS_NAMENODE_PORT", 19020, 1),
        hdfs_namenode_http_port=_env_int("LAMBDA_HDFS_NAMENODE_HTTP_PORT", 19870, 1),
        hdfs_datanode_port=_env_int("LAMBDA_HDFS_DATANODE_PORT", 19866, 1),
        hdfs_datanode_http_port=_env_int("LAMBDA_HDFS_DATANODE_HTTP_PORT", 19864, 1),
        hdfs_datanode_ipc_port=_env_int("LAMBDA_HDFS_DATANODE_IPC_PORT", 19867, 1),
        hdfs_replication=_env_int("LAMBDA_HDFS_REPLICATION", 1, 1),
        spark_driver_memory=_env("LAMBDA_SPARK_DRIVER_MEMORY", "1g"),
        spark_executor_memory=_env("LAMBDA_SPARK_EXECUTOR_MEMORY", "1g"),
        spark_ui=_env("LAMBDA_SPARK_UI", "false").lower() == "true",
        shuffle_partitions=_env_int("LAMBDA_SHUFFLE_PARTITIONS", 4, 1),
        spark_log_level=_env_log_level("LAMBDA_SPARK_LOG_LEVEL", "WARN"),
        window=_env("LAMBDA_WINDOW", "5 minutes"),
        window_seconds=_duration_seconds("LAMBDA_WINDOW", "5 minutes"),
        watermark=_env("LAMBDA_WATERMARK", "1 minute"),
        watermark_seconds=_duration_seconds("LAMBDA_WATERMARK", "1 minute"),
        trigger=_env("LAMBDA_TRIGGER", "5 seconds"),
        max_offsets_per_trigger=_env_int("LAMBDA_MAX_OFFSETS_PER_TRIGGER", 200_000),
        starting_offsets=starting,
        raw_dir=storage_uri(_env("LAMBDA_RAW_DIR", str(home / "data" / "raw"))),
        checkpoint_dir=storage_uri(_env("LAMBDA_CHECKPOINT_DIR", str(home / "checkpoints"))),
        max_future_seconds=_env_int("LAMBDA_MAX_FUTURE_SECONDS", 300),
        max_event_bytes=_env_int("LAMBDA_MAX_EVENT_BYTES", 10**12, 1),
        max_app_length=_env_int("LAMBDA_MAX_APP_LENGTH", 64, 1),
        max_payload_bytes=_env_int("LAMBDA_MAX_PAYLOAD_BYTES", 4096, 256),
        pg_retry_seconds=_env_int("LAMBDA_PG_RETRY_SECONDS", 300),
        hour_grace_seconds=_env_int("LAMBDA_HOUR_GRACE_SECONDS", 120),
        hour_max_wait_seconds=_env_int("LAMBDA_HOUR_MAX_WAIT_SECONDS", 1800),
        task_retry_delay_seconds=_env_int("LAMBDA_TASK_RETRY_DELAY_SECONDS", 60),
        batch_nice=_env_nice("LAMBDA_BATCH_NICE", 10),
        sweep_lookback_hours=_env_int("LAMBDA_SWEEP_LOOKBACK_HOURS", 72, 1),
        airflow_port=_env_int("LAMBDA_AIRFLOW_PORT", 18080, 1),
        airflow_db=_env("LAMBDA_AIRFLOW_DB", "airflow"),
        metrics_host=_env("LAMBDA_METRICS_HOST", "127.0.0.1"),
        speed_metrics_port=_env_int("LAMBDA_SPEED_METRICS_PORT", 19108),
        batch_metrics_port=_env_int("LAMBDA_BATCH_METRICS_PORT", 19109),
        prometheus_port=_env_int("LAMBDA_PROMETHEUS_PORT", 19090, 1),
        alertmanager_port=_env_int("LAMBDA_ALERTMANAGER_PORT", 19094, 1),
        alert_webhook_url=alert_webhook_url(),
        lineage=_env_lineage("LAMBDA_LINEAGE"),
        retain_windows_days=_env_int("LAMBDA_RETAIN_WINDOWS_DAYS", 35, 1),
        retain_quarantine_days=_env_int("LAMBDA_RETAIN_QUARANTINE_DAYS", 14, 1),
        retain_quarantine_counts_days=_env_int("LAMBDA_RETAIN_QUARANTINE_COUNTS_DAYS", 400, 1),
        retain_reconciliation_days=_env_int("LAMBDA_RETAIN_RECONCILIATION_DAYS", 95, 1),
        retain_raw_days=_env_int("LAMBDA_RETAIN_RAW_DAYS", 95, 1),
        retain_airflow_days=_env_int("LAMBDA_RETAIN_AIRFLOW_DAYS", 30, 1),
    )
    _check_retention(settings)
    _duration_seconds("LAMBDA_TRIGGER", "5 seconds")  # validated: Spark would fail much later
    return settings


# Horizons the batch layer still reads: the sweep recomputes and reconciles hours this far
# back, from the raw Parquet and the speed layer's windows.
_RETAIN_READ_BY_SWEEP = {
    "LAMBDA_RETAIN_WINDOWS_DAYS": "retain_windows_days",
    "LAMBDA_RETAIN_RECONCILIATION_DAYS": "retain_reconciliation_days",
    "LAMBDA_RETAIN_RAW_DAYS": "retain_raw_days",
    "LAMBDA_RETAIN_QUARANTINE_DAYS": "retain_quarantine_days",
}


def _check_retention(settings: Settings) -> None:
    """A horizon inside the sweep's look-back would drop data the batch layer still needs."""
    for name, attr in _RETAIN_READ_BY_SWEEP.items():
        days = getattr(settings, attr)
        if days * 24 <= settings.sweep_lookback_hours + 24:
            raise ConfigError(
                f"{name}={days} must be more than LAMBDA_SWEEP_LOOKBACK_HOURS="
                f"{settings.sweep_lookback_hours} plus a day: the sweep still reads that far back"
            )
    if settings.retain_quarantine_counts_days < settings.retain_quarantine_days:
        raise ConfigError(
            f"LAMBDA_RETAIN_QUARANTINE_COUNTS_DAYS={settings.retain_quarantine_counts_days} must "
            f"be at least LAMBDA_RETAIN_QUARANTINE_DAYS={settings.retain_quarantine_days}: the "
            "counts per reason outlive the payloads"
        )


def shell_exports(settings: Settings) -> str:
    """`export NAME=value` lines for the service scripts (same names as the environment)."""
    values = {
        "LAMBDA_HOME": settings.home,
        "LAMBDA_TOOLS_DIR": settings.tools_dir,
        "LAMBDA_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "LAMBDA_KAFKA_TOPIC": settings.kafka_topic,
        "LAMBDA_KAFKA_PARTITIONS": settings.kafka_partitions,
        "LAMBDA_KAFKA_MANAGED": int(settings.kafka_managed),
        "LAMBDA_KAFKA_PORT": settings.kafka_port,
        "LAMBDA_KAFKA_CLIENT_PROPERTIES": settings.kafka_client_properties,
        "LAMBDA_KAFKA_BROKERS": settings.kafka_brokers,
        "LAMBDA_KAFKA_REPLICATION_FACTOR": settings.kafka_replication_factor,
        "LAMBDA_KAFKA_MIN_INSYNC_REPLICAS": settings.kafka_min_insync_replicas,
        "LAMBDA_KAFKA_CONTROLLER_PORT": settings.kafka_controller_port,
        "LAMBDA_PG_HOST": settings.pg_host,
        "LAMBDA_PG_PORT": settings.pg_port,
        "LAMBDA_PG_DB": settings.pg_db,
        "LAMBDA_PG_USER": settings.pg_user,
        "LAMBDA_PG_MANAGED": int(settings.pg_managed),
        "LAMBDA_AIRFLOW_DB_USER": settings.airflow_db_user,
        "LAMBDA_SPARK_MASTER": settings.spark_master,
        "LAMBDA_SPARK_MASTER_PORT": settings.spark_master_port,
        "LAMBDA_SPARK_MASTER_UI_PORT": settings.spark_master_ui_port,
        "LAMBDA_SPARK_WORKER_UI_PORT": settings.spark_worker_ui_port,
        "LAMBDA_SPARK_WORKERS": settings.spark_workers,
        "LAMBDA_SPARK_WORKER_CORES": settings.spark_worker_cores,
        "LAMBDA_SPARK_WORKER_MEMORY": settings.spark_worker_memory,
        "LAMBDA_HDFS_NAMENODE_PORT": settings.hdfs_namenode_port,
        "LAMBDA_HDFS_NAMENODE_HTTP_PORT": settings.hdfs_namenode_http_port,
        "LAMBDA_HDFS_DATANODE_PORT": settings.hdfs_datanode_port,
        "LAMBDA_HDFS_DATANODE_HTTP_PORT": settings.hdfs_datanode_http_port,
        "LAMBDA_HDFS_DATANODE_IPC_PORT": settings.hdfs_datanode_ipc_port,
        "LAMBDA_HDFS_REPLICATION": settings.hdfs_replication,
        "LAMBDA_AIRFLOW_PORT": settings.airflow_port,
        "LAMBDA_AIRFLOW_DB": settings.airflow_db,
        "LAMBDA_RAW_DIR": settings.raw_dir,
        "LAMBDA_CHECKPOINT_DIR": settings.checkpoint_dir,
        "LAMBDA_METRICS_HOST": settings.metrics_host,
        "LAMBDA_SPEED_METRICS_PORT": settings.speed_metrics_port,
        "LAMBDA_BATCH_METRICS_PORT": settings.batch_metrics_port,
        "LAMBDA_PROMETHEUS_PORT": settings.prometheus_port,
        "LAMBDA_ALERTMANAGER_PORT": settings.alertmanager_port,
        **settings.airflow_env(),
    }
    return "\n".join(f"export {k}={shlex.quote(str(v))}" for k, v in values.items())


def public_dict(settings: Settings) -> dict[str, object]:
    """Settings without the password, for logs."""
    data = asdict(settings)
    data.pop("pg_owner_password")
    data.pop("alert_webhook_url")  # a chat webhook's URL is its credential
    return {k: str(v) for k, v in data.items()}


if __name__ == "__main__":
    try:
        cfg = load()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    try:
        if sys.argv[1:] == ["shell"]:
            print(shell_exports(cfg))
        elif sys.argv[1:] == ["metadata-url"]:  # AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD
            sys.stdout.write(cfg.metadata_url())
        else:
            print(json.dumps(public_dict(cfg), indent=2))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
