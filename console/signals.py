"""Test and demo signals (int16 mono at 48 kHz): speech-like audio and tones."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from console.engine.format import FRAME as FRAME
from console.engine.format import SAMPLE_RATE as SAMPLE_RATE


def speech_like(seconds: float, rms_dbfs: float = -20.0, seed: int = 1) -> npt.NDArray[np.int16]:
    """Voiced harmonics and shaped noise under a 3-5 Hz syllable envelope, in phrases with
    pauses; ``rms_dbfs`` is the RMS while active."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    env = np.zeros(n)
    pos = int(0.2 * SAMPLE_RATE)
    while pos < n:
        phrase_end = min(n, pos + int(rng.uniform(1.2, 3.0) * SAMPLE_RATE))
        while pos < phrase_end:
            length = min(int(SAMPLE_RATE / rng.uniform(3.0, 5.0)), n - pos)
            shape = np.sin(np.pi * np.arange(length) / length) ** 2
            env[pos:pos + length] = shape * rng.uniform(0.4, 1.0)
            pos += length
        pos += int(rng.uniform(0.3, 0.9) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    walk = np.cumsum(rng.normal(0.0, 1.0, n // FRAME + 1))[np.arange(n) // FRAME]
    f0 = 150.0 + 35.0 * np.sin(2 * np.pi * 0.4 * t) + 15.0 * np.tanh(walk / 30.0)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 13))
    spectrum = np.fft.rfft(rng.normal(0.0, 1.0, n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    formants = sum(np.exp(-(((f - fc) / bw) ** 2)) for fc, bw in
                   ((500.0, 200.0), (1500.0, 300.0), (2500.0, 400.0)))
    noise = np.fft.irfft(spectrum * (0.2 + formants) / (1.0 + f / 4000.0), n)
    mix = voiced / np.std(voiced) + 0.5 * noise / np.std(noise)
    x = mix * env
    active = env > 0.1
    rms = float(np.sqrt(np.mean(x[active] ** 2))) if active.any() else 1.0
    x *= 10 ** (rms_dbfs / 20) * 32768 / rms
    return np.clip(x, -32768, 32767).astype(np.int16)


def tone(pos: int, n: int, hz: float, peak_dbfs: float) -> npt.NDArray[np.int16]:
    """Samples ``pos .. pos+n`` of a continuous sine with the given peak level."""
    amp = 10 ** (peak_dbfs / 20) * 32767
    t = np.arange(pos, pos + n) / SAMPLE_RATE
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)
