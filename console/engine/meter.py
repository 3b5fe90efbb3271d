"""Per-frame audio level meter: sample peak, peak hold with ballistics, windowed RMS.

Conventions, used by everything in this module:

* Full scale is 1.0. int16 samples are divided by 32768, so int16 -32768 reads 0 dBFS and
  32767 reads -0.0003 dBFS; float32/float64 samples are taken as they are.
* Peak is the sample peak, 20·log10(max|x|) (no inter-sample / true-peak estimation).
* RMS follows AES17: 20·log10(rms·√2), so a full-scale sine reads 0 dBFS RMS and a
  full-scale square +3.01 dBFS.
* Floor: no value goes below FLOOR_DB (never -inf, never NaN); silence reads exactly FLOOR_DB.
* Time (peak hold, fall, RMS window) is counted in samples at the meter's sample rate,
  never by the wall clock.

No Qt here: process() runs on the audio side, snapshot() may be read from any thread.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from console.engine.format import FRAME, SAMPLE_RATE

FLOOR_DB: float = -100.0
HOLD_S: float = 1.0  # peak hold time
FALL_DB_PER_S: float = 20.0 / 1.7  # IEC 60268-18 digital peak meter return: 20 dB in 1.7 s
RMS_WINDOW_S: float = 0.3

_INT16_SCALE = 1.0 / 32768.0
_FLOOR_AMP = 10.0 ** (FLOOR_DB / 20.0)  # amplitudes at or below this read FLOOR_DB
_FLOOR_MS = 10.0 ** (FLOOR_DB / 10.0) / 2.0  # mean squares at or below this read FLOOR_DB
_RESUM_EVERY = 1024  # frames between exact recomputations of the RMS running sum
_CANCEL_RATIO = 1e-6  # rest of the window this far below what left it: recompute the sum


@dataclass(frozen=True, slots=True)
class MeterSnapshot:
    """One immutable reading of a LevelMeter (all levels in dBFS, >= FLOOR_DB)."""

    peak_db: float  # sample peak of the most recent frame
    hold_db: float  # peak with ballistics: instant rise, HOLD_S hold, then FALL_DB_PER_S fall
    rms_db: float  # AES17 RMS over the last ~RMS_WINDOW_S of whole frames
    clipped: bool  # latched once any sample reached full scale, until reset_clip()
    frames: int  # frames metered since creation/reset


SILENT: MeterSnapshot = MeterSnapshot(FLOOR_DB, FLOOR_DB, FLOOR_DB, False, 0)


class LevelMeter:
    """Meters audio frame by frame; cheap enough to run for every participant and frame.

    process() must be called from one thread at a time; snapshot(), reset_clip() and
    reset() may be called from any thread.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, frame_samples: int = FRAME) -> None:
        if sample_rate <= 0 or frame_samples <= 0:
            raise ValueError("sample_rate and frame_samples must be positive")
        self.sample_rate = sample_rate
        self.frame_samples = frame_samples
        self._hold_samples = HOLD_S * sample_rate
        self._fall_per_sample = FALL_DB_PER_S / sample_rate
        self._window_samples = max(1, round(RMS_WINDOW_S * sample_rate))
        # RMS window: (channel-averaged sum of squares, sample count) per frame, and their sums.
        self._ring: deque[tuple[float, int]] = deque()
        self._sum_sq = 0.0
        self._sum_n = 0
        self._held_db = FLOOR_DB
        self._hold_age = 0  # samples since the held peak's frame
        self._clipped = False
        self._frames = 0
        self._reset_pending = False
        self._following = False  # the snapshot is another meter's: the history is stale
        self._snapshot = SILENT

    def process(self, samples: npt.NDArray[np.generic]) -> None:
        """Meter one frame. int16 or float32/float64, shape (n,) mono or (n, channels) interleaved;
        over channels: peak = max, power = mean. Frames of other lengths than frame_samples are
        accepted (the time base for ballistics and the RMS window uses the real sample count).

        An empty frame is ignored. Non-finite float samples (NaN, inf) are metered as a
        full-scale square and set the clip latch.
        """
        if self._reset_pending:
            self._clear()
        elif self._following:
            self._clear(keep_clip=True)
        if samples.ndim not in (1, 2):
            raise ValueError(f"expected shape (n,) or (n, channels), got {samples.shape}")
        n = samples.shape[0]
        size = samples.size
        if size == 0:
            return
        flat = samples.ravel()
        kind = samples.dtype.char
        if kind == "h":  # int16: integer max/min, so -32768 cannot overflow
            hi = int(flat.max())
            lo = int(flat.min())
            clip = hi >= 32767 or lo == -32768
            peak = max(hi, -lo) * _INT16_SCALE
            as_float = flat.astype(np.float64)
            sum_sq = float(np.dot(as_float, as_float)) * (_INT16_SCALE * _INT16_SCALE)
        elif kind == "d" or kind == "f":
            peak = max(float(flat.max()), -float(flat.min()))
            if kind == "f":
                flat = flat.astype(np.float64)
            sum_sq = float(np.dot(flat, flat))
            if not (peak < math.inf and sum_sq < math.inf):  # NaN or inf in the frame
                peak = 1.0
                sum_sq = float(size)
            clip = peak >= 1.0
        else:
            raise TypeError(f"expected int16, float32 or float64 samples, got {samples.dtype}")

        peak_db = 20.0 * math.log10(peak) if peak > _FLOOR_AMP else FLOOR_DB

        # Peak hold: rises instantly, holds for HOLD_S, then falls at FALL_DB_PER_S.
        age = self._hold_age + n
        over = age - self._hold_samples
        hold_db = self._held_db - self._fall_per_sample * over if over > 0 else self._held_db
        if peak_db >= hold_db:
            hold_db = peak_db
            self._held_db = peak_db
            age = 0
        self._hold_age = age

        # RMS: sliding window of whole frames, the newest ones spanning >= RMS_WINDOW_S.
        # Over channels the power is the mean: keep the per-channel-average sum of squares.
        if size != n:
            sum_sq /= size // n
        ring = self._ring
        ring.append((sum_sq, n))
        total_sq = self._sum_sq + sum_sq
        total_n = self._sum_n + n
        window = self._window_samples
        dropped = 0.0
        while total_n - ring[0][1] >= window:
            old_sq, old_n = ring.popleft()
            total_sq -= old_sq
            total_n -= old_n
            dropped += old_sq
        frames = self._frames + 1
        # Recompute the running sum exactly now and then (float drift), and whenever a loud
        # frame leaving the window may have left rounding residue above a much quieter rest.
        if frames % _RESUM_EVERY == 0 or total_sq < dropped * _CANCEL_RATIO:
            total_sq = math.fsum(sq for sq, _ in ring)
        self._sum_sq = total_sq
        self._sum_n = total_n
        self._frames = frames
        ms = total_sq / total_n
        rms_db = 10.0 * math.log10(2.0 * ms) if ms > _FLOOR_MS else FLOOR_DB

        if clip:
            self._clipped = True
        self._snapshot = MeterSnapshot(peak_db, hold_db, rms_db, self._clipped, frames)

    def follow(self, other: MeterSnapshot) -> None:
        """Show another meter's reading of the same signal instead of metering it twice;
        this meter's clip latch stays as it is, and its own history starts afresh with the
        next :meth:`process`. Same thread as :meth:`process`."""
        self._following = True
        self._snapshot = replace(other, clipped=self._clipped)

    def snapshot(self) -> MeterSnapshot:
        """Latest values; safe to call from another thread at any time (process() builds a new
        immutable snapshot and publishes it with one attribute assignment)."""
        return self._snapshot

    def reset_clip(self) -> None:
        """Clear the clip latch (the next frame latches again if it reaches full scale)."""
        self._clipped = False
        self._snapshot = replace(self._snapshot, clipped=False)

    def reset(self) -> None:
        """Forget all history: the snapshot reads SILENT at once, the next frame starts afresh.

        Safe from any thread: the state itself is cleared by the next process() call.
        """
        self._reset_pending = True
        self._clipped = False
        self._snapshot = SILENT

    def _clear(self, keep_clip: bool = False) -> None:
        self._reset_pending = False
        self._following = False
        self._ring.clear()
        self._sum_sq = 0.0
        self._sum_n = 0
        self._held_db = FLOOR_DB
        self._hold_age = 0
        if not keep_clip:
            self._clipped = False
        self._frames = 0
