"""PostgreSQL at field size: one hour of 5-minute windows from a fleet of D devices on A
antennas (D = 1,000,000: about 12 million ``bytes`` rows) generated server-side in a day of its
own, then

1. the speed layer's move at 20,000 events/s: micro-batches of the window deltas one second of
   that load makes (a delta for one device in two of the fleet, every antenna, every app, in the
   hour's last window, so most rows update one already there), staged and moved into ``bytes``
   as ``speed.commit.SpeedWriter.apply`` moves them (``postgres.move_staged``): rows/s;
2. every dashboard query (sql/dashboard, with the API's parameters: 24 hours ending with the
   loaded hour, the top 10, each dimension) as the read-only role, ``--runs`` times each: p50
   and p95, held to 1 s.

    python -m benchmark.serving_size [--devices D] [--antennas A] [--runs R] [--batches B]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta

from benchmark.figures import log
from telemetry import config, names, postgres
from telemetry.schema import WINDOW_TOTAL_COLUMNS

HOUR = datetime(2001, 3, 1, 10)  # a day no other figure uses
QUERY_LIMIT_SECONDS = 1.0
APPS = ("SKYPE", "WHATSAPP", "TELEGRAM", "FACEBOOK", "INSTAGRAM", "YOUTUBE", "NETFLIX", "SPOTIFY")
DEVICE = "'00000000-0000-0000-0000-' || lpad(d::TEXT, 12, '0')"
ANTENNA = "'00000000-0000-0000-0000-1' || lpad(d::TEXT, 11, '0')"


def load_hour(settings: config.Settings, devices: int, antennas: int) -> int:
    """The hour's windows, in its day's partition (as retention creates them); returns rows."""
    with postgres.connect(settings) as conn:
        conn.execute(
            "SELECT lambda_ensure_partitions(t, %s, %s) FROM unnest(%s::regclass[]) t",
            (HOUR.date(), HOUR.date(), ["bytes", "bytes_by_hour"]),
        )
        conn.execute(
            "DELETE FROM bytes WHERE timestamp >= %s AND timestamp < %s",
            (HOUR, HOUR + timedelta(hours=1)),
        )
        window = "%(hour)s::TIMESTAMP + w * interval '5 minutes'"
        for key, n, kind in (
            (DEVICE, devices, "user_bytes_total"),
            (ANTENNA, antennas, "antenna_bytes_total"),
        ):
            conn.execute(
                f"INSERT INTO bytes (timestamp, id, value, type) SELECT {window}, {key},"
                f" (d * 7919 + w * 104729) %% 2000000, %(type)s"
                f" FROM generate_series(0, 11) w, generate_series(1, %(n)s::BIGINT) d",
                {"hour": HOUR, "n": n, "type": kind},
            )
        conn.execute(
            f"INSERT INTO bytes (timestamp, id, value, type) SELECT {window}, app, 1000000,"
            " 'app_bytes_total' FROM generate_series(0, 11) w, unnest(%(apps)s::TEXT[]) app",
            {"hour": HOUR, "apps": list(APPS)},
        )
        conn.execute("ANALYZE bytes, bytes_by_hour")
        return conn.execute(
            "SELECT count(*) FROM bytes WHERE timestamp >= %s AND timestamp < %s",
            (HOUR, HOUR + timedelta(hours=1)),
        ).fetchone()[0]


def move_rate(settings: config.Settings, devices: int, antennas: int, batches: int) -> dict:
    """Rows/s of ``batches`` moves of one second of 20,000 events/s each, into the full hour."""
    last_window = HOUR + timedelta(minutes=55)
    speed = settings.as_role("speed")
    seconds, rows = [], 0
    for b in range(batches):
        token = f"serving-size-{b}"
        with postgres.connect(speed) as conn:  # staged as the executors stage, from SQL here
            conn.execute(
                f"INSERT INTO staged_bytes (token, part, timestamp, id, value, type)"
                f" SELECT %(token)s, 0, %(w)s, {DEVICE}, 10, 'user_bytes_total'"
                f" FROM generate_series(%(first)s::BIGINT, %(devices)s, 50) d"
                f" UNION ALL SELECT %(token)s, 0, %(w)s, {ANTENNA}, 10, 'antenna_bytes_total'"
                f" FROM generate_series(1, %(antennas)s::BIGINT) d"
                f" UNION ALL SELECT %(token)s, 0, %(w)s, app, 10, 'app_bytes_total'"
                f" FROM unnest(%(apps)s::TEXT[]) app",
                {
                    "token": token,
                    "w": last_window,
                    "first": 1 + b % 50,
                    "devices": devices,
                    "antennas": antennas,
                    "apps": list(APPS),
                },
            )
            # 20,000 events/s: about 20,000 device deltas a second, 1 in 50 of the fleet.
            expected = conn.execute(
                "SELECT count(*) FROM staged_bytes WHERE token = %s", (token,)
            ).fetchone()[0]
        with postgres.connect(speed) as conn:
            began = time.perf_counter()
            with conn.transaction():
                postgres.move_staged(
                    conn,
                    "bytes",
                    WINDOW_TOTAL_COLUMNS,
                    token,
                    expected,
                    "ON CONFLICT (timestamp, type, id)"
                    " DO UPDATE SET value = saturating_bigint(t.value::NUMERIC + EXCLUDED.value)",
                )
            seconds.append(time.perf_counter() - began)
            rows = expected
    return {"rows_per_batch": rows, "median_s": statistics.median(seconds), "max_s": max(seconds)}


def dashboard_queries(settings: config.Settings, runs: int) -> list[tuple[str, float, float]]:
    """(query and parameters, p50 s, p95 s) of each dashboard query over the 24 hours ending
    with the loaded hour, as the read-only role."""
    end = HOUR + timedelta(hours=1)
    day = {"start": end - timedelta(hours=24), "end": end}
    last = {"start": HOUR, "end": end}
    cases = (
        [
            (f"traffic_hourly {d}", "traffic_hourly", {**day, "type": t, "key": None, "top_n": 10})
            for d, t in (
                ("user", "user_bytes_total"),
                ("antenna", "antenna_bytes_total"),
                ("app", "app_bytes_total"),
            )
        ]
        + [
            (
                f"traffic_windows {d}",
                "traffic_windows",
                {**last, "type": t, "key": None, "top_n": 10},
            )
            for d, t in (
                ("user", "user_bytes_total"),
                ("antenna", "antenna_bytes_total"),
                ("app", "app_bytes_total"),
            )
        ]
        + [
            (
                "traffic_hourly user, one key",
                "traffic_hourly",
                {
                    **day,
                    "type": "user_bytes_total",
                    "key": "00000000-0000-0000-0000-000000000007",
                    "top_n": 10,
                },
            ),
            ("quota_warning", "quota_warning", {**day, "max_rows": 200}),
            ("quota_confirmed", "quota_confirmed", {**day, "max_rows": 200}),
            ("speed_freshness", "speed_freshness", {"query_name": names.SPEED_QUERY}),
            ("hours_not_exact", "hours_not_exact", day),
            ("reconciliation", "reconciliation", day),
            ("quarantine_by_reason", "quarantine_by_reason", day),
        ]
    )
    found = []
    with postgres.connect(settings.as_role("reader")) as conn:
        for label, name, params in cases:
            sql = (config.REPO_ROOT / "sql" / "dashboard" / f"{name}.sql").read_text()
            times = []
            for _ in range(runs):
                began = time.perf_counter()
                conn.execute(sql, params).fetchall()
                times.append(time.perf_counter() - began)
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            found.append((label, statistics.median(times), p95))
    return found


def measure(settings: config.Settings, devices: int, antennas: int, runs: int, batches: int) -> str:
    """The loaded hour, the moves and the queries; the printed section. The hour is removed."""
    log(f"PostgreSQL at field size: one hour of windows of {devices:,} devices")
    began = time.perf_counter()
    rows = load_hour(settings, devices, antennas)
    log(f"{rows:,} rows in {time.perf_counter() - began:.0f} s; the speed layer's moves")
    moved = move_rate(settings, devices, antennas, batches)
    log("the dashboard's queries")
    queries = dashboard_queries(settings, runs)
    with postgres.connect(settings) as conn:
        conn.execute(
            "DELETE FROM bytes WHERE timestamp >= %s AND timestamp < %s",
            (HOUR, HOUR + timedelta(hours=1)),
        )
    rate = moved["rows_per_batch"] / moved["median_s"]
    lines = [
        f"PostgreSQL at field size: bytes holds {rows:,} rows in the hour {HOUR:%Y-%m-%d %H}:00"
        f" ({devices:,} devices, {antennas:,} antennas)",
        f"speed layer move of one second of 20,000 events/s ({moved['rows_per_batch']:,} rows,"
        f" {batches} batches): median {moved['median_s']:.3f} s, max {moved['max_s']:.3f} s,"
        f" {rate:,.0f} rows/s ({'met' if moved['max_s'] <= 1 else 'MISSED'} <= 1 s)",
    ]
    width = max(len(q[0]) for q in queries)
    lines.append(f"{'dashboard query':<{width}}  p50 s   p95 s  target ({runs} runs each)")
    for label, p50, p95 in queries:
        verdict = "met" if p95 <= QUERY_LIMIT_SECONDS else "MISSED"
        lines.append(f"{label:<{width}}  {p50:5.3f}  {p95:6.3f}  {verdict} <= 1 s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmark.serving_size", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--devices", type=int, default=1_000_000)
    p.add_argument("--antennas", type=int, default=5000)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--batches", type=int, default=10)
    args = p.parse_args(argv)
    print(measure(config.load(), args.devices, args.antennas, args.runs, args.batches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
