"""bytes_by_hour (sql/schema/002_bytes_by_hour.sql) against the real PostgreSQL: after every kind
of write to bytes (the speed layer's move as its role, plain inserts, updates, a changed key,
deletes, a truncate) it equals the windows summed per hour, type and key, and an hour whose
windows are all gone is gone from it."""

from __future__ import annotations

import datetime as dt

import pytest

from telemetry import postgres
from telemetry.schema import WINDOW_TOTAL_COLUMNS

pytestmark = pytest.mark.integration

HOUR = dt.datetime(2004, 5, 6, 7)  # no other test writes this day


@pytest.fixture(autouse=True)
def partitions(pg) -> None:
    """HOUR's daily partitions of both tables, as retention creates them."""
    pg.execute(
        "SELECT lambda_ensure_partitions(t, %s, %s) FROM unnest(%s::regclass[]) t",
        (HOUR.date(), HOUR.date(), ["bytes", "bytes_by_hour"]),
    )


def window(minutes: int) -> dt.datetime:
    return HOUR + dt.timedelta(minutes=minutes)


def rollup(pg) -> list[tuple]:
    return pg.execute(
        "SELECT timestamp, type, id, value, windows FROM bytes_by_hour"
        " WHERE timestamp >= %s AND timestamp < %s ORDER BY 1, 2, 3",
        (HOUR.date(), HOUR.date() + dt.timedelta(days=1)),
    ).fetchall()


def summed(pg) -> list[tuple]:
    """What bytes_by_hour must hold: the windows of bytes summed, as the trigger must keep it."""
    return pg.execute(
        "SELECT date_trunc('hour', timestamp), type, id, sum(value)::BIGINT, count(*)::INTEGER"
        " FROM bytes WHERE timestamp >= %s AND timestamp < %s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        (HOUR.date(), HOUR.date() + dt.timedelta(days=1)),
    ).fetchall()


def speed_move(settings, rows: list[tuple]) -> None:
    """Rows staged and moved as the speed layer's transaction moves them, as its role."""
    token = f"rollup-test-{len(rows)}-{rows[0][0]:%H%M}"
    with postgres.connect(settings.as_role("speed")) as conn, conn.transaction():
        conn.cursor().executemany(
            "INSERT INTO staged_bytes (token, part, timestamp, id, value, type)"
            " VALUES (%s, 0, %s, %s, %s, %s)",
            [(token, *row) for row in rows],
        )
        postgres.move_staged(
            conn,
            "bytes",
            WINDOW_TOTAL_COLUMNS,
            token,
            len(rows),
            "ON CONFLICT (timestamp, type, id)"
            " DO UPDATE SET value = saturating_bigint(t.value::NUMERIC + EXCLUDED.value)",
        )


def test_every_write_to_bytes_keeps_the_hourly_sums(pg, settings):
    user = "user_bytes_total"
    speed_move(
        settings,
        [
            (window(0), "dev-a", 10, user),
            (window(5), "dev-a", 5, user),
            (window(0), "dev-b", 7, user),
            (window(60), "dev-a", 1, user),
        ],
    )
    assert rollup(pg) == summed(pg)
    assert (HOUR, user, "dev-a", 15, 2) in rollup(pg)
    # The same windows again (a later micro-batch adds to them) and a new one.
    speed_move(settings, [(window(0), "dev-a", 100, user), (window(10), "dev-b", 1, user)])
    assert rollup(pg) == summed(pg)
    assert (HOUR, user, "dev-a", 115, 2) in rollup(pg)

    pg.execute("UPDATE bytes SET value = value * 2 WHERE id = 'dev-b'")
    assert rollup(pg) == summed(pg)
    pg.execute("UPDATE bytes SET id = 'dev-c' WHERE id = 'dev-b' AND timestamp = %s", (window(0),))
    assert rollup(pg) == summed(pg)
    pg.execute("DELETE FROM bytes WHERE id = 'dev-a' AND timestamp = %s", (window(5),))
    assert rollup(pg) == summed(pg)

    # Every window of an hour gone: so is the hour, not a row of zeros.
    pg.execute("DELETE FROM bytes WHERE id = 'dev-a' AND timestamp < %s", (window(60),))
    assert not [r for r in rollup(pg) if r[2] == "dev-a" and r[0] == HOUR]
    assert rollup(pg) == summed(pg)
    assert rollup(pg), "the other hours and keys are still there"

    pg.execute("TRUNCATE bytes")
    assert rollup(pg) == []


def test_the_serving_view_serves_the_hourly_sums(pg, settings):
    speed_move(settings, [(window(m), "cell-1", 3, "antenna_bytes_total") for m in (0, 5, 55)])
    rows = pg.execute(
        "SELECT timestamp, id, value, source FROM serving_bytes_hourly"
        " WHERE type = 'antenna_bytes_total' AND timestamp = %s",
        (HOUR,),
    ).fetchall()
    assert rows == [(HOUR, "cell-1", 9, "speed")]
