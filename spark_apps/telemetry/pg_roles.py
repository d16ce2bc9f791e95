"""The PostgreSQL roles' secrets, for the set-up scripts: each role's password generated once
into its own mode-600 file, and handed to psql as SCRAM verifiers on stdin (never a command-line
argument, never the plain password), and Airflow's connections file.

Standard library only: include/scripts/postgres.sh and common.sh run it with the system Python.

    python -m telemetry.pg_roles psql-vars             # \\set lines: role names and verifiers
    python -m telemetry.pg_roles names                 # -v arguments: database and role names
    python -m telemetry.pg_roles login                 # LAMBDA_PG_ROLE's user and password
    python -m telemetry.pg_roles airflow-connections   # (re)write the secrets backend's file
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from pathlib import Path

from telemetry import config

SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def ensure_password_files(settings: config.Settings) -> None:
    """Generate each role's password once (mode 600), unless the environment gives the owner's."""
    folder = settings.secrets_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    legacy = folder / "pg_password"  # the owner's, from when one role did everything
    if legacy.exists() and not (folder / "pg_password_owner").exists():
        legacy.rename(folder / "pg_password_owner")
    for role in config.PG_ROLES:
        if role == "owner" and settings.pg_owner_password:
            continue
        path = folder / f"pg_password_{role}"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(24))


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: created mode 600, then renamed over the old one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)  # a leftover would keep its own mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of a password (what pg_authid stores): given to
    ALTER ROLE ... PASSWORD, the plain password never reaches the server or its log."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def role_names(settings: config.Settings) -> dict[str, str]:
    """psql variables naming the databases and every role (not secret: also given with -v)."""
    names = {f"{role}_role": settings.pg_login(role) for role in config.PG_ROLES}
    values = {"db": settings.pg_db, "airflow_db": settings.airflow_db, **names}
    for name, value in values.items():
        if not IDENTIFIER.fullmatch(value):
            raise config.ConfigError(
                f"{value!r} ({name}) is not a plain PostgreSQL name: use [a-z_][a-z0-9_]*"
            )
    return values


def psql_vars(settings: config.Settings) -> str:
    """\\set lines for sql/roles/*.sql: names, and each role's password verifier."""
    ensure_password_files(settings)
    values = dict(role_names(settings))
    for role in config.PG_ROLES:
        values[f"{role}_verifier"] = scram_verifier(settings.password_of(role))
    # Names and verifiers hold no quote or backslash (identifiers we choose, base64).
    return "".join(f"\\set {name} '{value}'\n" for name, value in values.items())


def main(argv: list[str]) -> int:
    try:
        settings = config.load()
        if argv == ["psql-vars"]:
            sys.stdout.write(psql_vars(settings))
        elif argv == ["names"]:  # -v arguments for the schema files
            print(" ".join(f"-v {k}={v}" for k, v in role_names(settings).items()))
        elif argv == ["login"]:  # user, then password, of LAMBDA_PG_ROLE: for psql's PGPASSWORD
            sys.stdout.write(f"{settings.pg_login()}\n{settings.pg_password}\n")
        elif argv == ["airflow-connections"]:
            path = settings.airflow_connections_file
            write_private(path, json.dumps(settings.airflow_connections(), indent=2))
        else:
            print("usage: python -m telemetry.pg_roles psql-vars|names|login|airflow-connections")
            return 2
    except config.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
