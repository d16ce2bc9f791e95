"""What the speed layer remembers between micro-batches, and its verdict on each event.

The speed layer reads each Kafka record once, in one ``foreachBatch``, and decides there what
happens to every valid event (its provenance, landed with it in Parquet):

- ``late``: its event time is before the watermark as it stood when the batch began (the largest
  event time seen so far minus the watermark delay); its window is closed and stays as it is;
- ``duplicate``: an event with the same content was already counted (earlier in the batch, in
  Kafka (partition, offset) order, or in an earlier batch and not yet behind the watermark);
- ``counted``: added to its windows in PostgreSQL.

The watermark follows the fleet, not its fastest clock: each event moves it by its event time
bounded by its record's broker time (``LogAppendTime``, which no device chooses), so a device
whose clock runs ahead is counted in its own (future) window but cannot make everyone else's
events late. A device whose clock runs behind by more than the delay has its events judged
late here (landed, counted by the batch layer, which marks their hour for recomputation).

The state is what those verdicts need: the largest bounded event time, the offsets already
applied to PostgreSQL, and the content keys (128-bit hashes) of the counted events not yet behind
the watermark, in 10-second buckets so that whole buckets are dropped as the watermark passes
them.
Nothing here touches Spark or PostgreSQL: ``decide`` is a pure function of the state and the
batch, ``commit`` applies a verdict once PostgreSQL has the batch. On start the state is
rebuilt from PostgreSQL (watermark, offsets) and from the Parquet the speed layer landed
(counted keys), so a replayed batch gets the same verdicts as the first time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

COUNTED, LATE, DUPLICATE = "counted", "late", "duplicate"
STATUSES = (COUNTED, LATE, DUPLICATE)
BUCKET_SECONDS = 10
_MASK = (1 << 64) - 1


def content_key(h1: int, h2: int) -> int:
    """Two independent 64-bit hashes of an event's five fields as one 128-bit key: a false
    duplicate needs a 128-bit collision among the keys kept (about 10^6), odds ~10^-26."""
    return ((h1 & _MASK) << 64) | (h2 & _MASK)


@dataclass(frozen=True)
class Verdict:
    """The decisions for one micro-batch (applied to the state by ``SpeedState.commit``)."""

    watermark: int | None  # epoch seconds the batch was judged against; None: no event yet
    max_event_time: int | None  # after the batch: the largest min(event time, broker time)
    duplicates: list[tuple[int, int]]  # (kafka_partition, kafka_offset) of duplicate events
    counted_keys: dict[int, list[int]]  # bucket -> keys of the events counted
    offsets: dict[int, int]  # kafka_partition -> highest offset in the batch
    watermark_after: int | None
    counted: int = 0
    late: int = 0


@dataclass
class SpeedState:
    delay_seconds: int
    max_event_time: int | None = None  # largest min(event time, broker time) applied
    applied: dict[int, int] = field(default_factory=dict)  # partition -> last applied offset
    _buckets: dict[int, set[int]] = field(default_factory=dict)

    @property
    def watermark(self) -> int | None:
        """Events before this (epoch seconds) are late; None until the first event."""
        return None if self.max_event_time is None else self.max_event_time - self.delay_seconds

    def keys_kept(self) -> int:
        return sum(len(keys) for keys in self._buckets.values())

    def is_applied(self, partition: int, offset: int) -> bool:
        return offset <= self.applied.get(partition, -1)

    def remember(self, timestamps: Iterable[int], keys: Iterable[int]) -> None:
        """Add counted keys (the start-up rebuild from Parquet)."""
        for ts, key in zip(timestamps, keys, strict=True):
            self._buckets.setdefault(ts // BUCKET_SECONDS, set()).add(key)
        self._forget_behind_watermark()

    def decide(
        self,
        partitions: Sequence[int],
        offsets: Sequence[int],
        timestamps: Sequence[int],
        keys: Sequence[int],
        broker_times: Sequence[int] | None = None,
    ) -> Verdict:
        """Judge one batch of valid events not yet applied (same-length columns, any order).

        ``broker_times``: each record's Kafka timestamp (epoch seconds); an event moves the
        watermark by at most that (None: by its event time alone)."""
        watermark = self.watermark
        order = sorted(range(len(offsets)), key=lambda i: (partitions[i], offsets[i]))
        duplicates: list[tuple[int, int]] = []
        counted_keys: dict[int, list[int]] = {}
        seen_now: set[int] = set()
        counted = late = 0
        for i in order:
            ts, key = timestamps[i], keys[i]
            if watermark is not None and ts < watermark:
                late += 1
                continue
            bucket = ts // BUCKET_SECONDS
            if key in seen_now or key in self._buckets.get(bucket, ()):
                duplicates.append((partitions[i], offsets[i]))
                continue
            seen_now.add(key)
            counted_keys.setdefault(bucket, []).append(key)
            counted += 1
        bounded = timestamps if broker_times is None else map(min, timestamps, broker_times)
        batch_max = max(
            [*bounded, *([self.max_event_time] if self.max_event_time else [])], default=None
        )
        top: dict[int, int] = {}
        for p, o in zip(partitions, offsets, strict=True):
            if o > top.get(p, -1):
                top[p] = o
        return Verdict(
            watermark=watermark,
            max_event_time=batch_max,
            duplicates=duplicates,
            counted_keys=counted_keys,
            offsets=top,
            watermark_after=None if batch_max is None else batch_max - self.delay_seconds,
            counted=counted,
            late=late,
        )

    def commit(self, verdict: Verdict, batch_offsets: dict[int, int] | None = None) -> None:
        """Apply a verdict once PostgreSQL holds its batch. ``batch_offsets``: the highest offset
        per partition of the whole batch (rejected records included), when known."""
        self.max_event_time = verdict.max_event_time
        for bucket, keys in verdict.counted_keys.items():
            self._buckets.setdefault(bucket, set()).update(keys)
        for p, o in {**verdict.offsets, **(batch_offsets or {})}.items():
            if o > self.applied.get(p, -1):
                self.applied[p] = o
        self._forget_behind_watermark()

    def _forget_behind_watermark(self) -> None:
        """A bucket wholly before the watermark can only meet late events: drop it."""
        watermark = self.watermark
        if watermark is None:
            return
        for bucket in [b for b in self._buckets if (b + 1) * BUCKET_SECONDS <= watermark]:
            del self._buckets[bucket]
