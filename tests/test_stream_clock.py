"""StreamClock: late bursts keep their spacing; early arrivals and slow devices are followed."""

from __future__ import annotations

import itertools

import pytest

from console.engine.stream_clock import MAX_SLOW_PPM, StreamClock

RATE = 48000
BLOCK = 480
SPAN = BLOCK / RATE
CREEP = SPAN * MAX_SLOW_PPM * 1e-6  # the most a late block moves the stamps


def test_a_burst_after_a_freeze_keeps_the_stream_spacing() -> None:
    clock = StreamClock(RATE)
    stamps = [clock.stamp(BLOCK, 100.0 + i * SPAN) for i in range(10)]
    # the process froze for 120 ms: the next 12 blocks arrive together
    burst = [clock.stamp(BLOCK, 100.0 + 9 * SPAN + 0.121 + i * 1e-4) for i in range(12)]
    spacing = [b - a for a, b in zip([stamps[-1], *burst], burst, strict=False)]
    assert all(SPAN - 1e-9 <= s <= SPAN + CREEP + 1e-9 for s in spacing), spacing
    assert burst[-1] == pytest.approx(100.0 + 21 * SPAN, abs=13 * CREEP)


def test_stamps_never_come_after_arrival_and_follow_an_early_one() -> None:
    clock = StreamClock(RATE)
    clock.stamp(BLOCK, 5.0)
    late = clock.stamp(BLOCK, 5.0 + SPAN + 0.004)  # a late callback: stamp stays on time
    assert late == pytest.approx(5.0 + SPAN, abs=CREEP + 1e-9)
    early = clock.stamp(BLOCK, 5.0 + 2 * SPAN - 0.002)  # device ran faster: follow it down
    assert early == pytest.approx(5.0 + 2 * SPAN - 0.002)


def test_a_slower_device_clock_is_followed() -> None:
    clock = StreamClock(RATE)
    slow = SPAN * (1 + 200e-6)  # device 200 ppm slower than the system clock
    stamps = [clock.stamp(BLOCK, 1.0 + (i + 1) * slow) for i in range(6000)]  # 60 s
    arrival = 1.0 + 6000 * slow
    assert arrival - 0.001 < stamps[-1] <= arrival


def test_time_lost_in_a_freeze_is_taken_up_slowly() -> None:
    clock = StreamClock(RATE)
    for i in range(50):
        clock.stamp(BLOCK, 1.0 + i * SPAN)
    # from now on every block arrives 40 ms later than before (the device lost 40 ms)
    stamps = [clock.stamp(BLOCK, 1.0 + (50 + i) * SPAN + 0.04) for i in range(4100)]
    gained = [s - (1.0 + (50 + i) * SPAN) for i, s in enumerate(stamps)]
    assert all(b - a <= CREEP + 1e-9 for a, b in itertools.pairwise(gained))
    assert gained[-1] == pytest.approx(0.04, abs=1e-6)  # caught up in 40 s, never beyond


def test_reset_and_a_long_gap_start_a_new_timeline() -> None:
    clock = StreamClock(RATE)
    clock.stamp(BLOCK, 1.0)
    assert clock.stamp(BLOCK, 10.0) == 10.0
    clock.reset()
    assert clock.stamp(BLOCK, 10.005) == 10.005


def test_peek_says_what_stamp_would_without_taking_the_block() -> None:
    """The microphone path asks whether a frame must wait before it takes it."""
    clock = StreamClock(RATE)
    clock.stamp(BLOCK, 1.0)
    late = 1.0 + SPAN + 0.003  # late: the stamp creeps, it does not follow
    assert clock.peek(BLOCK, late) == clock.peek(BLOCK, late) < late
    peeked = clock.peek(BLOCK, late)
    assert clock.stamp(BLOCK, late) == peeked
    assert clock.peek(BLOCK, late + SPAN) > peeked  # the next block goes on from there
