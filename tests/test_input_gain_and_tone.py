"""Input gain (before the APM) and the output test tone: units, then the real loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from console.engine.apm import ProcessingConfig
from console.engine.input_gain import MAX_DB, MIN_DB, InputGain
from console.engine.test_tone import Cue, tone
from console.signals import FRAME
from tests.audio_helpers import playing, running_engine, sine, steady_level, wait_until


def test_unity_gain_passes_the_frame_through_untouched() -> None:
    gain = InputGain(FRAME)
    x = (np.arange(FRAME) - 240).astype(np.int16)
    assert gain.apply(x) is x


def test_gain_ramps_over_one_frame_then_holds() -> None:
    gain = InputGain(FRAME)
    ones = np.full(FRAME, 1000, dtype=np.int16)
    gain.set_db(6.0)
    first = gain.apply(ones)
    assert first[0] == 1000 and first[-1] == pytest.approx(1000 * 10 ** (6 / 20), abs=6)
    assert np.all(np.diff(first.astype(int)) >= 0)  # a ramp, not a step
    second = gain.apply(ones)
    assert np.all(second == round(1000 * 10 ** (6 / 20)))


def test_a_block_of_frames_ramps_across_its_first_frame_as_frame_by_frame_does() -> None:
    """The microphone's meter-only path hands the gain several frames at once."""
    ones = np.full(3 * FRAME, 1000, dtype=np.int16)
    whole, framed = InputGain(FRAME), InputGain(FRAME)
    whole.set_db(6.0)
    framed.set_db(6.0)
    by_frame = np.concatenate([framed.apply(ones[i:i + FRAME]) for i in range(0, 3 * FRAME, FRAME)])
    assert np.array_equal(whole.apply(ones), by_frame)
    whole.set_db(-6.0)
    framed.set_db(-6.0)
    by_frame = np.concatenate([framed.apply(ones[i:i + FRAME]) for i in range(0, 3 * FRAME, FRAME)])
    assert np.array_equal(whole.apply(ones), by_frame)


def test_gain_saturates_instead_of_wrapping_and_counts_it() -> None:
    gain = InputGain(FRAME, db=MAX_DB)
    loud = np.full(FRAME, 20000, dtype=np.int16)
    loud[::2] = -20000
    out = gain.apply(loud)
    assert out.max() == 32767 and out.min() == -32768
    assert gain.samples_clipped == FRAME


def test_gain_is_clamped_to_its_range() -> None:
    gain = InputGain(FRAME)
    gain.set_db(99.0)
    assert gain.db == MAX_DB
    gain.set_db(-99.0)
    assert gain.db == MIN_DB
    gain.set_db(float("nan"))
    assert gain.db == 0.0


def test_tone_has_its_peak_and_soft_edges() -> None:
    x = tone(440.0, -18.0, 1.0)
    assert x.size == 48000
    assert np.max(np.abs(x)) == pytest.approx(32767 * 10 ** (-18 / 20), rel=1e-3)
    assert abs(x[0]) < 1.0 and abs(x[-1]) < 20.0  # faded in and out, no click
    assert np.max(np.abs(x[:48])) < 0.05 * np.max(np.abs(x))


def test_cue_pads_its_last_frame_then_ends() -> None:
    cue = Cue(np.ones(1000, dtype=np.float32))
    parts = [cue.take(FRAME) for _ in range(3)]
    assert [p.size for p in parts if p is not None] == [FRAME, FRAME, FRAME]
    assert parts[2] is not None and parts[2][:40].sum() == 40 and parts[2][40:].sum() == 0
    assert cue.take(FRAME) is None


@pytest.fixture
def engine(sound_card: object) -> Iterator[object]:
    with running_engine("lkc_mic_a", output_device="lkc_speaker_a") as eng:
        yield eng


@pytest.mark.audio
@pytest.mark.parametrize("gain_db", [-12.0, 6.0])
def test_input_gain_moves_the_captured_level_exactly(sound_card, gain_db: float) -> None:
    from console.engine.audio_engine import AudioEngine

    engine = AudioEngine(input_device="lkc_mic_b", processing=ProcessingConfig.off(),
                         input_gain_db=gain_db)
    engine.start()
    try:
        with playing("lkc_speaker_b", sine(-24.0, 1000.0)):
            assert wait_until(lambda: engine.mic_meter().rms_db > -24.0 + gain_db - 1, 3.0)
            assert steady_level(engine.chain) == pytest.approx(-24.0 + gain_db, abs=0.1)
            engine.set_input_gain_db(0.0)  # live, on the running chain
            time.sleep(0.3)
            assert steady_level(engine.chain) == pytest.approx(-24.0, abs=0.1)
        assert engine.input_gain_db == 0.0
        assert engine.capture_stats().input_gain_clipped == 0
    finally:
        engine.stop()


@pytest.mark.audio
def test_test_tone_is_heard_on_the_loopback_at_its_level(engine) -> None:
    heard: list[np.ndarray] = []
    engine.chain.add_tap(lambda s: heard.append(s.copy()))
    engine.play_test_tone(hz=440.0, dbfs=-18.0, seconds=1.5)
    assert engine.test_tone_playing
    assert wait_until(lambda: not engine.test_tone_playing, 3.0)
    time.sleep(0.3)  # the loopback's own delay

    def last_block_db() -> float:
        tail = np.concatenate(heard[-25:]).astype(np.float64) / 32768
        return float(20 * np.log10(max(np.sqrt(np.mean(tail[-2400:] ** 2)) * np.sqrt(2), 1e-5)))

    # The tail reaches the mic after the output ring (its target grows on a busy machine)
    # and the loopback: wait for silence rather than for a fixed time.
    assert wait_until(lambda: last_block_db() < -60, 2.0)
    time.sleep(0.2)
    x = np.concatenate(heard).astype(np.float64) / 32768
    blocks = x[: x.size // 2400 * 2400].reshape(-1, 2400)
    db = 20 * np.log10(np.maximum(np.sqrt(np.mean(blocks ** 2, axis=1)) * np.sqrt(2), 1e-5))
    loud = db[db > -30]
    assert 0.9 <= loud.size * 0.05 <= 1.7  # about 1.5 s of tone, then silence
    assert float(np.median(loud)) == pytest.approx(-18.0, abs=0.3)
    onset = int(np.argmax(db > -30)) * 2400
    seg = x[onset:onset + 48000]
    assert np.argmax(np.abs(np.fft.rfft(seg))) * 48000 / seg.size == pytest.approx(440, abs=3)
    assert db[-4:].max() < -60  # it stopped
