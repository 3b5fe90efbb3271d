"""How the sandbox agent hears a user: Opus packets decoded to 10 ms levels, and an energy
voice detector with endpointing.

The agent decodes the packets the sandbox forwards (about 50 µs each here), not the
packets' audio-level header extension, so it hears any client and times the end of speech
to 10 ms rather than to a 20 ms packet. Endpointing is as in a voice agent's VAD: speech
counts once it has been voiced for ``min_speech_s``, and has ended ``silence_s`` after its
last voiced block. An energy detector is enough here: the sandbox's users are scripts,
test signals and people close to a microphone, not a noisy street.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from console.signals import SAMPLE_RATE

BLOCK = SAMPLE_RATE // 100      # 10 ms
BLOCK_S = BLOCK / SAMPLE_RATE
PENDING_GAP_S = 0.2             # a start not confirmed within this gap is forgotten


@dataclass(frozen=True)
class VadOptions:
    """The detector's thresholds (livekit-agents' Silero defaults are 0.05 s and 0.55 s)."""

    threshold_dbfs: float = -45.0   # a 10 ms block at least this loud (RMS) is voiced
    min_speech_s: float = 0.08      # voiced this long before speech counts as started
    silence_s: float = 0.5          # unvoiced this long after the last voiced block: ended


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech, in the arrival times (``time.monotonic()``) of its audio."""

    start: float      # the first voiced block
    end: float        # the end of the last voiced block
    voiced_s: float   # voiced time in it

    @property
    def duration_s(self) -> float:
        return self.end - self.start


class OpusLevels:
    """Decodes one track's Opus packets, in order, to RMS levels in dBFS of ``block``
    samples each (10 ms; a test's finer view of the same audio may ask for less)."""

    def __init__(self, block: int = BLOCK) -> None:
        ctx: Any = av.CodecContext.create("libopus", "r")
        ctx.sample_rate = SAMPLE_RATE
        ctx.layout = "mono"
        self._ctx = ctx
        self._block = block

    def levels(self, payload: bytes) -> list[float]:
        try:
            frames = self._ctx.decode(av.Packet(payload))
        except av.error.FFmpegError:
            return []  # a damaged packet: heard as nothing
        out: list[float] = []
        for frame in frames:
            x = frame.to_ndarray().astype(np.float64).reshape(-1)
            if x.size == 0:
                continue
            if frame.format.name.startswith("s16"):
                x /= 32768.0
            channels = len(frame.layout.channels)
            if channels > 1:
                x = x.reshape(-1, channels).mean(axis=1)
            whole = x.size // self._block * self._block
            if whole:
                ms = np.mean(x[:whole].reshape(-1, self._block) ** 2, axis=1)
                out.extend(float(v) for v in 10 * np.log10(np.maximum(ms, 1e-12)))
        return out


class Endpointer:
    """Utterances from a stream of timed 10 ms levels (times must not go backwards)."""

    def __init__(self, options: VadOptions) -> None:
        self.options = options
        self._start: float | None = None   # first voiced block of the current stretch
        self._last: float | None = None    # end of its last voiced block
        self._voiced = 0.0
        self.confirmed = False             # the stretch has been voiced for min_speech_s

    @property
    def start(self) -> float | None:
        return self._start if self.confirmed else None

    @property
    def last_voiced(self) -> float | None:
        return self._last

    def block(self, end: float, dbfs: float) -> bool:
        """One 10 ms block ending at ``end``; True when it confirms a start of speech."""
        if self._last is not None and not self.confirmed and end - self._last > PENDING_GAP_S:
            self._forget()
        if dbfs < self.options.threshold_dbfs:
            return False
        if self._start is None:
            self._start = end - BLOCK_S
        self._last = end
        self._voiced += BLOCK_S
        if not self.confirmed and self._voiced >= self.options.min_speech_s - 1e-9:
            self.confirmed = True
            return True
        return False

    def due(self) -> float | None:
        """When the current utterance ends if no voice comes before then."""
        if self._last is None:
            return None
        if not self.confirmed:
            return self._last + PENDING_GAP_S
        return self._last + self.options.silence_s

    def check(self, now: float) -> Utterance | None:
        """The utterance that has ended by ``now``, if one has (a start never confirmed is
        dropped quietly)."""
        due = self.due()
        if due is None or now < due:
            return None
        done = None
        if self.confirmed and self._start is not None and self._last is not None:
            done = Utterance(self._start, self._last, self._voiced)
        self._forget()
        return done

    def _forget(self) -> None:
        self._start = self._last = None
        self._voiced = 0.0
        self.confirmed = False
