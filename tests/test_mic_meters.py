"""The microphone's two meters on the virtual card: "heard" reads what the microphone
delivers, "sent" what is left after processing.

The far end is the engine's own playback (its test tone on speaker A), which mic A records
some tens of ms later: the echo cancellation's reference is exactly what was played.
"""

from __future__ import annotations

import statistics
import time

import pytest

from tests.audio_helpers import wait_until

pytestmark = pytest.mark.audio


def _readings(engine, seconds: float = 1.0) -> tuple[float, float]:
    """Median RMS of each meter over ``seconds`` (a VM freeze moves one reading, not all)."""
    heard: list[float] = []
    sent: list[float] = []
    for _ in range(round(seconds / 0.1)):
        time.sleep(0.1)
        meters = engine.mic_meters()
        heard.append(meters.heard.rms_db)
        sent.append(meters.sent.rms_db)
    return statistics.median(heard), statistics.median(sent)


def test_heard_reads_the_room_while_sent_reads_what_echo_cancellation_leaves(
        sound_card) -> None:
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine

    engine = AudioEngine(input_device="lkc_mic_a", output_device="lkc_speaker_a",
                         processing=ProcessingConfig.off())
    engine.start()
    try:
        engine.play_test_tone(700.0, -12.0, 12.0)
        assert wait_until(lambda: engine.mic_meters().heard.rms_db > -13.0, 3.0)
        # Without processing both meters read the same signal.
        heard_off, sent_off = _readings(engine, 0.5)
        assert heard_off == pytest.approx(-12.0, abs=1.0)
        assert sent_off == pytest.approx(heard_off, abs=0.2)
        engine.set_processing(ProcessingConfig.off().replace(echo_cancellation=True))
        time.sleep(6.0)  # convergence on the far end alone
        heard_on, sent_on = _readings(engine)
        assert engine.test_tone_playing, "the tone must still play while measured"
    finally:
        engine.stop()
    # The room still reaches the microphone at the tone's level; little of it is sent.
    assert heard_on == pytest.approx(-12.0, abs=1.0)
    assert sent_on <= heard_on - 25.0, f"heard {heard_on:.1f} dBFS, sent {sent_on:.1f} dBFS"


def test_the_input_gain_moves_both_meters_and_mic_meter_is_the_sent_one(sound_card) -> None:
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from tests.audio_helpers import playing, sine

    engine = AudioEngine(input_device="lkc_mic_b", processing=ProcessingConfig.off(),
                         input_gain_db=-6.0)
    engine.start()
    try:
        with playing("lkc_speaker_b", sine(-12.0, 1000.0)):
            assert wait_until(lambda: engine.mic_meters().heard.rms_db > -19.0, 3.0)
            heard, sent = _readings(engine, 0.5)
            assert engine.mic_meter().rms_db == pytest.approx(engine.mic_meters().sent.rms_db,
                                                              abs=0.3)
    finally:
        engine.stop()
    assert heard == pytest.approx(-18.0, abs=1.0)  # after the input gain
    assert sent == pytest.approx(heard, abs=0.2)
