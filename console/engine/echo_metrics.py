"""Echo cancellation measured from outside the APM (livekit exposes no statistics).

ERLE: microphone power before the APM over power after it, summed over the frames in which
the far end was active (what is played had energy within the echo tail), per 1 s window.
Echo path delay: the lag that best aligns the played signal with the microphone before the
APM, by FFT cross-correlation over the last second (at 8 kHz), when the peak is clear.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from console.engine.format import SAMPLE_RATE

FAR_ACTIVE_DBFS = -50.0
ECHO_TAIL_FRAMES = 30         # the far end counts as active for 300 ms after it had energy
WINDOW_FRAMES = 100           # 1 s ERLE windows
HISTORY_S = 1.0
DECIMATE = 6                  # 48 kHz -> 8 kHz for the delay search
MAX_DELAY_S = 0.5
MIN_CORRELATION = 0.3
_FAR_POWER = (10 ** (FAR_ACTIVE_DBFS / 20) * 32768) ** 2 / 2


@dataclass(frozen=True)
class EchoStats:
    """Latest figures; NaN when not measurable (far end silent, AEC off)."""

    erle_db: float
    echo_delay_ms: float
    delay_confidence: float
    far_active: bool
    windows: tuple[float, ...]  # recent 1 s ERLE windows, oldest first


class EchoMetrics:
    """Fed by the media thread: played frames and microphone frames before/after the APM."""

    def __init__(self, history_windows: int = 600) -> None:
        n = int(SAMPLE_RATE * HISTORY_S)
        self._far_hist = np.zeros(n, dtype=np.float32)
        self._mic_hist = np.zeros(n, dtype=np.float32)
        self._far_pos = 0
        self._mic_pos = 0
        self._tail = 0
        self._pre = 0.0
        self._post = 0.0
        self._frames = 0
        self._active_frames = 0
        self._erle = math.nan
        self._delay_ms = math.nan
        self._confidence = 0.0
        self._windows: deque[float] = deque(maxlen=history_windows)

    def on_far(self, samples: npt.NDArray[np.int16]) -> None:
        """A frame that was played (the echo reference)."""
        x = samples.astype(np.float32)
        if float(np.dot(x, x)) / max(1, x.shape[0]) > _FAR_POWER:
            self._tail = ECHO_TAIL_FRAMES
        self._far_pos = _append(self._far_hist, self._far_pos, x)

    def on_mic(self, before: npt.NDArray[np.int16], after: npt.NDArray[np.int16],
               aec_on: bool) -> None:
        """One microphone frame before and after the APM."""
        pre = before.astype(np.float32)
        self._mic_pos = _append(self._mic_hist, self._mic_pos, pre)
        active = self._tail > 0
        if self._tail > 0:
            self._tail -= 1
        if active and aec_on:
            post = after.astype(np.float32)
            self._pre += float(np.dot(pre, pre))
            self._post += float(np.dot(post, post))
            self._active_frames += 1
        self._frames += 1
        if self._frames >= WINDOW_FRAMES:
            self._close_window()

    def _close_window(self) -> None:
        if self._active_frames >= WINDOW_FRAMES // 2 and self._pre > 0:
            erle = 10 * math.log10(self._pre / max(self._post, 1.0))
            self._erle = erle
            self._windows.append(erle)
        else:
            self._erle = math.nan
        if self._active_frames >= WINDOW_FRAMES // 2:
            self._estimate_delay()
        self._frames = self._active_frames = 0
        self._pre = self._post = 0.0

    def _estimate_delay(self) -> None:
        far = _unroll(self._far_hist, self._far_pos)
        mic = _unroll(self._mic_hist, self._mic_pos)
        f = far.reshape(-1, DECIMATE).mean(axis=1)
        m = mic.reshape(-1, DECIMATE).mean(axis=1)
        f = f - f.mean()
        m = m - m.mean()
        n = f.shape[0]
        size = 1 << (2 * n - 1).bit_length()
        corr = np.fft.irfft(np.fft.rfft(m, size) * np.conj(np.fft.rfft(f, size)), size)
        max_lag = int(MAX_DELAY_S * SAMPLE_RATE / DECIMATE)
        lags = corr[:max_lag]
        best = int(np.argmax(np.abs(lags)))
        norm = math.sqrt(float(np.dot(f, f)) * float(np.dot(m, m)))
        confidence = float(abs(lags[best]) / norm) if norm > 0 else 0.0
        self._confidence = confidence
        if confidence >= MIN_CORRELATION:
            self._delay_ms = best * DECIMATE / SAMPLE_RATE * 1000.0

    def stats(self) -> EchoStats:
        return EchoStats(self._erle, self._delay_ms, self._confidence, self._tail > 0,
                         tuple(self._windows))


def _append(hist: npt.NDArray[np.float32], pos: int, x: npt.NDArray[np.float32]) -> int:
    n = int(hist.shape[0])
    k = int(x.shape[0])
    idx = (pos + np.arange(k)) % n
    hist[idx] = x
    return (pos + k) % n


def _unroll(hist: npt.NDArray[np.float32], pos: int) -> npt.NDArray[np.float32]:
    return np.concatenate((hist[pos:], hist[:pos]))
