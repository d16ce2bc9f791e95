"""Every setting of the product, declared once: its field, variable, parser, default, bounds and
meaning. config.load() reads them from the environment, config.shell_exports() hands the marked
ones to the scripts, and docs/configuration.md's tables are generated from here (`python
spark_apps/telemetry/config.py docs`; tests/unit/test_settings_docs.py keeps the page current)."""

# ruff: noqa: E501  (the declaration table: one setting a line)
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from telemetry.locations import storage_uri
from telemetry.settings_derived import PG_ROLES, REPO_ROOT, ConfigError, duration_seconds


@dataclass(frozen=True)
class Parse:
    """Text -> value, or ConfigError naming the variable. ``text`` is the docs' bounds column."""

    text: str
    convert: Callable[[str, str], object]

    def __call__(self, var: str, raw: str) -> object:
        return self.convert(var, raw)


def integer(minimum: int = 0, maximum: int | None = None, too_big: str = "") -> Parse:
    def convert(var: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(f"{var}={raw.strip()!r} is not an integer") from None
        if value < minimum:
            raise ConfigError(f"{var}={value} must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{var}={value} must be {too_big or f'<= {maximum}'}")
        return value

    bounds = f"{minimum} to {maximum}" if maximum is not None else f">= {minimum}"
    return Parse(f"integer, {bounds}", convert)


def choice(*values: str, upper: bool = False) -> Parse:
    words = f"{values[0]} or {values[1]}" if len(values) == 2 else f"one of {', '.join(values)}"

    def convert(var: str, raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip()
        if value not in values:
            raise ConfigError(f"{var}={value!r} must be {words}")
        return value

    return Parse(words, convert)


def _duration(var: str, raw: str) -> str:
    try:
        duration_seconds(raw.strip())
    except ValueError:
        text = f"{var}={raw.strip()!r} is not a duration like '1 minute' or '30 seconds'"
        raise ConfigError(text) from None
    return raw.strip()


def _url(var: str, raw: str) -> str:
    if not raw.strip().startswith(("http://", "https://")):
        raise ConfigError(f"{var} must be an http:// or https:// URL")
    return raw.strip()


def _lineage(var: str, raw: str) -> str:
    value = raw.strip()
    if value not in ("file", "console", "off") and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{var}={value!r}: file, console, off or an http(s):// URL")
    return value


TEXT = Parse("text", lambda var, raw: raw.strip())
SECRET = Parse("text (a secret)", lambda var, raw: raw)
PORT = integer(1)
PORT_OR_OFF = Parse("port, 0: off", integer(0).convert)
FLAG = Parse("1 or 0", lambda var, raw: raw.strip() == "1")
TRUE_FALSE = Parse("true or false", lambda var, raw: raw.strip().lower() == "true")
DURATION = Parse("duration: '30 seconds', '5 minutes', '2 hours'", _duration)
URL = Parse("http(s):// URL", _url)
LINEAGE = Parse("file, console, off or an http(s):// URL", _lineage)
PATH = Parse("path", lambda var, raw: Path(raw.strip()).resolve())
FOLDER = Parse("path", lambda var, raw: Path(raw.strip()))
LOCATION = Parse("path or Hadoop URI (hdfs://, s3a://, file:)", lambda v, raw: storage_uri(raw))
LOG_LEVEL = choice("ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF", upper=True)


@dataclass(frozen=True)
class Setting:
    """``default``: a value, or derived from the settings declared before it and the variables
    given (``derive(values, given)``); ``shown`` is how the docs print a derived default."""

    field: str
    var: str | None  # None: a fixed value, not a variable
    parse: Parse
    default: object
    topic: str
    meaning: str
    export: bool = False  # handed to the scripts (config.py shell)
    derive: Callable[[dict, set[str]], object] | None = None
    shown: str = ""


def _local_brokers(v: dict, given: set[str]) -> str:
    return ",".join(f"127.0.0.1:{v['kafka_port'] + 10 * i}" for i in range(v["kafka_brokers"]))


S = Setting
SETTINGS: tuple[Setting, ...] = (
    S("home", "LAMBDA_HOME", PATH, REPO_ROOT / ".local", "Paths", "run-time state: data, checkpoints, logs, service folders", True, shown="`.local/`"),
    S("tools_dir", "LAMBDA_TOOLS_DIR", PATH, REPO_ROOT / ".local", "Paths", "what set-up installs: Python environments, jars, Prometheus, Alertmanager (shared by test runs)", True, shown="`.local/`"),
    S("raw_dir", "LAMBDA_RAW_DIR", LOCATION, None, "Paths", "the Parquet master dataset", True, lambda v, g: storage_uri(str(v["home"] / "data" / "raw")), "`$LAMBDA_HOME/data/raw`"),
    S("checkpoint_dir", "LAMBDA_CHECKPOINT_DIR", LOCATION, None, "Paths", "the speed layer's Spark checkpoints", True, lambda v, g: storage_uri(str(v["home"] / "checkpoints")), "`$LAMBDA_HOME/checkpoints`"),
    S("kafka_port", "LAMBDA_KAFKA_PORT", PORT, 19092, "Kafka", "the first local broker's port (broker i: + 10 (i - 1))", True),
    S("kafka_controller_port", "LAMBDA_KAFKA_CONTROLLER_PORT", PORT, 19093, "Kafka", "the local KRaft controller's port", True),
    S("kafka_brokers", "LAMBDA_KAFKA_BROKERS", integer(1), 1, "Kafka", "brokers `kafka.sh` starts", True),
    S("kafka_bootstrap", "LAMBDA_KAFKA_BOOTSTRAP", TEXT, None, "Kafka", "someone else's Kafka (host:port,...); unset: the local brokers", True, _local_brokers, "the local brokers"),
    S("kafka_managed", "LAMBDA_KAFKA_MANAGED", FLAG, None, "Kafka", "the scripts start Kafka (hand-off: decided once, kept for child processes)", True, lambda v, g: "kafka_bootstrap" not in g, "1 unless `LAMBDA_KAFKA_BOOTSTRAP` is set"),
    S("kafka_replication_factor", "LAMBDA_KAFKA_REPLICATION_FACTOR", integer(1), None, "Kafka", "the topic's replicas", True, lambda v, g: min(3, v["kafka_brokers"]), "brokers, at most 3"),
    S("kafka_min_insync_replicas", "LAMBDA_KAFKA_MIN_INSYNC_REPLICAS", integer(1), None, "Kafka", "in-sync replicas an acks=all write needs", True, lambda v, g: max(1, v["kafka_replication_factor"] - 1), "replicas - 1, at least 1"),
    S("kafka_topic", "LAMBDA_KAFKA_TOPIC", TEXT, "devices", "Kafka", "the devices' topic", True),
    S("kafka_partitions", "LAMBDA_KAFKA_PARTITIONS", integer(1), 4, "Kafka", "its partitions, when the topic is created", True),
    S("kafka_client_properties", "LAMBDA_KAFKA_CLIENT_PROPERTIES", TEXT, "", "Kafka", "a Java client properties file for a secured Kafka (TLS, SASL; `telemetry.kafka_client`)", True),
    S("pg_host", "LAMBDA_PG_HOST", TEXT, "127.0.0.1", "PostgreSQL", "someone else's PostgreSQL; unset: the local cluster", True),
    S("pg_port", "LAMBDA_PG_PORT", PORT, 15432, "PostgreSQL", "its port", True),
    S("pg_managed", "LAMBDA_PG_MANAGED", FLAG, None, "PostgreSQL", "the scripts start PostgreSQL (hand-off, like `LAMBDA_KAFKA_MANAGED`)", True, lambda v, g: "pg_host" not in g, "1 unless `LAMBDA_PG_HOST` is set"),
    S("pg_db", "LAMBDA_PG_DB", TEXT, "telemetry", "PostgreSQL", "the database", True),
    S("pg_user", "LAMBDA_PG_USER", TEXT, "telemetry", "PostgreSQL", "the owner role; the service roles are `<user>_speed`, `_batch`, `_airflow`, `_reader`", True),
    S("airflow_db_user", "LAMBDA_AIRFLOW_DB_USER", TEXT, "airflow", "PostgreSQL", "the metadata role, owner of Airflow's database only", True),
    S("pg_role", "LAMBDA_PG_ROLE", choice(*PG_ROLES), "owner", "PostgreSQL", "the role a process without one of its own connects as"),
    S("pg_owner_password", "LAMBDA_PG_PASSWORD", SECRET, "", "PostgreSQL", "the owner's password for someone else's server (never a service's)"),
    S("pg_password_file", "LAMBDA_PG_PASSWORD_FILE", PATH, None, "PostgreSQL", "this process's role's password file", shown="`$LAMBDA_SECRETS_DIR/pg_password_<role>`"),
    S("secrets_dir", "LAMBDA_SECRETS_DIR", FOLDER, None, "PostgreSQL", "the password files", derive=lambda v, g: v["home"] / "secrets", shown="`$LAMBDA_HOME/secrets`"),
    S("pg_retry_seconds", "LAMBDA_PG_RETRY_SECONDS", integer(0), 300, "PostgreSQL", "how long a write (the speed layer's commit, a Spark task's staging COPY) retries an unreachable PostgreSQL"),
    S("spark_master", "LAMBDA_SPARK_MASTER", TEXT, "local[2,3]", "Spark", "where spark-submit sends the apps (local[N,F]: a failed task is tried F times)", True),
    S("executor_python", "LAMBDA_EXECUTOR_PYTHON", TEXT, "", "Spark", "the Python the executors run on their machines; unset: the Spark side's"),
    S("spark_driver_memory", "LAMBDA_SPARK_DRIVER_MEMORY", TEXT, "1g", "Spark", "each app's driver memory"),
    S("spark_executor_memory", "LAMBDA_SPARK_EXECUTOR_MEMORY", TEXT, "1g", "Spark", "each executor's memory"),
    S("spark_ui", "LAMBDA_SPARK_UI", TRUE_FALSE, False, "Spark", "Spark's UI and its Prometheus metrics on the driver"),
    S("shuffle_partitions", "LAMBDA_SHUFFLE_PARTITIONS", integer(1), 4, "Spark", "`spark.sql.shuffle.partitions` of every session, the tests' too"),
    S("spark_log_level", "LAMBDA_SPARK_LOG_LEVEL", LOG_LEVEL, "WARN", "Spark", "Spark's log level in the apps"),
    S("spark_master_port", "LAMBDA_SPARK_MASTER_PORT", PORT, 17077, "Cluster", "the standalone master `spark_cluster.sh` starts", True),
    S("spark_master_ui_port", "LAMBDA_SPARK_MASTER_UI_PORT", PORT, 18180, "Cluster", "its UI", True),
    S("spark_worker_ui_port", "LAMBDA_SPARK_WORKER_UI_PORT", PORT, 18181, "Cluster", "worker i's UI: + i - 1", True),
    S("spark_workers", "LAMBDA_SPARK_WORKERS", integer(1), 2, "Cluster", "workers it starts", True),
    S("spark_worker_cores", "LAMBDA_SPARK_WORKER_CORES", integer(1), 1, "Cluster", "cores per worker", True),
    S("spark_worker_memory", "LAMBDA_SPARK_WORKER_MEMORY", TEXT, "1g", "Cluster", "memory per worker", True),
    S("hdfs_namenode_port", "LAMBDA_HDFS_NAMENODE_PORT", PORT, 19020, "Cluster", "the NameNode `hdfs.sh` starts", True),
    S("hdfs_namenode_http_port", "LAMBDA_HDFS_NAMENODE_HTTP_PORT", PORT, 19870, "Cluster", "its web UI", True),
    S("hdfs_datanode_port", "LAMBDA_HDFS_DATANODE_PORT", PORT, 19866, "Cluster", "the DataNode's data port", True),
    S("hdfs_datanode_http_port", "LAMBDA_HDFS_DATANODE_HTTP_PORT", PORT, 19864, "Cluster", "its web UI", True),
    S("hdfs_datanode_ipc_port", "LAMBDA_HDFS_DATANODE_IPC_PORT", PORT, 19867, "Cluster", "its IPC port", True),
    S("hdfs_replication", "LAMBDA_HDFS_REPLICATION", integer(1), 1, "Cluster", "HDFS block replicas", True),
    S("window", "LAMBDA_WINDOW", DURATION, "5 minutes", "Speed layer", "the event-time window"),
    S("watermark", "LAMBDA_WATERMARK", DURATION, "1 minute", "Speed layer", "the watermark delay: an event further behind the largest (bounded) event time seen is late"),
    S("trigger", "LAMBDA_TRIGGER", DURATION, "5 seconds", "Speed layer", "the micro-batch trigger"),
    S("max_offsets_per_trigger", "LAMBDA_MAX_OFFSETS_PER_TRIGGER", integer(0), 200_000, "Speed layer", "records per micro-batch at most: a backlog drains in bounded steps"),
    S("starting_offsets", "LAMBDA_STARTING_OFFSETS", choice("earliest", "latest"), "earliest", "Speed layer", "where a new checkpoint starts reading"),
    S("max_future_seconds", "LAMBDA_MAX_FUTURE_SECONDS", integer(0), 300, "Validation", "an event time further ahead of its Kafka timestamp is quarantined (`future_timestamp`)"),
    S("min_event_epoch", None, integer(0), 946684800, "Validation", "older event times are quarantined (`absurd_timestamp`): 2000-01-01"),
    S("max_event_bytes", "LAMBDA_MAX_EVENT_BYTES", integer(1), 10**12, "Validation", "larger `bytes` are quarantined (sums stay far inside BIGINT)"),
    S("max_app_length", "LAMBDA_MAX_APP_LENGTH", integer(1), 64, "Validation", "longer `app` names are quarantined"),
    S("max_payload_bytes", "LAMBDA_MAX_PAYLOAD_BYTES", integer(256), 4096, "Validation", "longer records are quarantined, stored cut to this length"),
    S("hour_grace_seconds", "LAMBDA_HOUR_GRACE_SECONDS", integer(0), 120, "Batch layer", "the watermark must pass an hour's end by this before its run"),
    S("hour_max_wait_seconds", "LAMBDA_HOUR_MAX_WAIT_SECONDS", integer(0), 1800, "Batch layer", "or the hour ended this long ago (an idle stream does not block the batch layer); also when the sweep counts an hour settled"),
    S("task_retry_delay_seconds", "LAMBDA_TASK_RETRY_DELAY_SECONDS", integer(0), 60, "Batch layer", "Airflow's wait before a failed task's next try"),
    S("batch_nice", "LAMBDA_BATCH_NICE", integer(0, 19, "a nice value, 0 to 19"), 10, "Batch layer", "the batch jobs' CPU priority where they are submitted, below the speed layer's"),
    S("sweep_lookback_hours", "LAMBDA_SWEEP_LOOKBACK_HOURS", integer(1), 72, "Batch layer", "how far back `lambda_sweep` looks for hours and days to (re)compute"),
    S("lineage", "LAMBDA_LINEAGE", LINEAGE, "file", "Batch layer", "where the OpenLineage events go (`$LAMBDA_HOME/lineage/` for file)"),
    S("airflow_port", "LAMBDA_AIRFLOW_PORT", PORT, 18080, "Batch layer", "Airflow's API server and UI", True),
    S("airflow_db", "LAMBDA_AIRFLOW_DB", TEXT, "airflow", "Batch layer", "Airflow's metadata database", True),
    S("metrics_host", "LAMBDA_METRICS_HOST", TEXT, "127.0.0.1", "Monitoring", "where the exporters, Prometheus and Alertmanager listen", True),
    S("speed_metrics_port", "LAMBDA_SPEED_METRICS_PORT", PORT_OR_OFF, 19108, "Monitoring", "the speed layer's /metrics", True),
    S("batch_metrics_port", "LAMBDA_BATCH_METRICS_PORT", PORT_OR_OFF, 19109, "Monitoring", "the batch layer's /metrics", True),
    S("prometheus_port", "LAMBDA_PROMETHEUS_PORT", PORT, 19090, "Monitoring", "Prometheus", True),
    S("alertmanager_port", "LAMBDA_ALERTMANAGER_PORT", PORT, 19094, "Monitoring", "Alertmanager", True),
    S("alert_webhook_url", "LAMBDA_ALERT_WEBHOOK_URL", URL, "", "Monitoring", "where Alertmanager and the failure notifier post; unset: alerts stay in Alertmanager's UI"),
    S("retain_windows_days", "LAMBDA_RETAIN_WINDOWS_DAYS", integer(1), 35, "Retention", "the speed layer's windows (`bytes`, `bytes_by_hour`)"),
    S("retain_quarantine_days", "LAMBDA_RETAIN_QUARANTINE_DAYS", integer(1), 14, "Retention", "quarantined payloads"),
    S("retain_quarantine_counts_days", "LAMBDA_RETAIN_QUARANTINE_COUNTS_DAYS", integer(1), 400, "Retention", "their counts per day and reason"),
    S("retain_reconciliation_days", "LAMBDA_RETAIN_RECONCILIATION_DAYS", integer(1), 95, "Retention", "`reconciliation`, sweep claims, task failures"),
    S("retain_raw_days", "LAMBDA_RETAIN_RAW_DAYS", integer(1), 95, "Retention", "the Parquet master dataset's days"),
    S("retain_airflow_days", "LAMBDA_RETAIN_AIRFLOW_DAYS", integer(1), 30, "Retention", "Airflow's metadata (runs, task instances, XComs)"),
)  # fmt: skip
