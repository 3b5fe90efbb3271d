"""The adaptive-target policy alone, on an injected clock (no audio, no loop)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.engine.adaptive_target import CHANNEL, AdaptiveTarget


def test_the_channel_counts_every_underrun() -> None:
    target = AdaptiveTarget(CHANNEL)
    assert target.on_underruns(1, 100.0)
    assert target.extra_ms == pytest.approx(10.0)


def test_the_raise_stops_at_the_cap() -> None:
    target = AdaptiveTarget(replace(CHANNEL, max_extra_ms=25.0))
    for k in range(5):
        target.on_underruns(1, 100.0 + k)
    assert target.extra_ms == pytest.approx(25.0)


def test_no_underruns_is_no_change() -> None:
    target = AdaptiveTarget(CHANNEL)
    assert not target.on_underruns(0, 100.0)
    assert not target.relax(200.0, 100.0)  # nothing to give back
    assert target.extra_ms == 0.0


def test_calm_lowers_the_target_only_after_calm_s_and_at_the_decay_rate() -> None:
    target = AdaptiveTarget(CHANNEL)
    target.on_underruns(3, 100.0)
    assert target.extra_ms == pytest.approx(30.0)
    assert not target.relax(109.5, 9.5)  # not calm long enough yet
    assert target.extra_ms == pytest.approx(30.0)
    # Only the part of the elapsed time that lies beyond the calm threshold counts.
    assert target.relax(111.0, 1.5)
    assert target.extra_ms == pytest.approx(30.0 - 2.0 * 1.0)
    assert target.relax(116.0, 5.0)
    assert target.extra_ms == pytest.approx(18.0)
    assert target.relax(1000.0, 1000.0)  # never below the base
    assert target.extra_ms == 0.0


def test_an_underrun_restarts_the_calm() -> None:
    target = AdaptiveTarget(CHANNEL)
    target.on_underruns(2, 100.0)
    target.relax(112.0, 2.0)
    assert target.extra_ms == pytest.approx(16.0)
    target.on_underruns(1, 112.0)
    assert target.extra_ms == pytest.approx(26.0)
    assert not target.relax(121.0, 9.0)
    assert target.extra_ms == pytest.approx(26.0)


def test_the_channel_relaxes_by_frames_played() -> None:
    """One 10 ms frame of calm gives back 0.02 ms: 2 ms per second of audio played."""
    target = AdaptiveTarget(CHANNEL)
    target.on_underruns(1, 0.0)
    now = 10.0
    for _ in range(100):
        now += 0.01
        target.relax(now, 0.01)
    assert target.extra_ms == pytest.approx(10.0 - 2.0, abs=0.02)
