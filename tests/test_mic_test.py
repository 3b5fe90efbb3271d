"""Checking the microphone outside a room (issue 17): the recording played back, and hearing
oneself, on the virtual card with the real engine.

The engine records mic B (which hears speaker B, where the test plays a tone of its own)
and plays on speaker A; what reaches speaker A is read back from its monitor with ``parec``
(``monitor_level``), so the microphone never hears its own playback. Processing is off, so
a -20 dBFS sine (RMS -23 dBFS) must come back at that level.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from console.engine.mic_test import Phase
from tests.audio_helpers import playing, running_engine, sine, wait_until
from tests.test_pulse_devices import monitor_level

pytestmark = pytest.mark.audio

TONE_RMS_DB = -23.0   # a -20 dBFS (peak) sine


@pytest.fixture
def engine(sound_card: Any) -> Iterator[Any]:
    with running_engine("lkc_mic_b", output_device="lkc_speaker_a") as eng:
        yield eng


def test_the_mic_test_plays_back_what_was_recorded_at_its_level(
        sound_card: Any, engine: Any) -> None:
    assert engine.mic_test_state().phase is Phase.IDLE
    with playing("lkc_speaker_b", sine(-20.0, 440.0)):
        time.sleep(0.2)
        engine.start_mic_test(1.5)
        assert engine.mic_test_state().phase is Phase.RECORDING
        assert wait_until(lambda: engine.mic_test_state().progress > 0.3, 2.0)
        # meanwhile the meter is live, and nothing is played back yet
        assert engine.mic_meters().heard.rms_db > -24.0
        assert monitor_level(sound_card, "lkc_speaker_a", 0.4) < -60.0
        assert wait_until(lambda: engine.mic_test_state().phase is Phase.PLAYING, 2.0)
    # the tone stopped: what speaker A plays now is the recording
    state = engine.mic_test_state()
    assert state.level_dbfs == pytest.approx(TONE_RMS_DB, abs=1.0)
    assert monitor_level(sound_card, "lkc_speaker_a", 0.8) == pytest.approx(TONE_RMS_DB,
                                                                            abs=1.5)
    assert wait_until(lambda: engine.mic_test_state().phase is Phase.IDLE, 2.0)
    assert monitor_level(sound_card, "lkc_speaker_a", 0.4) < -60.0


def test_a_mic_test_can_be_cancelled_while_it_plays_back(engine: Any) -> None:
    engine.start_mic_test(1.0)
    assert wait_until(lambda: engine.mic_test_state().phase is Phase.PLAYING, 2.5)
    engine.cancel_mic_test()
    assert engine.mic_test_state().phase is Phase.IDLE
    assert not engine.test_tone_playing


def test_the_test_reads_as_playing_from_the_end_of_its_recording(
        engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The microphone's thread ends the recording, then hands it to the mixer: a reader on
    another thread (the window) in between saw the test idle for a moment, the playback
    not begun. Read at the moment the recording is handed over, it is already playing."""
    seen: list[Phase] = []
    mixer = engine._mixer
    real = mixer.play_cue

    def watched(samples: Any) -> None:
        seen.append(engine.mic_test_state().phase)
        real(samples)

    monkeypatch.setattr(mixer, "play_cue", watched)
    engine.start_mic_test(0.3)
    assert wait_until(lambda: bool(seen), 2.0)
    assert seen == [Phase.PLAYING]
    assert wait_until(lambda: engine.mic_test_state().phase is Phase.IDLE, 2.0)


def test_hearing_myself_plays_the_microphone_live_and_says_its_latency(
        sound_card: Any, engine: Any) -> None:
    assert math.isnan(engine.hear_myself_latency_ms())
    with playing("lkc_speaker_b", sine(-20.0, 440.0)):
        engine.set_hear_myself(True)
        assert engine.hearing_myself
        time.sleep(0.3)
        assert monitor_level(sound_card, "lkc_speaker_a", 0.8) == pytest.approx(
            TONE_RMS_DB, abs=1.5)
        latency = engine.hear_myself_latency_ms()
        # capture + a frame + the channel's queue + ring + device: tens of ms, not seconds
        assert 20.0 < latency < 250.0, latency
        assert all(c.key != "__self_monitor__" for c in engine.channel_stats())
        engine.set_hear_myself(False)
        time.sleep(0.2)
        assert monitor_level(sound_card, "lkc_speaker_a", 0.4) < -60.0
    assert not engine.hearing_myself and math.isnan(engine.hear_myself_latency_ms())


def test_a_recording_is_done_only_once_its_level_is_known() -> None:
    """The window and the engine read a test from other threads as the media thread ends
    it: ``done`` (the recording) must not come before the level, or a reader sees the test
    done with no level (a CI run read NaN there). No sound card: the recorder alone,
    watched as each attribute is set."""
    import numpy as np

    from console.engine.format import FRAME
    from console.engine.mic_test import MicTest

    seen: list[float] = []

    class Watched(MicTest):
        def __setattr__(self, name: str, value: object) -> None:
            if name == "recording" and value is not None:
                seen.append(self.level_dbfs)
            super().__setattr__(name, value)

    test = Watched(0.05)
    frame = np.full(FRAME, 1000, dtype=np.int16)
    while not test.frame(frame):
        pass
    assert len(seen) == 1 and not math.isnan(seen[0]), seen
    assert test.level_dbfs == pytest.approx(20 * math.log10(1000 / 32768), abs=0.01)
