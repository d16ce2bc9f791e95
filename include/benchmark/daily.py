"""The daily recompute at field cardinality: a day of synthetic hours (24 hours of E events from
D devices on A antennas, landed as the speed layer lands them, big_hour.py), then batch_daily.py
over it (spark-submit, as lambda_daily's recompute_day runs it): its time and the peak resident
memory of each of its processes, sampled from /proc: the driver's Python process (where the
totals were once collected), the JVM (in local mode it also holds the executors) and the
executors' Python workers (which stage the rows in PostgreSQL)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmark.figures import BenchmarkError, Figure, Target, log
from benchmark.submit import SUBMIT, submit
from telemetry import config, postgres

DAILY_TARGET = Target("seconds", 600)  # the daily recompute of a 1,000,000-device day
DRIVER_RSS_LIMIT_MIB = 1024  # the driver's Python process
PAGE = os.sysconf("SC_PAGE_SIZE")


def _process_kind(cmdline: str) -> str | None:
    if "org.apache.spark.deploy.SparkSubmit" in cmdline:
        return "jvm"
    if "pyspark.daemon" in cmdline or "pyspark/daemon" in cmdline or "pyspark.worker" in cmdline:
        return "workers"
    if "batch_daily.py" in cmdline and "java" not in cmdline.split("\0")[0]:
        return "driver"
    return None


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class PeakMemory(threading.Thread):
    """Samples the resident memory of a process tree by kind every half second; ``peaks``:
    kind -> the largest MiB seen (the workers' summed)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peaks = root, {"driver": 0, "jvm": 0, "workers": 0}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            now = dict.fromkeys(self.peaks, 0)
            for pid in _tree(self.root):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_text()
                    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
                except (OSError, IndexError, ValueError):
                    continue
                kind = _process_kind(cmdline)
                if kind:
                    now[kind] += rss // 2**20
            for kind, mib in now.items():
                self.peaks[kind] = max(self.peaks[kind], mib)

    def stop(self) -> dict[str, int]:
        self._done.set()
        self.join()
        return self.peaks


def run_daily_job(env: dict[str, str], day: datetime, timeout: float) -> tuple[float, str, dict]:
    """spark-submit batch_daily.py for ``day``: (wall seconds, its output, peak MiB by kind)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        ["bash", str(SUBMIT), "spark_apps/batch_daily.py", "--day", f"{day:%Y-%m-%d}"],
        cwd=config.REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sampler = PeakMemory(proc.pid)
    sampler.start()
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        peaks = sampler.stop()
        if proc.poll() is None:
            proc.kill()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise BenchmarkError(f"batch_daily.py exited with {proc.returncode}:\n{tail}")
    return wall, output, peaks


def daily_recompute(
    settings: config.Settings,
    env: dict[str, str],
    work: Path,
    hourly_events: int,
    devices: int,
    antennas: int,
) -> list[Figure]:
    """A day of 24 hours of ``hourly_events`` events from ``devices`` devices, recomputed."""
    root = work / "daily_raw"
    day_env = {**env, "LAMBDA_RAW_DIR": str(root)}
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = today - timedelta(days=5)  # far from the other figures' hours
    total = 24 * hourly_events
    log(f"a {devices:,}-device day, 24 hours of {hourly_events:,} events: landing it")
    started = time.perf_counter()
    submit(
        "include/benchmark/big_hour.py",
        [str(root), str(int(day.timestamp())), str(devices), str(antennas)]
        + [str(hourly_events)] * 24,
        day_env,
        max(1800.0, total / 20_000),
    )
    log(f"landed in {time.perf_counter() - started:.0f} s; the daily recompute (spark-submit)")
    wall, output, peaks = run_daily_job(day_env, day, max(3600.0, total / 5_000))
    naive = day.replace(tzinfo=None)
    with postgres.connect(settings.as_role("reader")) as conn:
        rows, counted = conn.execute(
            "SELECT (SELECT count(*) FROM bytes_hourly WHERE timestamp >= %(d)s"
            "        AND timestamp < %(d)s + interval '1 day'),"
            " (SELECT coalesce(sum(events + duplicates), 0) FROM batch_hourly_stats"
            "  WHERE timestamp >= %(d)s AND timestamp < %(d)s + interval '1 day')",
            {"d": naive},
        ).fetchone()
    shutil.rmtree(root, ignore_errors=True)
    if counted != total:
        raise BenchmarkError(f"the daily recompute counted {counted:,} events, expected {total:,}")
    steps = re.search(r"\[batch\] steps: (.*)", output)
    verdict = "met" if peaks["driver"] <= DRIVER_RSS_LIMIT_MIB else "MISSED"
    note = (
        f"daily recompute of {devices:,} devices: {rows:,} bytes_hourly rows staged by the "
        f"executors; peak resident memory: driver's Python {peaks['driver']:,} MiB ({verdict} <= "
        f"{DRIVER_RSS_LIMIT_MIB:,} MiB), JVM {peaks['jvm']:,} MiB (local mode: the executors "
        f"too), executors' Python workers {peaks['workers']:,} MiB"
        + (f"; steps: {steps.group(1)}" if steps else "")
    )
    return [
        Figure(
            "daily_field",
            f"daily recompute, {devices:,}-device day, spark-submit to exit",
            total,
            wall,
            None,
            (DAILY_TARGET,),
            note,
            {"peak_rss_mib": peaks, "bytes_hourly_rows": rows},
        )
    ]
