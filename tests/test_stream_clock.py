"""StreamClock: late bursts keep their spacing; early arrivals and slow devices are followed."""

from __future__ import annotations

import pytest

from console.engine.stream_clock import StreamClock

RATE = 48000
BLOCK = 480
SPAN = BLOCK / RATE


def test_a_burst_after_a_freeze_keeps_the_stream_spacing() -> None:
    clock = StreamClock(RATE)
    stamps = [clock.stamp(BLOCK, 100.0 + i * SPAN) for i in range(10)]
    # the process froze for 120 ms: the next 12 blocks arrive together
    burst = [clock.stamp(BLOCK, 100.0 + 9 * SPAN + 0.121 + i * 1e-4) for i in range(12)]
    spacing = [b - a for a, b in zip([stamps[-1], *burst], burst, strict=False)]
    assert all(s == pytest.approx(SPAN, abs=1e-9) for s in spacing)
    assert burst[-1] == pytest.approx(100.0 + 21 * SPAN, abs=1e-4)


def test_stamps_never_come_after_arrival_and_follow_an_early_one() -> None:
    clock = StreamClock(RATE)
    clock.stamp(BLOCK, 5.0)
    late = clock.stamp(BLOCK, 5.0 + SPAN + 0.004)  # a late callback: stamp stays on time
    assert late == pytest.approx(5.0 + SPAN, abs=1e-9)
    early = clock.stamp(BLOCK, 5.0 + 2 * SPAN - 0.002)  # device ran faster: follow it down
    assert early == pytest.approx(5.0 + 2 * SPAN - 0.002)


def test_a_slower_device_clock_is_followed() -> None:
    clock = StreamClock(RATE)
    slow = SPAN * (1 + 200e-6)  # device 200 ppm slower than the system clock
    stamps = [clock.stamp(BLOCK, 1.0 + (i + 1) * slow) for i in range(6000)]  # 60 s
    arrival = 1.0 + 6000 * slow
    assert arrival - 0.001 < stamps[-1] <= arrival


def test_a_new_device_arriving_later_is_followed_within_a_second() -> None:
    clock = StreamClock(RATE)
    for i in range(50):
        clock.stamp(BLOCK, 1.0 + i * SPAN)
    # the stream was reopened: from now on every block arrives 40 ms later than before
    stamps = [clock.stamp(BLOCK, 1.0 + (50 + i) * SPAN + 0.04) for i in range(250)]
    assert stamps[0] == pytest.approx(1.0 + 50 * SPAN, abs=1e-9)  # one late block: held
    assert stamps[-1] == pytest.approx(1.0 + 299 * SPAN + 0.04, abs=1e-9)


def test_a_long_gap_starts_a_new_timeline() -> None:
    clock = StreamClock(RATE)
    clock.stamp(BLOCK, 1.0)
    assert clock.stamp(BLOCK, 10.0) == 10.0
