"""What the running services expose, with a speed layer up: every listening socket on loopback,
no password in any process's arguments (`ps`), in the project's processes' environments or in
the logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..system import command_line, environment, leaks, listeners, project_processes, secrets

pytestmark = pytest.mark.integration


def log_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_speed_layer_and_services_listen_on_loopback_and_leak_no_secret(pg, settings, speed_layer):
    speed_layer.start()
    secret_values = secrets(settings)
    processes = project_processes(settings)
    assert speed_layer.proc.pid in processes

    sockets = listeners(processes)
    ports = {x.port for x in sockets}
    assert {settings.kafka_port, settings.kafka_controller_port} <= ports
    if settings.pg_managed:
        assert settings.pg_port in ports
    exposed = [x for x in sockets if not x.on_loopback]
    assert exposed == [], "\n".join(f"{x.address}:{x.port} {x.command}" for x in exposed)

    every_pid = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    in_arguments = {pid: leaks(command_line(pid), secret_values) for pid in every_pid}
    assert {pid: found for pid, found in in_arguments.items() if found} == {}
    in_environment = {pid: leaks(environment(pid), secret_values) for pid in processes}
    assert {pid: found for pid, found in in_environment.items() if found} == {}

    assert speed_layer.stop() == 0
    for path in [*log_files(settings.home / "logs"), speed_layer.log]:
        assert leaks(path.read_text(errors="replace"), secret_values) == [], path
