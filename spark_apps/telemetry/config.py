"""Every setting of the product, read in one place from the environment, with local defaults.

The settings are declared once, in telemetry/settings_declared.py; this module reads them into
one frozen ``Settings``, checks the ones that depend on each other, and hands them to the shell
scripts (``python spark_apps/telemetry/config.py shell``) and to the docs (``... docs``).
Standard library only, so the Spark apps, the DAGs, the simulator, the tests and the scripts
share one source of truth for names, ports, paths and credentials.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import asdict, field, make_dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file by the scripts, with a Python of their choosing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telemetry.locations import is_local, local_path, storage_uri, uri_join  # noqa: E402, F401
from telemetry.settings_declared import SETTINGS, URL  # noqa: E402
from telemetry.settings_derived import (  # noqa: E402, F401
    LINEAGE_NAMESPACE,
    PG_ROLES,
    REPO_ROOT,
    ConfigError,
    DerivedSettings,
)

# Every topic the project creates: the broker stamps each record with its append time, so the
# future-time rule (event time vs. Kafka time) gives the same verdict when a batch is replayed
# and a producer cannot choose the reference clock.
TOPIC_CONFIGS: dict[str, str] = {"message.timestamp.type": "LogAppendTime"}
# Kept out of logs and of `config.py` without arguments: a password, a webhook's URL (its token).
_SECRET_FIELDS = ("pg_owner_password", "alert_webhook_url")

Settings = make_dataclass(
    "Settings",
    [(s.field, object, field(default=None, repr=s.field not in _SECRET_FIELDS)) for s in SETTINGS],
    bases=(DerivedSettings,),
    frozen=True,
)
Settings.__module__ = __name__
Settings.__doc__ = "The settings of one process (telemetry/settings_declared.py declares them)."


def _given(var: str | None) -> str | None:
    """The variable's value, None when unset or blank (a blank setting means its default)."""
    raw = os.environ.get(var, "") if var else ""
    return raw if raw.strip() else None


def alert_webhook_url() -> str:
    """LAMBDA_ALERT_WEBHOOK_URL alone: the failure notifier reads it without load(), since it
    must post even when another setting is what broke the task."""
    raw = _given("LAMBDA_ALERT_WEBHOOK_URL")
    return "" if raw is None else URL("LAMBDA_ALERT_WEBHOOK_URL", raw)


def load(role: str | None = None) -> Settings:
    """Read the environment once; raise ConfigError naming the bad variable.

    Kafka and PostgreSQL are "managed" (started by the project's scripts) unless their address
    is given; LAMBDA_*_MANAGED, which the scripts export, keeps that decision for child processes.
    ``role`` is the PostgreSQL role of an app that always runs as one (the speed layer, the batch
    jobs); other processes take LAMBDA_PG_ROLE, owner by default.
    """
    values: dict[str, object] = {}
    given: set[str] = set()
    for s in SETTINGS:
        raw = _given(s.var)
        if raw is not None:
            values[s.field] = s.parse(s.var, raw)
            given.add(s.field)
        else:
            values[s.field] = s.derive(values, given) if s.derive else s.default
    if role is not None:
        values["pg_role"] = SETTINGS_BY_FIELD["pg_role"].parse("LAMBDA_PG_ROLE", role)
    settings = Settings(**values)
    _check_together(settings)
    return settings


SETTINGS_BY_FIELD = {s.field: s for s in SETTINGS}
VARIABLE = {s.field: s.var for s in SETTINGS}

# Horizons the batch layer still reads: the sweep recomputes and reconciles hours this far
# back, from the raw Parquet and the speed layer's windows.
_RETAIN_READ_BY_SWEEP = (
    "retain_windows_days",
    "retain_reconciliation_days",
    "retain_raw_days",
    "retain_quarantine_days",
)


def _check_together(settings: Settings) -> None:
    """The bounds that depend on another setting."""
    s, var = settings, VARIABLE
    if s.kafka_managed and s.kafka_replication_factor > s.kafka_brokers:
        raise ConfigError(
            f"{var['kafka_replication_factor']}={s.kafka_replication_factor} needs as many "
            f"brokers ({var['kafka_brokers']}={s.kafka_brokers})"
        )
    if s.kafka_min_insync_replicas > s.kafka_replication_factor:
        raise ConfigError(
            f"{var['kafka_min_insync_replicas']}={s.kafka_min_insync_replicas} is more than the "
            f"{s.kafka_replication_factor} replicas ({var['kafka_replication_factor']}): no write"
            " could succeed"
        )
    for name in _RETAIN_READ_BY_SWEEP:  # a horizon inside the look-back drops what it reads
        days = getattr(s, name)
        if days * 24 <= s.sweep_lookback_hours + 24:
            raise ConfigError(
                f"{var[name]}={days} must be more than {var['sweep_lookback_hours']}="
                f"{s.sweep_lookback_hours} plus a day: the sweep still reads that far back"
            )
    if s.retain_quarantine_counts_days < s.retain_quarantine_days:
        raise ConfigError(
            f"{var['retain_quarantine_counts_days']}={s.retain_quarantine_counts_days} must be at"
            f" least {var['retain_quarantine_days']}={s.retain_quarantine_days}: the counts per"
            " reason outlive the payloads"
        )


def shell_exports(settings: Settings) -> str:
    """`export NAME=value` lines for the service scripts (same names as the environment)."""
    values = {
        s.var: int(v) if isinstance(v := getattr(settings, s.field), bool) else v
        for s in SETTINGS
        if s.export
    }
    values.update(settings.airflow_env())
    return "\n".join(f"export {k}={shlex.quote(str(v))}" for k, v in values.items())


def public_dict(settings: Settings) -> dict[str, object]:
    """Settings without the secrets, for logs."""
    data = asdict(settings)
    for name in _SECRET_FIELDS:
        data.pop(name)
    return {k: str(v) for k, v in data.items()}


def docs_tables() -> str:
    """The settings as markdown tables per topic: docs/configuration.md's generated part."""
    out: list[str] = []
    for topic in dict.fromkeys(s.topic for s in SETTINGS):
        out += [
            "",
            f"### {topic}",
            "",
            "| variable | default | format | meaning |",
            "|---|---|---|---|",
        ]
        for s in (s for s in SETTINGS if s.topic == topic and s.var):
            default = s.shown or ("unset" if s.default in ("", None) else f"`{s.default}`")
            out.append(f"| `{s.var}` | {default} | {s.parse.text} | {s.meaning} |")
    return "\n".join(out[1:]) + "\n"


if __name__ == "__main__":
    try:
        if sys.argv[1:] == ["docs"]:
            sys.stdout.write(docs_tables())
            sys.exit(0)
        cfg = load()
        if sys.argv[1:] == ["shell"]:
            print(shell_exports(cfg))
        elif sys.argv[1:] == ["metadata-url"]:  # AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD
            sys.stdout.write(cfg.metadata_url())
        else:
            print(json.dumps(public_dict(cfg), indent=2))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
