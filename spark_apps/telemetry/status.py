"""`make status`'s data lines: how far behind the speed layer is and which hours are not exact
yet (read-only role). Prints what it can and says so when PostgreSQL does not answer."""

from __future__ import annotations

import sys

import psycopg

from telemetry import config
from telemetry.names import SPEED_QUERY

SHOWN = 5  # hours listed by name; the rest are counted


def main() -> int:
    try:
        settings = config.load().as_role("reader")
        with psycopg.connect(settings.pg_dsn, connect_timeout=3) as conn:
            progress = conn.execute(
                "SELECT watermark, offsets_behind, updated_at FROM speed_layer_progress"
                " WHERE query_name = %s",
                (SPEED_QUERY,),
            ).fetchone()
            hours = conn.execute(
                "SELECT timestamp, reason FROM hours_not_exact ORDER BY timestamp DESC"
            ).fetchall()
    except (config.ConfigError, psycopg.Error) as exc:
        print(f"data: unknown ({str(exc).strip().splitlines()[0]})")
        return 1
    if progress:
        watermark, behind, updated = progress
        print(
            f"speed layer data: watermark {watermark}, {behind if behind is not None else '?'}"
            f" Kafka records not read yet, last micro-batch {updated:%Y-%m-%d %H:%M:%S %Z}"
        )
    else:
        print("speed layer data: no micro-batch yet")
    listed = ", ".join(f"{t:%Y-%m-%d %H:00} ({reason})" for t, reason in hours[:SHOWN])
    more = f" and {len(hours) - SHOWN} more" if len(hours) > SHOWN else ""
    sweep = "lambda_sweep recomputes those within LAMBDA_SWEEP_LOOKBACK_HOURS"
    print(f"hours not exact yet: {len(hours)}" + (f": {listed}{more} ({sweep})" if hours else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
