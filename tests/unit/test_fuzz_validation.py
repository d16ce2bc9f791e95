"""Property-based fuzzing of parse_events: >= 10,000 payloads of every kind (fuzz_payloads),
drawn by Hypothesis, run through Spark in ONE DataFrame and compared row for row with the
pure-Python model of the rules (validation_model). One Spark job, not one per example."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict

from pyspark.sql import Row

from telemetry import transforms
from telemetry.schema import EVENT_FIELDS, ValidationRules

from . import fuzz_payloads, validation_model
from .test_transforms import KAFKA_SOURCE_SCHEMA

RULES = ValidationRules()
KAFKA_TIME = dt.datetime(2020, 9, 19, 20, 0, 0)  # naive UTC, as the session time zone is UTC
KAFKA_EPOCH = 1_600_545_600
PER_KIND = {kind: 740 for kind in fuzz_payloads.KINDS} | {"empty": 300}
REASONS = {
    "empty_payload",
    "payload_too_large",
    "invalid_utf8",
    "not_json",
    "duplicate_key",
    *(f"missing_field:{f}" for f in EVENT_FIELDS),
    *(f"wrong_type:{f}" for f in EVENT_FIELDS),
    "negative_bytes",
    "bytes_too_large",
    "absurd_timestamp",
    "future_timestamp",
    "invalid_uuid:id",
    "invalid_uuid:antenna_id",
    "empty_app",
    "app_too_long",
    "control_character:app",
}


def test_parse_events_agrees_with_the_model_on_10000_fuzzed_payloads(spark):
    started = time.monotonic()
    frame = fuzz_payloads.Frame(kafka_epoch=KAFKA_EPOCH)
    drawn = fuzz_payloads.draw_payloads(frame, PER_KIND)
    drawn_at = time.monotonic()
    # Equal payloads add nothing: keep each once (the kind that drew it first).
    payloads = list({p: kind for kind, p in reversed(drawn)}.items())[::-1]
    kinds = Counter(kind for _, kind in payloads)
    print(f"\n{len(payloads)} distinct payloads ({len(drawn)} drawn), by kind: {dict(kinds)}")
    assert len(payloads) >= 10_000 and len(kinds) >= 12
    assert min(kinds.values()) >= 100

    expected = [validation_model.expected(p, KAFKA_EPOCH, RULES) for p, _ in payloads]
    rows = [Row("devices", 0, i, KAFKA_TIME, p) for i, (p, _) in enumerate(payloads)]
    parsed = (
        spark.createDataFrame(rows, KAFKA_SOURCE_SCHEMA)
        .transform(transforms.parse_events(RULES))
        .select("kafka_offset", "reason", *EVENT_FIELDS)
        .collect()
    )
    assert sorted(r.kafka_offset for r in parsed) == list(range(len(payloads)))

    mismatches = []
    outcomes: dict[str, Counter] = defaultdict(Counter)
    for r in parsed:
        payload, kind = payloads[r.kafka_offset]
        want = expected[r.kafka_offset]
        got_event = tuple(r[f] for f in EVENT_FIELDS) if r.reason is None else None
        outcomes[kind][r.reason or "valid"] += 1
        if (r.reason, got_event) != (want.reason, want.event):
            mismatches.append((kind, payload, (r.reason, got_event), (want.reason, want.event)))
    print(f"drawn in {drawn_at - started:.1f}s, checked in {time.monotonic() - drawn_at:.1f}s")
    for kind, counts in outcomes.items():
        print(f"  {kind}: {dict(counts.most_common())}")
    detail = "\n".join(
        f"{kind}: {payload!r:.300}\n    spark {got!r:.200}\n    model {want!r:.200}"
        for kind, payload, got, want in mismatches[:25]
    )
    assert not mismatches, f"{len(mismatches)} disagreements, the first ones:\n{detail}"
    seen = {reason for counts in outcomes.values() for reason in counts}
    assert seen >= REASONS | {"valid"}, f"never produced: {REASONS - seen}"
