"""Named places where the chaos tests stop a process at the worst moment (inside a PostgreSQL
transaction, between two file moves) to kill it there.

A failpoint is armed by creating the file ``<LAMBDA_HOME>/failpoints/<name>``; the first
process that reaches it removes the file (so it fires once: the retry that follows runs
through), writes ``<name>.hit`` with its pid and parent pid, and sleeps for the harness to kill
it. Unarmed, a failpoint costs one failed ``unlink``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from telemetry import logs

PAUSE_SECONDS = 90.0  # long enough for a harness on a loaded machine to find and kill the pid


def arm(home: Path, name: str, only_if: str = "") -> Path:
    """Arm ``name`` for the next process that reaches it (with a ``context`` containing
    ``only_if``); returns the file its hit will write."""
    folder = home / "failpoints"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.hit").unlink(missing_ok=True)
    (folder / name).write_text(only_if)
    return folder / f"{name}.hit"


def reach(home: Path, name: str, context: str = "") -> None:
    armed = home / "failpoints" / name
    try:
        if armed.read_text() not in context:
            return
        armed.unlink()  # only one process wins the unlink: the failpoint fires once
    except FileNotFoundError:
        return
    armed.with_name(f"{name}.hit").write_text(f"{os.getpid()} {os.getppid()}\n")
    logs.get("failpoint").warning(f"{name}: pid {os.getpid()} paused")
    time.sleep(PAUSE_SECONDS)
