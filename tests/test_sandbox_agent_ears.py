"""The sandbox agent's ears: Opus decoded to 10 ms levels, and endpointing on a test clock."""

from __future__ import annotations

import numpy as np
import pytest

from console.sandbox.agent_ears import BLOCK_S, Endpointer, OpusLevels, VadOptions
from console.sandbox.server_voices import PACKET, encode_clip


def feed(ep: Endpointer, t: float, seconds: float, dbfs: float) -> tuple[float, int]:
    """``seconds`` of 10 ms blocks at ``dbfs`` from ``t``; (time after, starts seen)."""
    starts = 0
    for _ in range(round(seconds / BLOCK_S)):
        t += BLOCK_S
        assert ep.check(t - BLOCK_S) is None
        starts += ep.block(t, dbfs)
    return t, starts


def test_an_utterance_ends_its_silence_after_the_last_voiced_block() -> None:
    ep = Endpointer(VadOptions(threshold_dbfs=-45, min_speech_s=0.08, silence_s=0.5))
    t, starts = feed(ep, 100.0, 1.0, -60.0)
    assert starts == 0 and ep.due() is None
    t, starts = feed(ep, t, 1.2, -20.0)
    assert starts == 1 and ep.start == pytest.approx(101.0)
    t, _ = feed(ep, t, 0.3, -60.0)  # a pause shorter than the silence: same utterance
    t, starts = feed(ep, t, 0.4, -20.0)
    assert starts == 0 and ep.due() == pytest.approx(t + 0.5)
    assert ep.check(t + 0.49) is None
    done = ep.check(t + 0.5)
    assert done is not None
    assert (done.start, done.end) == (pytest.approx(101.0), pytest.approx(t))
    assert done.voiced_s == pytest.approx(1.6)
    assert ep.due() is None and ep.check(t + 5) is None


def test_clicks_shorter_than_the_minimum_speech_are_not_utterances() -> None:
    ep = Endpointer(VadOptions(min_speech_s=0.08))
    t, starts = feed(ep, 0.0, 0.05, -10.0)
    assert starts == 0 and not ep.confirmed
    t, _ = feed(ep, t, 0.3, -90.0)   # the click is forgotten after its gap
    t, starts = feed(ep, t, 0.05, -10.0)
    assert starts == 0 and not ep.confirmed
    assert ep.check(t + 1.0) is None


def test_decoded_levels_follow_the_signal_in_10_ms_blocks() -> None:
    t = np.arange(PACKET * 10) / 48000
    loud = (0.1 * 32768 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)  # -23 dBFS RMS
    clip = np.concatenate([np.zeros(PACKET * 5, dtype=np.int16), loud,
                           np.zeros(PACKET * 5, dtype=np.int16)])
    ears = OpusLevels()
    levels = [lvl for payload in encode_clip(clip).payloads for lvl in ears.levels(payload)]
    assert len(levels) == 40
    assert max(levels[:9]) < -60
    assert levels[14:28] == pytest.approx([-23.0] * 14, abs=1.5)
    assert max(levels[33:]) < -50
    assert isinstance(ears.levels(b"\xff\xff\xff"), list)  # a damaged packet never raises
