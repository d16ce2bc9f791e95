"""Faults the chaos run injects into real processes: kill -9, SIGSTOP, a broker killed and
restarted, a PostgreSQL crash, a process killed while it sits inside a write (failpoints)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from telemetry import config, failpoints

SCRIPTS = config.REPO_ROOT / "include" / "scripts"
SPEED_JVM = "org.apache.spark.deploy.SparkSubmit.*spark_apps/speed_layer.py"


def script(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def pids(pattern: str, home: Path) -> list[int]:
    """Processes matching ``pattern`` of the run whose state folder is ``home`` (their
    LAMBDA_HOME): a `make up` or another test run on the same machine is left alone."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [pid for pid in map(int, out.split()) if lambda_home(pid) == home.resolve()]


def lambda_home(pid: int) -> Path | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return None
    for item in environ.split(b"\0"):
        if item.startswith(b"LAMBDA_HOME="):
            return Path(item.removeprefix(b"LAMBDA_HOME=").decode(errors="replace")).resolve()
    return None


def kill(pid_list: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pid_list:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_for(path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.2)
    raise AssertionError(f"no {path.name} within {timeout}s: the failpoint was never reached")


def kill_at_failpoint(home: Path, name: str, timeout: float = 240) -> None:
    """Wait until a process sits in the armed failpoint ``name``, kill -9 it and its JVM."""
    hit = home / "failpoints" / f"{name}.hit"
    pid, parent = (int(x) for x in wait_for(hit, timeout).split())
    kill([pid, parent])


def kill_speed_layer(home: Path) -> None:
    found = pids(SPEED_JVM, home)
    assert found, "no speed layer JVM to kill"
    kill(found)


def kill_speed_layer_in_write(home: Path) -> None:
    failpoints.arm(home, "speed_upsert")
    kill_at_failpoint(home, "speed_upsert", timeout=120)


@contextlib.contextmanager
def speed_layer_stopped(run_dir: Path) -> Iterator[None]:
    """The whole app (launcher, JVM, Python driver) SIGSTOPped for the block, then SIGCONT."""
    group = int((run_dir / "speed_layer_app.pid").read_text())
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def pause_speed_layer(run_dir: Path, seconds: float) -> None:
    with speed_layer_stopped(run_dir):
        time.sleep(seconds)


def peak_rss_mb(pid_list: list[int]) -> float:
    """The peak resident memory (VmHWM) of processes, summed, in MiB."""
    total = 0
    for pid in pid_list:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def restart_kafka(run_dir: Path, down_seconds: float) -> None:
    """kill -9 the broker, leave it down, start it again (same data folder)."""
    kill([int((run_dir / "kafka.pid").read_text())])
    time.sleep(down_seconds)
    script("kafka.sh", "start")


def crash_postgres(down_seconds: float) -> None:
    """Stop PostgreSQL as a power cut would (immediate: crash recovery at start), then start it."""
    script("postgres.sh", "crash")
    try:
        time.sleep(down_seconds)
    finally:
        script("postgres.sh", "start")
