"""Generation throughput, for the benchmarks: ``python -m simulator.bench [n]``."""

from __future__ import annotations

import sys
import time

from simulator.events import Plan, generate


def generation_rate(
    n: int = 300_000,
    users: int = 1000,
    antennas: int = 50,
    late_rate: float = 0.0,
    duplicate_rate: float = 0.0,
    malformed_rate: float = 0.0,
) -> float:
    """Messages per second that ``generate`` yields on this core (n event slots, no I/O)."""
    plan = Plan(
        users=users,
        antennas=antennas,
        count=n,
        rate=150_000.0,
        late_rate=late_rate,
        duplicate_rate=duplicate_rate,
        malformed_rate=malformed_rate,
        seed=1,
    )
    t0 = time.perf_counter()
    produced = 0
    for _ in generate(plan):
        produced += 1
    return produced / (time.perf_counter() - t0)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    print(f"clean: {generation_rate(count):,.0f} msg/s")
    mixed = generation_rate(count, late_rate=0.05, duplicate_rate=0.02, malformed_rate=0.01)
    print(f"mixed (5% late, 2% duplicate, 1% malformed): {mixed:,.0f} msg/s")
