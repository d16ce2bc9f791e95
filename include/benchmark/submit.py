"""spark-submit for the benchmark: an app run to its exit (output kept for parsing), or the speed
layer left running with its output followed line by line, so a drain, a burst or a start-up is
timed by the lines it prints, as they arrive."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmark import speed_log
from benchmark.figures import BenchmarkError
from telemetry import config

SUBMIT = config.REPO_ROOT / "include" / "scripts" / "spark_submit.sh"
SPEED_LAYER_APP = "spark_apps/speed_layer.py"
QUERIES = ("speed_layer",)


def submit(
    app: str, args: Sequence[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """spark-submit an app and wait; the output comes back for parsing and error messages."""
    proc = subprocess.run(
        ["bash", str(SUBMIT), app, *args],
        cwd=config.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise BenchmarkError(f"{app} exited with {proc.returncode}:\n{tail}")
    return proc


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a spark-submitted app (the launcher forwards it to the driver); SIGKILL its
    process group if it has not stopped within a minute."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


class SpeedLayerRun:
    """The speed layer spark-submitted with ``env``, its output copied to ``log_path`` and
    followed: when spark-submit started, when every query started, each applied micro-batch
    (with the time its line arrived) and the rows each query read. ``done`` is set once every
    query read ``events`` rows (None: never) or the process ended."""

    def __init__(self, env: dict[str, str], log_path: Path, events: int | None = None) -> None:
        self.log_path, self.events = log_path, events
        self.rows = dict.fromkeys(QUERIES, 0)
        self.started: set[str] = set()
        self.t_started: float | None = None
        self.t_done: float | None = None
        self.batches: list[tuple[float, speed_log.BatchLine]] = []
        self.done = threading.Event()
        self.ended = False  # its output closed: the process ended
        self._changed = threading.Condition()
        self._log = log_path.open("w")
        self.t_submit = time.perf_counter()
        self.proc = subprocess.Popen(
            ["bash", str(SUBMIT), SPEED_LAYER_APP],
            cwd=config.REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        for line in self.proc.stdout:
            now = time.perf_counter()
            self._log.write(line)
            with self._changed:
                if m := speed_log.STARTED.search(line):
                    self.started.add(m.group(1))
                    if self.started >= set(QUERIES) and self.t_started is None:
                        self.t_started = now
                elif batch := speed_log.parse_applied(line):
                    self.batches.append((now, batch))
                elif m := speed_log.PROGRESS.search(line):
                    self.rows[m.group(1)] += int(m.group(2))
                    if (
                        self.events is not None
                        and min(self.rows.values()) >= self.events
                        and self.t_done is None
                    ):
                        self.t_done = now
                        self.done.set()
                self._changed.notify_all()
        self._log.close()
        with self._changed:
            self.ended = True
            self.done.set()
            self._changed.notify_all()

    @property
    def t_first_batch(self) -> float | None:
        return self.batches[0][0] if self.batches else None

    def batch_lines(self, since: int = 0) -> list[speed_log.BatchLine]:
        with self._changed:
            return [b for _, b in self.batches[since:]]

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Block until ``ready()`` (checked under the follower's lock at each new line);
        BenchmarkError if the speed layer ends or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    why = "timed out" if left <= 0 else f"exited with {self.proc.wait()}"
                    raise BenchmarkError(
                        f"speed layer {why} waiting for {what}; see {self.log_path}"
                    )
                self._changed.wait(min(left, 1.0))

    def wait_started(self, timeout: float = 180.0) -> None:
        self.wait_until(lambda: self.t_started is not None, timeout, "its query to start")

    def wait_idle(self, quiet: float, timeout: float) -> None:
        """Until no micro-batch was applied for ``quiet`` seconds: the next burst finds it idle."""
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                last = self.batches[-1][0] if self.batches else self.t_started or self.t_submit
            if time.perf_counter() - last >= quiet:
                return
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the speed layer did not go idle; see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        stop(self.proc)
        self._thread.join(30)
