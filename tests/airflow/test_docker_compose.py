"""Static checks of docker-compose.yaml and docker/ (the CI machine has no Docker engine).

The compose file describes the same system as the local scripts; these tests keep it honest:
it parses, pins its images, mounts and runs files that exist, keeps secrets out of the file,
publishes ports on loopback only, and uses setting names the config module actually reads.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
CONFIG_SOURCE = REPO / "spark_apps" / "telemetry" / "settings_declared.py"

EXPECTED_SERVICES = {
    "kafka",
    "kafka-init",
    "postgres",
    "speed-layer",
    "simulator",
    "airflow-init",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
}
# Airflow's own folders, mounted by the compose file for the DAGs and plugins.
AIRFLOW_FOLDERS = {"dags", "plugins"}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET", re.IGNORECASE)
# Settings that say where a secret is (a file, a folder, a command, a secrets backend), not what.
SECRET_LOCATION = re.compile(r"(_FILE|_DIR|_CMD)$|^AIRFLOW__SECRETS__BACKEND")
# The PostgreSQL passwords each service's code uses (docs/configuration.md).
ROLE_SECRETS = {
    "speed-layer": {"pg_password_speed"},
    "simulator": set(),
    "kafka": set(),
    "kafka-init": set(),
    **{
        name: {"pg_password_metadata", "pg_password_airflow", "pg_password_batch"}
        for name in EXPECTED_SERVICES
        if name.startswith("airflow-")
    },
}
# A whole value that is one required interpolation: ${NAME} or ${NAME:?message}, no default.
REQUIRED_VAR = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}$")
PATH_TOKEN = re.compile(r"(?<![\w./$-])(?:\./)?[\w.-]+(?:/[\w.-]+)+")
FILE_SUFFIXES = {".py", ".sh", ".sql", ".txt", ".xml", ".yaml", ".yml", ".json", ".toml"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of the service's bind mounts (sources starting with ./ or ../)."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = str(volume.get("source", "")), str(volume.get("target", ""))
        else:
            source, _, rest = str(volume).partition(":")
            target = rest.split(":")[0]
        if source.startswith(("./", "../")):
            found.append((source, target))
    return found


def named_mounts(service: dict, compose: dict) -> dict[str, str]:
    """Named volume -> target in the container."""
    declared = set(compose.get("volumes") or {})
    found = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            if source in declared:
                found[source] = rest.split(":")[0]
    return found


def command_words(service: dict) -> list[str]:
    """Every word of the service's command, entrypoint and healthcheck (shell strings split)."""
    words: list[str] = []
    parts = [service.get("command"), service.get("entrypoint")]
    parts.append((service.get("healthcheck") or {}).get("test"))
    for part in parts:
        if part is None:
            continue
        for item in [part] if isinstance(part, str) else part:
            words.extend(shlex.split(str(item)))
    return words


def repo_paths_in(words: list[str]) -> list[str]:
    """Words that name a repository file: relative paths under a top-level folder of the repo,
    or relative paths to a source-like file. Absolute paths and URLs are the container's."""
    top_level = {p.name for p in REPO.iterdir() if not p.name.startswith(".")} | AIRFLOW_FOLDERS
    found = []
    for word in words:
        for token in PATH_TOKEN.findall(word):
            token = token.removeprefix("./")
            if token.split("/")[0] in top_level or Path(token).suffix in FILE_SUFFIXES:
                found.append(token)
    return found


def dockerfiles(services: dict[str, dict]) -> dict[Path, Path]:
    """Dockerfile -> build context, for every service that builds."""
    found = {}
    for service in services.values():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = (REPO / build.get("context", ".")).resolve()
        found[context / build.get("dockerfile", "Dockerfile")] = context
    return found


def image_is_pinned(image: str) -> bool:
    name = image.split("@", 1)[0]
    tag = name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""
    return "@sha256:" in image or (tag != "" and tag != "latest")


def test_compose_parses_and_has_the_services(compose: dict, services: dict) -> None:
    assert isinstance(compose, dict)
    missing = EXPECTED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yaml: {sorted(missing)}"
    assert "x-lambda-env" in compose, "the shared settings anchor x-lambda-env is gone"


def test_every_image_is_pinned(services: dict) -> None:
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name}: neither image nor build"
        if "image" in service:
            image = str(service["image"])
            assert image_is_pinned(image), f"{name}: image {image!r} is not pinned to a version"


def test_dockerfile_base_images_are_pinned(services: dict) -> None:
    for dockerfile in dockerfiles(services):
        stages: set[str] = set()
        for line in dockerfile.read_text().splitlines():
            match = re.match(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
            if not match:
                continue
            base, alias = match.groups()
            if base not in stages:
                assert image_is_pinned(base), f"{dockerfile.name}: FROM {base} is not pinned"
            if alias:
                stages.add(alias)


def test_mounted_and_built_paths_exist(services: dict) -> None:
    checked = 0
    for name, service in services.items():
        for source, _ in bind_mounts(service):
            path = (REPO / source).resolve()
            if not path.exists() and path.relative_to(REPO).parts[0] in AIRFLOW_FOLDERS:
                continue  # reported by test_airflow_folders_exist
            assert path.exists(), f"{name}: bind mount source {source} does not exist"
            checked += 1
    for dockerfile, context in dockerfiles(services).items():
        assert context.is_dir(), f"build context {context} does not exist"
        assert dockerfile.is_file(), f"{dockerfile} does not exist"
        checked += 1
    assert checked, "no bind mount or build was found: the checks above checked nothing"


def test_dockerfile_copy_sources_exist(services: dict) -> None:
    for dockerfile, context in dockerfiles(services).items():
        text = dockerfile.read_text().replace("\\\n", " ")
        for line in text.splitlines():
            words = line.split()
            if not words or words[0].upper() not in {"COPY", "ADD"}:
                continue
            if any(w.startswith("--from=") for w in words):
                continue
            sources = [w for w in words[1:-1] if not w.startswith("--")]
            for source in sources:
                assert (context / source).exists(), (
                    f"{dockerfile.name}: {words[0]} source {source} is not in the build context"
                )


def test_airflow_folders_exist(services: dict) -> None:
    missing = sorted(
        {
            source
            for service in services.values()
            for source, _ in bind_mounts(service)
            if not (REPO / source).exists()
        }
    )
    assert not missing, f"docker-compose.yaml mounts folders the repo lacks: {missing}"


def test_commands_name_existing_repo_files(services: dict) -> None:
    named = []
    for name, service in services.items():
        words = command_words(service)
        for path in repo_paths_in(words):
            assert (REPO / path).exists(), f"{name}: command names {path}, which does not exist"
            named.append(path)
        for i, word in enumerate(words[:-1]):
            if word == "-m" and words[i + 1] != "pytest":
                module = words[i + 1].replace(".", "/")
                candidates = [
                    REPO / root / suffix
                    for root in ("spark_apps", "include")
                    for suffix in (f"{module}.py", f"{module}/__main__.py")
                ]
                assert any(c.exists() for c in candidates), f"{name}: no module {words[i + 1]}"
    assert "include/scripts/spark_submit.sh" in named
    assert "spark_apps/speed_layer.py" in named


def test_no_hard_coded_secrets(services: dict) -> None:
    for name, service in services.items():
        for key, value in env_of(service).items():
            if SECRET_LOCATION.search(key):
                assert "${" not in value, f"{name}: {key} names where a secret is, not its value"
            elif SECRET_KEY.search(key):
                assert REQUIRED_VAR.match(value), (
                    f"{name}: {key} must be a required ${{...}} interpolation, not a value"
                )
            for url_password in re.findall(r"://[^/:@\s]+:([^@\s]+)@", value):
                assert REQUIRED_VAR.match(url_password), f"{name}: {key} has a password in it"
            if value.lstrip().startswith("{"):
                password = json.loads(value).get("password")
                if password is not None:
                    assert REQUIRED_VAR.match(password), f"{name}: {key} has a password in it"


def test_ports_are_published_on_loopback_only(services: dict) -> None:
    published = 0
    for name, service in services.items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                host_ip = str(port.get("host_ip", ""))
            else:
                host_ip = str(port).split(":", 1)[0] if str(port).count(":") >= 2 else ""
            assert host_ip == "127.0.0.1", f"{name}: port {port} is not bound to 127.0.0.1"
            published += 1
    assert published, "no published port found"


def test_settings_names_are_read_by_the_config_module(services: dict) -> None:
    source = CONFIG_SOURCE.read_text()
    for name, service in services.items():
        for key in env_of(service):
            if key.startswith("LAMBDA_"):
                assert f'"{key}"' in source, f"{name}: {key} is not a declared setting"


def test_shared_volumes_match_the_settings(services: dict, compose: dict) -> None:
    """Speed layer and Airflow see the raw dataset at LAMBDA_RAW_DIR; checkpoints likewise."""
    expected = {"lake": "LAMBDA_RAW_DIR", "checkpoints": "LAMBDA_CHECKPOINT_DIR"}
    users = {volume: [] for volume in expected}
    for name, service in services.items():
        env = env_of(service)
        for volume, target in named_mounts(service, compose).items():
            if volume in expected:
                assert env.get(expected[volume]) == target, (
                    f"{name}: volume {volume} at {target}, {expected[volume]}="
                    f"{env.get(expected[volume])}"
                )
                users[volume].append(name)
    assert {"speed-layer", "airflow-scheduler"} <= set(users["lake"])
    assert "speed-layer" in users["checkpoints"]


def test_airflow_uses_the_project_mounts(services: dict) -> None:
    for name in ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor"):
        service = services[name]
        env = env_of(service)
        targets = {source.removeprefix("./"): target for source, target in bind_mounts(service)}
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == targets["dags"]
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == targets["plugins"]
        project = Path(targets["spark_apps"]).parent
        assert all(Path(targets[f]).parent == project for f in ("include", "sql", "dags"))
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        # As on the host: the metadata URL from config.py, the SQL tasks' connection from the
        # file every Airflow container writes at start (telemetry.pg_roles), no URL in the env.
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"].endswith("config.py metadata-url")
        assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env
        assert "AIRFLOW_CONN_TELEMETRY_DB" not in env
        assert env["AIRFLOW__SECRETS__BACKEND"].endswith("LocalFilesystemBackend")
        kwargs = json.loads(env["AIRFLOW__SECRETS__BACKEND_KWARGS"])
        assert kwargs["connections_file_path"].startswith(env["LAMBDA_HOME"] + "/secrets/")
        assert "telemetry.pg_roles airflow-connections" in " ".join(command_words(service))
        spark = json.loads(env["AIRFLOW_CONN_SPARK_DEFAULT"])
        assert spark["conn_type"] == "spark" and spark["extra"] == {"deploy-mode": "client"}


def service_secrets(service: dict) -> set[str]:
    return {s if isinstance(s, str) else s["source"] for s in service.get("secrets") or []}


def test_each_service_gets_only_its_roles_passwords_as_files(services: dict, compose: dict):
    declared = compose.get("secrets") or {}
    assert declared and all(set(d) == {"environment"} for d in declared.values())
    for name, expected in ROLE_SECRETS.items():
        assert service_secrets(services[name]) == expected, name
        env = env_of(services[name])
        assert "LAMBDA_PG_PASSWORD" not in env, f"{name}: a password in the environment"
        if expected:
            assert env["LAMBDA_SECRETS_DIR"] == "/run/secrets", name
    # The server creates every role: it gets every password, and its superuser's own.
    assert service_secrets(services["postgres"]) == set(declared)
    # Compose stops with a message when one of them is not set.
    required = " ".join(compose["x-required-secrets"])
    for secret in declared.values():
        assert f"${{{secret['environment']}:?" in required


def test_postgres_matches_the_app_settings(services: dict) -> None:
    pg = env_of(services["postgres"])
    app = env_of(services["speed-layer"])
    for key in ("LAMBDA_PG_USER", "LAMBDA_PG_DB", "LAMBDA_AIRFLOW_DB", "LAMBDA_AIRFLOW_DB_USER"):
        assert pg[key] == app[key], key
    secret = pg["POSTGRES_PASSWORD_FILE"].removeprefix("/run/secrets/")
    assert secret in service_secrets(services["postgres"])
    assert (REPO / "sql" / "roles" / "cluster.sql").is_file()
    init_dir = REPO / "docker" / "postgres-init"
    scripts = sorted(p.name for p in init_dir.iterdir())
    assert scripts and all(re.match(r"\d+_", s) for s in scripts), scripts
