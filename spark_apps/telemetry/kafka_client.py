"""Kafka client options beyond the bootstrap servers: TLS and SASL for a secured cluster.

LAMBDA_KAFKA_CLIENT_PROPERTIES names a Java client properties file, the one Kafka's own tools
take (``security.protocol``, ``sasl.mechanism``, ``sasl.jaas.config``, ``ssl.truststore.*``).
The Spark source gets every property as a ``kafka.``-prefixed option; the Python clients (the
preflight, the offsets check, the topic helper, the simulator) get the security ones mapped to
kafka-python's names. kafka-python reads PEM files only: stores must be
``ssl.truststore.type=PEM`` / ``ssl.keystore.type=PEM`` (the Java client reads those too).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from telemetry.config import ConfigError, Settings

VARIABLE = "LAMBDA_KAFKA_CLIENT_PROPERTIES"
_JAAS_VALUE = r'{}\s*=\s*"((?:[^"\\]|\\.)*)"'


def read_properties(path: Path) -> dict[str, str]:
    """A Java .properties file: key=value or key: value, # and ! comments, \\ continuations."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{VARIABLE}={path}: {exc.strerror or exc}") from None
    props: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        if not line or line[0] in "#!":
            continue
        found = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)$", line)
        if not found:
            raise ConfigError(f"{VARIABLE}={path}: {line!r} is not key=value")
        props[found.group(1)] = found.group(2)
    return props


def client_properties(settings: Settings) -> dict[str, str]:
    """The file's properties; none when no file is configured (a plaintext cluster)."""
    if not settings.kafka_client_properties:
        return {}
    return read_properties(Path(settings.kafka_client_properties))


def spark_options(settings: Settings) -> dict[str, str]:
    """Options for Spark's Kafka source (``kafka.`` + the Java client's property name)."""
    return {f"kafka.{k}": v for k, v in client_properties(settings).items()}


def _pem(props: dict[str, str], store: str) -> str | None:
    location = props.get(f"ssl.{store}.location")
    if location is None:
        return None
    if props.get(f"ssl.{store}.type", "JKS").upper() != "PEM":
        raise ConfigError(
            f"{VARIABLE}: ssl.{store}.location must be a PEM file with ssl.{store}.type=PEM "
            "(the Python clients cannot read JKS or PKCS12 stores)"
        )
    return location


def python_options(settings: Settings) -> dict[str, Any]:
    """kafka-python keyword arguments for the same security settings."""
    props = client_properties(settings)
    options: dict[str, Any] = {}
    if "security.protocol" in props:
        options["security_protocol"] = props["security.protocol"].upper()
    if "sasl.mechanism" in props:
        options["sasl_mechanism"] = props["sasl.mechanism"].upper()
    jaas = props.get("sasl.jaas.config", "")
    for name, option in (("username", "sasl_plain_username"), ("password", "sasl_plain_password")):
        found = re.search(_JAAS_VALUE.format(name), jaas)
        if found:
            options[option] = found.group(1).replace('\\"', '"')
    if "sasl.kerberos.service.name" in props:
        options["sasl_kerberos_service_name"] = props["sasl.kerberos.service.name"]
    if (cafile := _pem(props, "truststore")) is not None:
        options["ssl_cafile"] = cafile
    if (certfile := _pem(props, "keystore")) is not None:
        options["ssl_certfile"] = certfile  # key and chain in one PEM file, as Java's
    if "ssl.key.password" in props:
        options["ssl_password"] = props["ssl.key.password"]
    if props.get("ssl.endpoint.identification.algorithm", "https") == "":
        options["ssl_check_hostname"] = False
    unmapped = sorted(
        k
        for k in props
        if k.startswith(("ssl.", "sasl.", "security."))
        and k not in _MAPPED
        and not k.endswith((".type", ".location"))
    )
    if unmapped:
        raise ConfigError(
            f"{VARIABLE}: the Python clients have no equivalent of {', '.join(unmapped)}"
        )
    return options


_MAPPED = {
    "security.protocol",
    "sasl.mechanism",
    "sasl.jaas.config",
    "sasl.kerberos.service.name",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
}
