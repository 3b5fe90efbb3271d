"""The output test tone: a short sine with soft edges, played once through the mixer.

It goes through the same output ring and device as the participants (and so into the echo
reference), which is what a person testing their speakers wants to hear.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from console import signals

FADE_S = 0.01


def tone(hz: float, dbfs: float, seconds: float) -> npt.NDArray[np.float32]:
    """A 48 kHz sine whose peak is ``dbfs`` (int16 scale), with 10 ms raised-cosine edges."""
    n = max(0, round(seconds * signals.SAMPLE_RATE))
    x = signals.tone(0, n, hz, dbfs).astype(np.float32)
    fade = min(n // 2, round(FADE_S * signals.SAMPLE_RATE))
    if fade:
        edge = (0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)).astype(np.float32)
        x[:fade] *= edge
        x[n - fade:] *= edge[::-1]
    return x


class Cue:
    """Samples handed out a frame at a time, then nothing."""

    def __init__(self, samples: npt.NDArray[np.float32]) -> None:
        self._samples = samples
        self._pos = 0

    @property
    def remaining(self) -> int:
        return self._samples.size - self._pos

    def take(self, n: int) -> npt.NDArray[np.float32] | None:
        """The next ``n`` samples (zero-padded at the end), or None once played out."""
        if self._pos >= self._samples.size:
            return None
        part = self._samples[self._pos:self._pos + n]
        self._pos += n
        if part.size < n:
            part = np.concatenate([part, np.zeros(n - part.size, dtype=np.float32)])
        return part
