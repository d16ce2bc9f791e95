"""The speed layer's verdicts on valid events (pure Python: telemetry.speed_state)."""

from __future__ import annotations

from telemetry.speed_state import BUCKET_SECONDS, SpeedState, content_key

T0 = 1_600_545_000


def judge(state, events):
    """events: (partition, offset, timestamp, key)."""
    partitions, offsets, timestamps, keys = (list(c) for c in zip(*events, strict=True))
    return state.decide(partitions, offsets, timestamps, keys)


def test_first_batch_has_no_watermark_and_drops_copies_in_offset_order():
    state = SpeedState(delay_seconds=60)
    verdict = judge(state, [(0, 5, T0, 7), (0, 3, T0, 7), (1, 0, T0 - 3600, 8)])
    assert verdict.watermark is None
    assert verdict.duplicates == [(0, 5)]  # offset 3 came first
    assert (verdict.counted, verdict.late) == (2, 0)
    assert verdict.max_event_time == T0 and verdict.watermark_after == T0 - 60


def test_verdicts_use_the_watermark_before_the_batch_and_the_keys_counted():
    state = SpeedState(delay_seconds=60)
    state.commit(judge(state, [(0, 0, T0, 1)]))
    verdict = judge(
        state, [(0, 1, T0 - 61, 2), (0, 2, T0 - 60, 3), (0, 3, T0, 1), (0, 4, T0 + 500, 4)]
    )
    assert verdict.watermark == T0 - 60
    assert verdict.late == 1 and verdict.duplicates == [(0, 3)] and verdict.counted == 2
    assert state.watermark == T0 - 60, "deciding changes nothing until the commit"
    state.commit(verdict, {0: 9})
    assert state.watermark == T0 + 440 and state.applied == {0: 9}
    assert state.is_applied(0, 9) and not state.is_applied(0, 10) and not state.is_applied(1, 0)


def test_keys_behind_the_watermark_are_forgotten_whole_buckets_at_a_time():
    state = SpeedState(delay_seconds=60)
    state.commit(judge(state, [(0, i, T0 + i, 100 + i) for i in range(30)]))
    assert state.keys_kept() == 30
    state.commit(judge(state, [(0, 30, T0 + 60 + 2 * BUCKET_SECONDS, 999)]))
    # Watermark T0 + 20: the buckets [T0, T0+10) and [T0+10, T0+20) can only meet late events.
    assert state.keys_kept() == 31 - 20


def test_a_rebuilt_state_gives_the_same_verdicts():
    live = SpeedState(delay_seconds=60)
    first = [(0, i, T0 + i % 7, i % 5) for i in range(20)]
    live.commit(judge(live, first))
    rebuilt = SpeedState(delay_seconds=60, applied=dict(live.applied))
    rebuilt.max_event_time = live.max_event_time
    counted = [(ts, key) for _, _, ts, key in first[:5]]  # the first copy of each key
    rebuilt.remember([ts for ts, _ in counted], [key for _, key in counted])
    replay = [(0, 20 + i, T0 + i % 9, i % 6) for i in range(20)]
    a, b = judge(live, replay), judge(rebuilt, replay)
    assert (a.duplicates, a.counted, a.late) == (b.duplicates, b.counted, b.late)


def test_content_key_uses_both_hashes():
    assert content_key(1, 2) != content_key(2, 1)
    assert content_key(-1, -1) == (1 << 128) - 1


def test_a_device_clock_ahead_is_counted_but_does_not_move_the_watermark_past_broker_time():
    """One device 4 minutes ahead (within the 300 s future limit) must not make the fleet's
    on-time events late: its event moves the watermark by its broker time, not its clock."""
    state = SpeedState(delay_seconds=60)
    fast = state.decide([0], [0], [T0 + 240], [1], broker_times=[T0])
    assert fast.counted == 1, "the fast device's event is still counted"
    state.commit(fast)
    assert state.watermark == T0 - 60
    on_time = [(1, i, T0 + i // 100, 10 + i) for i in range(1000)]
    partitions, offsets, timestamps, keys = (list(c) for c in zip(*on_time, strict=True))
    verdict = state.decide(partitions, offsets, timestamps, keys, broker_times=timestamps)
    assert (verdict.counted, verdict.late) == (1000, 0)


def test_a_device_clock_behind_by_more_than_the_delay_is_late_in_the_speed_layer():
    state = SpeedState(delay_seconds=60)
    state.commit(state.decide([0], [0], [T0], [1], broker_times=[T0]))
    slow = state.decide([0], [1], [T0 - 180], [2], broker_times=[T0 + 1])
    assert (slow.counted, slow.late) == (0, 1)
    assert slow.watermark_after == T0 - 60, "a slow clock never moves the watermark back"
