"""LevelMeter against real numpy signals: levels, floor, clipping, ballistics, RMS window."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from console.engine.format import FRAME
from console.engine.format import SAMPLE_RATE as SR
from console.engine.meter import (
    FALL_DB_PER_S,
    FLOOR_DB,
    HOLD_S,
    RMS_WINDOW_S,
    SILENT,
    LevelMeter,
    MeterSnapshot,
)

SQUARE_RMS_DB = 10.0 * math.log10(2.0)  # +3.01 dB: AES17 level of a full-scale square


def sine(freq: float, level_db: float, seconds: float, phase: float = 0.3) -> np.ndarray:
    """A float64 sine whose crest is at level_db dBFS."""
    t = np.arange(round(seconds * SR)) / SR
    return 10.0 ** (level_db / 20.0) * np.sin(2.0 * math.pi * freq * t + phase)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def feed(meter: LevelMeter, signal: np.ndarray, frame: int = FRAME) -> MeterSnapshot:
    """Meter `signal` in whole frames of `frame` samples; return the last snapshot."""
    for start in range(0, len(signal) - frame + 1, frame):
        meter.process(signal[start : start + frame])
    return meter.snapshot()


def assert_finite(snap: MeterSnapshot) -> None:
    for value in (snap.peak_db, snap.hold_db, snap.rms_db):
        assert math.isfinite(value)
        assert value >= FLOOR_DB


@pytest.mark.parametrize("freq", [100.0, 997.0, 1000.0])
@pytest.mark.parametrize("level", [0.0, -6.0, -20.0, -40.0])
@pytest.mark.parametrize("kind", ["int16", "float32", "float64"])
def test_sine_levels(kind: str, level: float, freq: float) -> None:
    x = sine(freq, level, 0.5)
    signal = to_int16(x) if kind == "int16" else x.astype(kind)
    snap = feed(LevelMeter(SR, FRAME), signal)
    assert snap.peak_db == pytest.approx(level, abs=0.1)
    assert snap.rms_db == pytest.approx(level, abs=0.1)
    assert snap.hold_db == pytest.approx(level, abs=0.1)


def test_full_scale_square_reads_plus_3_db_rms_and_0_db_peak() -> None:
    square = np.where(sine(1000.0, 0.0, 0.5) >= 0.0, 1.0, -1.0)
    snap = feed(LevelMeter(SR, FRAME), square)
    assert snap.peak_db == 0.0
    assert snap.rms_db == pytest.approx(SQUARE_RMS_DB, abs=0.01)
    assert snap.rms_db == pytest.approx(3.01, abs=0.005)


def test_int16_square_including_minus_32768() -> None:
    square = np.where(sine(1000.0, 0.0, 0.5) >= 0.0, 32767, -32768).astype(np.int16)
    snap = feed(LevelMeter(SR, FRAME), square)
    assert snap.peak_db == 0.0  # -32768 is exactly full scale
    assert snap.rms_db == pytest.approx(SQUARE_RMS_DB, abs=0.01)


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.float64])
def test_silence_reads_exactly_floor(dtype: type) -> None:
    meter = LevelMeter(SR, FRAME)
    for _ in range(50):
        meter.process(np.zeros(FRAME, dtype=dtype))
    snap = meter.snapshot()
    assert snap.peak_db == FLOOR_DB
    assert snap.hold_db == FLOOR_DB
    assert snap.rms_db == FLOOR_DB
    assert not snap.clipped
    assert_finite(snap)


@pytest.mark.filterwarnings("error")
def test_one_lsb_signal_is_finite_and_above_floor() -> None:
    frame = np.zeros(FRAME, dtype=np.int16)
    frame[::2] = 1
    frame[1::2] = -1
    meter = LevelMeter(SR, FRAME)
    for _ in range(40):
        meter.process(frame)
    snap = meter.snapshot()
    assert_finite(snap)
    one_lsb_db = 20.0 * math.log10(1.0 / 32768.0)  # -90.31 dBFS
    assert snap.peak_db == pytest.approx(one_lsb_db, abs=1e-9)
    assert snap.rms_db == pytest.approx(one_lsb_db + SQUARE_RMS_DB, abs=1e-6)


@pytest.mark.filterwarnings("error")
def test_tiny_float_signal_is_floored_not_minus_inf() -> None:
    meter = LevelMeter(SR, FRAME)
    meter.process(np.full(FRAME, 1e-12))
    meter.process(np.full(FRAME, 5e-324))  # denormal: log10 would give about -6460 dB
    snap = meter.snapshot()
    assert snap.peak_db == FLOOR_DB
    assert snap.rms_db == FLOOR_DB
    assert_finite(snap)


def test_clip_latches_until_reset_clip() -> None:
    meter = LevelMeter(SR, FRAME)
    quiet = sine(1000.0, -20.0, 0.01)
    meter.process(quiet)
    assert not meter.snapshot().clipped
    loud = quiet.copy()
    loud[100] = 1.0
    meter.process(loud)
    assert meter.snapshot().clipped
    for _ in range(200):  # two seconds of quiet signal: still latched
        meter.process(quiet)
    assert meter.snapshot().clipped
    meter.reset_clip()
    assert not meter.snapshot().clipped
    meter.process(quiet)
    assert not meter.snapshot().clipped
    meter.process(loud)
    assert meter.snapshot().clipped


@pytest.mark.parametrize(("value", "clips"), [(32767, True), (-32768, True),
                                               (32766, False), (-32767, False)])
def test_int16_clips_exactly_at_full_scale(value: int, clips: bool) -> None:
    frame = np.zeros(FRAME, dtype=np.int16)
    frame[7] = value
    meter = LevelMeter(SR, FRAME)
    meter.process(frame)
    assert meter.snapshot().clipped is clips


@pytest.mark.parametrize("value", [1.0, -1.0, 1.5])
def test_float_full_scale_clips(value: float) -> None:
    frame = np.zeros(FRAME, dtype=np.float32)
    frame[3] = value
    meter = LevelMeter(SR, FRAME)
    meter.process(frame)
    assert meter.snapshot().clipped


@pytest.mark.parametrize("kind", ["int16", "float32", "float64"])
def test_minus_0_1_dbfs_does_not_clip(kind: str) -> None:
    x = sine(997.0, -0.1, 1.0)
    signal = to_int16(x) if kind == "int16" else x.astype(kind)
    snap = feed(LevelMeter(SR, FRAME), signal)
    assert not snap.clipped
    assert snap.peak_db == pytest.approx(-0.1, abs=0.02)


@pytest.mark.filterwarnings("error")
def test_int16_minus_32768_does_not_overflow() -> None:
    meter = LevelMeter(SR, FRAME)
    meter.process(np.full(FRAME, -32768, dtype=np.int16))
    snap = meter.snapshot()
    assert snap.peak_db == 0.0
    assert snap.rms_db == pytest.approx(SQUARE_RMS_DB, abs=1e-9)  # full-scale DC: ms = 1
    frame = np.zeros(FRAME, dtype=np.int16)
    frame[0] = -32768
    meter.process(frame)
    assert meter.snapshot().peak_db == 0.0
    assert meter.snapshot().clipped


def test_int16_32767_reads_just_below_zero() -> None:
    meter = LevelMeter(SR, FRAME)
    meter.process(np.full(FRAME, 32767, dtype=np.int16))
    assert meter.snapshot().peak_db == pytest.approx(20.0 * math.log10(32767 / 32768), abs=1e-9)
    assert meter.snapshot().peak_db == pytest.approx(-0.000265, abs=1e-6)


def test_float_input_reads_like_int16_input() -> None:
    rng = np.random.default_rng(7)
    ints = np.clip(np.rint(rng.standard_normal(SR) * 4000.0), -32767, 32766).astype(np.int16)
    meters = {kind: LevelMeter(SR, FRAME) for kind in ("int16", "float32", "float64")}
    signals = {
        "int16": ints,
        "float32": (ints / 32768.0).astype(np.float32),
        "float64": ints / 32768.0,
    }
    for start in range(0, SR, FRAME):
        snaps = {}
        for kind, meter in meters.items():
            meter.process(signals[kind][start : start + FRAME])
            snaps[kind] = meter.snapshot()
        for kind in ("float32", "float64"):
            assert snaps[kind].peak_db == pytest.approx(snaps["int16"].peak_db, abs=1e-5)
            assert snaps[kind].hold_db == pytest.approx(snaps["int16"].hold_db, abs=1e-5)
            assert snaps[kind].rms_db == pytest.approx(snaps["int16"].rms_db, abs=1e-5)
            assert snaps[kind].clipped == snaps["int16"].clipped
            assert snaps[kind].frames == snaps["int16"].frames


def test_stereo_peak_is_max_and_power_is_mean_over_channels() -> None:
    left = sine(1000.0, -6.0, 0.5)
    right = sine(440.0, -20.0, 0.5)
    stereo = np.stack([left, right], axis=1)  # (n, 2), interleaved in memory
    assert stereo.shape == (SR // 2, 2)
    snap = feed(LevelMeter(SR, FRAME), stereo)
    mean_square = (10.0 ** (-6.0 / 10.0) + 10.0 ** (-20.0 / 10.0)) / 2.0 / 2.0
    assert snap.peak_db == pytest.approx(-6.0, abs=0.1)
    assert snap.rms_db == pytest.approx(10.0 * math.log10(2.0 * mean_square), abs=0.1)


def test_stereo_with_one_silent_channel_reads_3_db_lower_rms() -> None:
    left = to_int16(sine(1000.0, -6.0, 0.5))
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    snap = feed(LevelMeter(SR, FRAME), stereo)
    assert snap.peak_db == pytest.approx(-6.0, abs=0.1)
    assert snap.rms_db == pytest.approx(-6.0 - SQUARE_RMS_DB, abs=0.1)


def test_single_channel_2d_reads_like_mono() -> None:
    x = to_int16(sine(997.0, -12.0, 0.5))
    mono = feed(LevelMeter(SR, FRAME), x)
    column = feed(LevelMeter(SR, FRAME), x.reshape(-1, 1))
    assert column == mono


def _hold_expected(level_db: float, t: float) -> float:
    return max(FLOOR_DB, level_db - FALL_DB_PER_S * max(0.0, t - HOLD_S))


@pytest.mark.parametrize("frame", [FRAME, 960, 441])
def test_peak_hold_holds_then_falls_20_db_in_1_7_s(frame: int) -> None:
    meter = LevelMeter(SR, FRAME)
    burst = np.zeros(frame)
    burst[frame // 2] = 0.5  # -6.02 dBFS
    meter.process(burst)
    level = meter.snapshot().hold_db
    assert level == pytest.approx(20.0 * math.log10(0.5), abs=1e-9)
    silence = np.zeros(frame)
    elapsed = 0  # samples metered since the burst's frame
    for t in [0.1, 0.5, 0.9, 1.0, 1.2, 1.85, 2.7, 3.5, 5.0, 15.0]:
        while elapsed < t * SR:
            meter.process(silence)
            elapsed += frame
        snap = meter.snapshot()
        assert snap.peak_db == FLOOR_DB
        assert snap.hold_db == pytest.approx(_hold_expected(level, elapsed / SR), abs=0.2), t
        if elapsed <= 0.99 * SR:
            assert snap.hold_db == pytest.approx(level, abs=0.01), t
        elif 2.69 * SR <= elapsed <= 2.72 * SR:
            assert snap.hold_db == pytest.approx(level - 20.0, abs=0.3), t
        elif elapsed >= 10 * SR:  # -6 dB falls to the floor after 1 + 94 / 11.76 = 9 s
            assert snap.hold_db == FLOOR_DB
    assert _hold_expected(level, HOLD_S + 1.7) == pytest.approx(level - 20.0)


def test_peak_hold_rises_instantly_and_restarts_hold() -> None:
    meter = LevelMeter(SR, FRAME)
    feed(meter, sine(1000.0, -30.0, 0.1))
    assert meter.snapshot().hold_db == pytest.approx(-30.0, abs=0.1)
    feed(meter, sine(1000.0, -10.0, 0.01))
    assert meter.snapshot().hold_db == pytest.approx(-10.0, abs=0.1)
    feed(meter, np.zeros(int(0.9 * SR)))  # within the hold: stays at -10
    assert meter.snapshot().hold_db == pytest.approx(-10.0, abs=0.1)
    feed(meter, np.zeros(int(1.0 * SR)))  # 1.9 s after the peak: fell for 0.9 s
    assert meter.snapshot().hold_db == pytest.approx(-10.0 - 0.9 * FALL_DB_PER_S, abs=0.2)


def test_peak_hold_never_below_current_peak() -> None:
    meter = LevelMeter(SR, FRAME)
    feed(meter, sine(1000.0, 0.0, 0.05))
    for _ in range(400):  # 4 s of a -20 dBFS sine after a 0 dBFS burst
        meter.process(sine(1000.0, -20.0, 0.01))
        snap = meter.snapshot()
        assert snap.hold_db >= snap.peak_db
    assert snap.hold_db == pytest.approx(-20.0, abs=0.1)


@pytest.mark.parametrize(("before", "after"), [(-40.0, -10.0), (-10.0, -40.0), (-6.0, -60.0)])
def test_rms_settles_within_window_after_a_step(before: float, after: float) -> None:
    meter = LevelMeter(SR, FRAME)
    feed(meter, sine(1000.0, before, 1.0))
    assert meter.snapshot().rms_db == pytest.approx(before, abs=0.1)
    feed(meter, sine(1000.0, after, RMS_WINDOW_S / 2))
    halfway = meter.snapshot().rms_db  # still mixing the two levels: it is a window
    assert abs(halfway - after) > 1.0
    feed(meter, sine(1000.0, after, RMS_WINDOW_S / 2))
    assert meter.snapshot().rms_db == pytest.approx(after, abs=0.1)


@pytest.mark.parametrize("frame", [256, 441, 1024])
def test_rms_window_uses_real_sample_counts(frame: int) -> None:
    meter = LevelMeter(SR, FRAME)
    feed(meter, sine(1000.0, -10.0, 1.0), frame)
    feed(meter, sine(1000.0, -40.0, RMS_WINDOW_S + frame / SR), frame)
    assert meter.snapshot().rms_db == pytest.approx(-40.0, abs=0.1)


def test_rms_returns_to_exact_floor_after_long_loud_run() -> None:
    meter = LevelMeter(SR, FRAME)
    rng = np.random.default_rng(3)
    for _ in range(3000):  # enough frames for the running sum to be recomputed
        meter.process(rng.uniform(-0.9, 0.9, FRAME))
    assert meter.snapshot().rms_db == pytest.approx(10.0 * math.log10(2.0 * 0.81 / 3), abs=0.1)
    feed(meter, np.zeros(int(RMS_WINDOW_S * SR)))
    assert meter.snapshot().rms_db == FLOOR_DB


@pytest.mark.parametrize("seed", range(8))
def test_rms_reads_exact_floor_after_over_full_scale_float_burst(seed: int) -> None:
    meter = LevelMeter(SR, FRAME)
    rng = np.random.default_rng(seed)
    for _ in range(20):  # float samples far beyond full scale (clipped, but metered)
        meter.process(rng.uniform(-1e4, 1e4, FRAME))
    assert meter.snapshot().rms_db > 70.0
    feed(meter, np.zeros(int(RMS_WINDOW_S * SR)))
    assert meter.snapshot().rms_db == FLOOR_DB  # no rounding residue of the running sum
    feed(meter, sine(1000.0, -60.0, RMS_WINDOW_S))
    assert meter.snapshot().rms_db == pytest.approx(-60.0, abs=0.1)


def test_fresh_meter_reads_silent() -> None:
    assert (SILENT.peak_db, SILENT.hold_db, SILENT.rms_db) == (FLOOR_DB, FLOOR_DB, FLOOR_DB)
    assert (SILENT.clipped, SILENT.frames) == (False, 0)
    snap = LevelMeter().snapshot()
    assert dataclasses.astuple(snap) == dataclasses.astuple(SILENT)
    assert snap == SILENT


def test_snapshot_is_immutable() -> None:
    meter = LevelMeter(SR, FRAME)
    meter.process(to_int16(sine(1000.0, -6.0, 0.01)))
    snap = meter.snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.peak_db = 0.0  # type: ignore[misc]
    meter.process(np.zeros(FRAME, dtype=np.int16))
    assert snap.peak_db == pytest.approx(-6.0, abs=0.1)  # the old snapshot did not change
    assert meter.snapshot() is not snap


def test_frames_counter_counts_and_reset_clears() -> None:
    meter = LevelMeter(SR, FRAME)
    x = to_int16(sine(1000.0, -3.0, 0.5))
    x[10 * FRAME + 3] = -32768
    for i in range(1, 26):
        meter.process(x[(i - 1) * FRAME : i * FRAME])
        assert meter.snapshot().frames == i
    meter.process(np.zeros(0, dtype=np.int16))  # an empty frame is not a frame
    assert meter.snapshot().frames == 25
    assert meter.snapshot().clipped
    meter.reset()
    assert meter.snapshot() == SILENT
    meter.process(np.zeros(FRAME, dtype=np.int16))
    snap = meter.snapshot()
    assert snap == dataclasses.replace(SILENT, frames=1)  # no hold, RMS or clip left over


def test_non_finite_float_input_gives_finite_readings_and_clips() -> None:
    meter = LevelMeter(SR, FRAME)
    for bad in (np.nan, np.inf, -np.inf):
        frame = np.zeros(FRAME, dtype=np.float32)
        frame[5] = bad
        meter.process(frame)
        assert_finite(meter.snapshot())
        assert meter.snapshot().clipped


def test_rejects_unsupported_input() -> None:
    meter = LevelMeter(SR, FRAME)
    with pytest.raises(TypeError):
        meter.process(np.zeros(FRAME, dtype=np.int32))
    with pytest.raises(ValueError):
        meter.process(np.zeros((2, FRAME, 2), dtype=np.int16))
    with pytest.raises(ValueError):
        LevelMeter(0, FRAME)
    assert meter.snapshot() == SILENT


def test_a_meter_following_another_shows_its_levels_and_keeps_its_own_clip_latch() -> None:
    heard, sent = LevelMeter(), LevelMeter()
    full = np.full(480, 32767, dtype=np.int16)
    heard.process(full)
    sent.follow(heard.snapshot())
    snap = sent.snapshot()
    assert heard.snapshot().clipped
    assert snap.peak_db == pytest.approx(0.0, abs=0.01) and not snap.clipped
    assert snap.rms_db == heard.snapshot().rms_db
    sent.process(full)
    assert sent.snapshot().clipped
    assert sent.snapshot().frames == 1  # its own history starts afresh after following
    heard.process(np.zeros(480, dtype=np.int16))
    sent.follow(heard.snapshot())
    assert sent.snapshot().clipped  # an earlier latch stays until reset_clip()
    sent.process(np.full(480, 1000, dtype=np.int16))
    assert sent.snapshot().clipped
    assert sent.snapshot().hold_db == pytest.approx(20 * math.log10(1000 / 32768), abs=0.01)
