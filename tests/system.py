"""What the running system exposes, read from /proc (Linux): the project's processes, their
listening TCP sockets, arguments and environments, and the secrets that must not show in them.
Shared by the privilege and secrets tests of both sessions."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from telemetry import config

TCP_LISTEN = "0A"


@dataclass(frozen=True)
class Listener:
    pid: int
    address: str
    port: int
    command: str

    @property
    def on_loopback(self) -> bool:
        ip = ipaddress.ip_address(self.address)
        mapped = getattr(ip, "ipv4_mapped", None)  # Java's IPv6 sockets: ::ffff:127.0.0.1
        return ip.is_loopback or bool(mapped and mapped.is_loopback)


def secrets(settings: config.Settings) -> dict[str, str]:
    """Every secret of the state folder, by file name (the role passwords, Airflow's users')."""
    folder = settings.secrets_dir
    found = {p.name: p.read_text().strip() for p in folder.glob("pg_password_*")}
    for user in settings.home.glob("secrets/airflow_*_password"):
        found[user.name] = user.read_text().strip()
    assert len(found) >= len(config.PG_ROLES), f"no role passwords in {folder}"
    return found


def command_line(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def environment(pid: int) -> str:
    """The environment a process started with ('' if gone or unreadable). Processes that set
    their title (Airflow's) overwrite this area, so for them it says nothing."""
    try:
        return (
            Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b"\n").decode(errors="replace")
        )
    except OSError:
        return ""


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _listening_inodes() -> dict[int, tuple[str, int]]:
    """inode -> (address, port) of every listening TCP socket (IPv4 and IPv6)."""
    found = {}
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != TCP_LISTEN:
                continue
            hex_address, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found[int(fields[9])] = (socket.inet_ntop(family, packed), int(hex_port, 16))
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listeners(pids: set[int] | None = None) -> list[Listener]:
    """Listening TCP sockets of the given processes (of every process if None)."""
    by_inode = _listening_inodes()
    found = []
    for pid in sorted(pids if pids is not None else _parents()):
        for inode in _socket_inodes(pid) & by_inode.keys():
            address, port = by_inode[inode]
            found.append(Listener(pid, address, port, command_line(pid)[:160]))
    return found


def project_processes(settings: config.Settings) -> set[int]:
    """This test session, the services the scripts started (their pid files), the PostgreSQL
    server on the project's port, and every descendant of those."""
    roots = {os.getpid()}
    for pid_file in (settings.home / "run").glob("*.pid"):
        try:
            roots.add(int(pid_file.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    roots |= {x.pid for x in listeners() if x.port == settings.pg_port}
    parents = _parents()
    members = {pid for pid in roots if pid in parents}
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in members} - members
        members |= children
        grew = bool(children)
    return members


def leaks(text: str, secret_values: dict[str, str]) -> list[str]:
    """Names of the secrets that appear in text."""
    return sorted(name for name, value in secret_values.items() if value and value in text)


class NiceSampler(threading.Thread):
    """Samples, twice a second, the nice value of every process whose command line holds
    ``marker``: {pid: its nice value when last seen}. A context manager."""

    def __init__(self, marker: str) -> None:
        super().__init__(daemon=True)
        self.marker, self.seen = marker, {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            pids = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
            for pid in pids:
                if self.marker in command_line(pid):
                    with contextlib.suppress(OSError):  # gone meanwhile
                        self.seen[pid] = os.getpriority(os.PRIO_PROCESS, pid)

    def __enter__(self) -> dict[int, int]:
        self.start()
        return self.seen

    def __exit__(self, *_) -> None:
        self.done.set()
        self.join()
