"""Microphone input gain, applied to each raw 10 ms frame before the APM and the meter.

The gain is set from any thread (a plain attribute write) and reaches the audio ramped over
one frame, so moving the slider never clicks. The result saturates at full scale instead
of wrapping; samples that had to be clipped are counted. At 0 dB the frame passes through
untouched (no copy).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from console.engine.gain_ramp import GainRamp

MIN_DB = -20.0
MAX_DB = 20.0


def clamp_db(db: float) -> float:
    """``db`` within MIN_DB..MAX_DB (NaN reads as 0 dB)."""
    if math.isnan(db):
        return 0.0
    return min(MAX_DB, max(MIN_DB, float(db)))


class InputGain:
    """A ramped, saturating gain for int16 frames of a fixed size."""

    def __init__(self, frame: int, db: float = 0.0) -> None:
        self._db = clamp_db(db)
        self._gain = GainRamp(frame, self._linear(self._db))
        self.samples_clipped = 0

    @staticmethod
    def _linear(db: float) -> float:
        return float(10.0 ** (db / 20.0))

    @property
    def db(self) -> float:
        return self._db

    def set_db(self, db: float) -> None:
        """The new gain, clamped to MIN_DB..MAX_DB; heard from the next frame on."""
        self._db = clamp_db(db)

    def apply(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """``pcm`` with the gain applied (a new array unless the gain is unity)."""
        target = self._linear(self._db)
        if self._gain.now == target == 1.0:
            return pcm
        x = self._gain.apply(pcm.astype(np.float32), target)
        over = np.abs(x) > 32767.0
        if over.any():
            self.samples_clipped += int(over.sum())
            np.clip(x, -32768.0, 32767.0, out=x)
        return np.rint(x).astype(np.int16)
