"""What the chaos and cluster runs check afterwards, against the producer's ledger: every
acknowledged record landed or quarantined exactly once, every serving table equal to the ground
truth; and how they tell that the speed layer is progressing."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict

import psycopg

from telemetry import raw_store

from .ledger import Ledger, expected_windows

HOUR = dt.timedelta(hours=1)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def last_progress(settings) -> dt.datetime | None:
    """When the speed layer last finished a micro-batch that read records (None: unknown now)."""
    try:
        with psycopg.connect(settings.pg_dsn, connect_timeout=3) as pg:
            return pg.execute(
                "SELECT max(updated_at) FROM speed_layer_progress"
                " WHERE query_name = 'speed_layer' AND input_rows > 0"
            ).fetchone()[0]
    except psycopg.OperationalError:
        return None


def wait_progress_after(settings, moment: dt.datetime, timeout: float) -> float:
    """Seconds from ``moment`` until the speed layer processed records again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = last_progress(settings)
        if seen is not None and seen > moment:
            return (seen - moment).total_seconds()
        time.sleep(0.5)
    return float("inf")


def wait_drained(settings, topic, ledger: Ledger, start, end, timeout: float = 240) -> bool:
    """The speed layer has quarantined every hostile record and its windows hold every event."""
    expected = expected_windows(ledger.valid_events(), 300)
    hostile = len(ledger.hostile_records())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(settings.pg_dsn) as pg:
            quarantined = pg.execute(
                "SELECT count(*) FROM quarantine WHERE kafka_topic = %s", (topic,)
            ).fetchone()[0]
            windows = speed_windows(pg, start, end)
        if quarantined == hostile and windows == expected:
            return True
        time.sleep(2)
    return False


def speed_windows(pg, start, end) -> dict[tuple, int]:
    rows = pg.execute(
        "SELECT timestamp, type, id, value FROM bytes WHERE timestamp >= %s AND timestamp < %s",
        (start, end),
    ).fetchall()
    return {(ts, t, i): v for ts, t, i, v in rows}


def checked_tables(daily: bool) -> tuple[str, ...]:
    return ("bytes", "bytes_by_hour", "bytes_hourly", "user_quota_limit") + (
        ("bytes_daily", "serving") if daily else ("serving",)
    )


def check_everything(settings, spark, topic, ledger: Ledger, day, start, end, daily) -> dict:
    found: dict = {}
    # Every acknowledged valid record in the Parquet dataset exactly once, as sent.
    raw = raw_store.read_hours(spark, settings.raw_dir, start, end).collect()
    landed = Counter((r.kafka_partition, r.kafka_offset) for r in raw)
    content = {
        (r.kafka_partition, r.kafka_offset): (r.timestamp, r.id, r.antenna_id, r.bytes, r.app)
        for r in raw
    }
    valid = {(r.partition, r.offset): r.event for r in ledger.records if r.event is not None}
    found["lost"] = sum(1 for k in valid if landed[k] == 0)
    found["doubled"] = sum(n - 1 for n in landed.values() if n > 1)
    found["unknown"] = sum(1 for k in landed if k not in valid)
    found["wrong_content"] = sum(
        1
        for k, e in valid.items()
        if k in content and content[k] != (e.timestamp, e.id, e.antenna_id, e.bytes, e.app)
    )
    # Every hostile record in the quarantine (one row per Kafka record: its key) with its reason.
    with psycopg.connect(settings.pg_dsn) as pg:
        rows = pg.execute(
            "SELECT kafka_partition, kafka_offset, reason FROM quarantine WHERE kafka_topic = %s",
            (topic,),
        ).fetchall()
        quarantined = {(p, o): reason for p, o, reason in rows}
        hostile = {(r.partition, r.offset): r.reason for r in ledger.hostile_records()}
        found["lost"] += sum(1 for k in hostile if k not in quarantined)
        found["unknown"] += sum(1 for k in quarantined if k not in hostile)
        found["wrong_reason"] = sum(
            1 for k, reason in hostile.items() if k in quarantined and quarantined[k] != reason
        )
        truth = batch_truth(pg, ledger, day)
        windows = expected_windows(ledger.valid_events(), 300)
        found["bytes_ok"] = speed_windows(pg, start, end) == windows
        between = (start, end)
        # The hourly sums the triggers keep (sql/schema/002_bytes_by_hour.sql), from the truth.
        by_hour: Counter = Counter()
        for (ts, kind, key), value in windows.items():
            by_hour[(ts.replace(minute=0, second=0), kind, key)] += value
        found["bytes_by_hour_ok"] = table(pg, "bytes_by_hour", between) == dict(by_hour)
        found["bytes_hourly_ok"] = table(pg, "bytes_hourly", between) == truth["hourly"]
        found["user_quota_limit_ok"] = quota_rows(pg, between) == truth["over_quota"]
        if daily:
            daily_rows = table(pg, "bytes_daily", (day, day + 24 * HOUR))
            found["bytes_daily_ok"] = daily_rows == truth["daily"]
        serving = pg.execute(
            "SELECT timestamp, type, id, value, source FROM serving_bytes_hourly"
            " WHERE timestamp >= %s AND timestamp < %s",
            between,
        ).fetchall()
        found["serving_ok"] = {(t, ty, i): v for t, ty, i, v, _ in serving} == truth["hourly"] and {
            s for *_, s in serving
        } == {"batch"}
    found["records"] = len(ledger.records)
    return found


def table(pg, name: str, between) -> dict[tuple, int]:
    rows = pg.execute(
        f"SELECT timestamp, type, id, value FROM {name} WHERE timestamp >= %s AND timestamp < %s",
        between,
    ).fetchall()
    return {(ts, t, i): v for ts, t, i, v in rows}


def quota_rows(pg, between) -> set[tuple]:
    rows = pg.execute(
        "SELECT timestamp, email, usage, quota FROM user_quota_limit"
        " WHERE timestamp >= %s AND timestamp < %s",
        between,
    ).fetchall()
    return set(rows)


def batch_truth(pg, ledger: Ledger, day) -> dict:
    """Exact hourly and daily totals (users keyed by email) and users over quota."""
    users = {i: (email, quota) for i, email, quota in pg.execute(
        "SELECT id, email, quota FROM user_metadata"
    ).fetchall()}  # fmt: skip
    hourly: dict[tuple, int] = defaultdict(int)
    daily: dict[tuple, int] = defaultdict(int)
    usage: dict[tuple, int] = defaultdict(int)
    for e in set(ledger.valid_events()):
        hour = dt.datetime.fromtimestamp(e.timestamp - e.timestamp % 3600, dt.UTC)
        hour = hour.replace(tzinfo=None)
        user = users.get(e.id, (e.id, None))[0]
        for kind, key in (
            ("antenna_bytes_total", e.antenna_id),
            ("user_bytes_total", user),
            ("app_bytes_total", e.app),
        ):
            hourly[(hour, kind, key)] += e.bytes
            if hour >= day:  # the daily run's day (the first hour is the day before's)
                daily[(day, kind, key)] += e.bytes
        usage[(hour, e.id)] += e.bytes
    over_quota = {
        (hour, users[uid][0], used, users[uid][1])
        for (hour, uid), used in usage.items()
        if uid in users and used > users[uid][1]
    }
    return {"hourly": dict(hourly), "daily": dict(daily), "over_quota": over_quota}
