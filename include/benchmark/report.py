"""What the benchmark prints and writes: the table of figures (each next to its baseline and its
targets, met or missed), the notes some figures carry, the driver's cost per micro-batch of
each drain, freshness in detail, and all of it as JSON (``--json``)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from benchmark.drains import Drain
from benchmark.figures import Figure, times


def _columns(rows: list[tuple[str, ...]], left: tuple[int, ...] = (0,)) -> str:
    """Columns ``left`` left-aligned (text), the others right-aligned (numbers), a rule under
    the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _vs(f: Figure, base: Figure | None) -> str:
    if f.baseline is None:
        return "baseline"
    ratio = f.vs(base)
    if ratio is None:
        return f"n/a {f.baseline}"
    time = " time" if f.events is None or base.events is None else ""
    return f"{times(ratio)}{time} {f.baseline}"


def table(figures: Sequence[Figure]) -> str:
    """One row per figure. ``vs baseline``: events/s over the baseline's, or (``x time``)
    seconds over the baseline's for a duration; ``targets``: each goal met or MISSED."""
    by_key = {f.key: f for f in figures}
    rows = [("stage", "events", "seconds", "events/s", "vs baseline", "targets")]
    for f in figures:
        base = by_key.get(f.baseline) if f.baseline else None
        rows.append(
            (
                f.label,
                f"{f.events:,}" if f.events is not None else "",
                f"{f.seconds:.2f}" if f.measured else "n/a",
                f"{f.rate:,.0f}" if f.events is not None and f.measured else "",
                _vs(f, base),
                "; ".join(t.verdict(f, base) for t in f.targets),
            )
        )
    return _columns(rows, left=(0, 5))


def notes(figures: Sequence[Figure]) -> str:
    return "\n".join(f"note: {f.note}" for f in figures if f.note)


def _n_a(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def driver_table(drains: Sequence[Drain]) -> str:
    """The driver's cost per micro-batch of each drain (from its batch lines; n/a while the
    speed layer does not print it), against the smallest drain's."""
    ordered = sorted(drains, key=lambda d: d.figure.events)
    base = ordered[0].driver if ordered else None
    rows = [
        (
            "driver per micro-batch",
            "events",
            "batches",
            "median cpu s",
            "max cpu s",
            "peak rss MiB",
            "vs smallest drain",
        )
    ]
    for d in ordered:
        s = d.driver
        if d is ordered[0]:
            vs = "baseline"
        elif s.peak_rss_mib and base.peak_rss_mib and s.max_cpu and base.max_cpu:
            rss, cpu = s.peak_rss_mib / base.peak_rss_mib, s.max_cpu / base.max_cpu
            vs = f"rss {rss:.2f}x, cpu {cpu:.2f}x"
        else:
            vs = "n/a"
        rows.append(
            (
                d.figure.label,
                f"{d.figure.events:,}",
                str(s.batches),
                _n_a(s.median_cpu, ".3f"),
                _n_a(s.max_cpu, ".3f"),
                _n_a(s.peak_rss_mib, "d"),
                vs,
            )
        )
    return _columns(rows)


def freshness_table(figures: Sequence[Figure], trigger: str) -> str:
    """Each freshness run in detail: load asked and sent, probes, p50 / p95 / max."""
    lines = [
        "freshness, produce -> window total visible in bytes, one speed layer live for every "
        f"rate (trigger {trigger}):"
    ]
    for fig in figures:
        f = fig.extra["freshness"]
        lines += [
            f"  load {f['target_rate']:,.0f} events/s asked, {f['achieved_rate']:,.0f} sent, "
            f"{f['seconds']:.0f} s with the warm-up; probes seen {f['probes_seen']} of "
            f"{f['probes_sent']} (sent after the warm-up)",
            f"    p50 {f['p50']:.2f} s   p95 {f['p95']:.2f} s   max {f['max']:.2f} s",
        ]
    return "\n".join(lines)


def _finite(value):
    """JSON has no infinity: a probe never seen is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_json(path: str | Path, figures: Sequence[Figure], drains: Sequence[Drain]) -> None:
    """Every figure (with its baseline ratio and targets) and every drain's driver cost."""
    by_key = {f.key: f for f in figures}
    document = {
        "figures": [f.as_dict(by_key.get(f.baseline) if f.baseline else None) for f in figures],
        "drains": [
            {
                "key": d.figure.key,
                "events": d.figure.events,
                "to_query_started": d.to_query,
                "to_first_batch": d.to_first_batch,
                "driver": asdict(d.driver),
                "batches": [asdict(b) for b in d.batches],
            }
            for d in drains
        ],
    }
    Path(path).write_text(json.dumps(_finite(document), indent=1))
