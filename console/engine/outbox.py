"""Processed microphone audio waiting for ``AudioSource.capture_frame``, with catch-up.

The media loop processes each 10 ms frame (APM, meter) as soon as the device delivers it and
puts the result here; a sender drains it into the AudioSource, whose bounded queue paces it
in real time. After a stall of the process, frames pile up here and would stay behind for
good (the AudioSource only takes real time): the sender then packs ``FRAME + CATCH_UP``
samples into each frame (linear interpolation after the APM, so echo cancellation never sees
it), faster the longer the backlog: 1.7 % per waiting frame up to 5 %, so one frame of
backlog is gone in 0.6 s. Beyond ``MAX_FRAMES`` (a freeze of 60 ms or more) stretching would
keep the far end waiting for seconds, so the oldest whole frames are dropped down to
``KEEP_AFTER_DROP``. Every sample is accounted for.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.ring import SampleFifo

CATCH_UP = 8          # extra samples packed per frame, per frame of backlog
MAX_CATCH_UP = 24     # at most 5 % faster
MAX_FRAMES = 6        # frames waiting beyond which the oldest are dropped
KEEP_AFTER_DROP = 2


@dataclass
class Outgoing:
    """One frame for capture_frame, with where its samples came from."""

    samples: npt.NDArray[np.int16]
    ready: float          # when the newest device sample in it was captured (NaN: silence)
    real: int             # device samples consumed
    silent: int           # synthetic silence samples consumed


class Outbox:
    """A FIFO of processed samples with per-frame arrival marks (media loop only)."""

    def __init__(self, capacity_s: float = 0.5, sample_rate: int = SAMPLE_RATE) -> None:
        self._fifo = SampleFifo(int(capacity_s * sample_rate))
        self._marks: deque[list[float]] = deque()  # [samples left, ready, silent]
        self.real_pending = 0
        self.dropped_real = 0
        self.dropped_silent = 0
        self.packed = 0  # extra samples sent by catching up

    def __len__(self) -> int:
        return len(self._fifo)

    def frames(self) -> int:
        return len(self._fifo) // FRAME

    def push(self, samples: npt.NDArray[np.int16], ready: float, silent: bool) -> None:
        n = samples.shape[0]
        overflow = len(self._fifo) + n - self._fifo.capacity
        if overflow > 0:
            self.drop(overflow)  # through the marks, so the dropped samples are counted
        self._fifo.push(samples)
        self._marks.append([float(n), ready, 1.0 if silent else 0.0])
        if not silent:
            self.real_pending += n

    def next_frame(self) -> Outgoing | None:
        """The next frame to send (catching up when behind), or None if under a frame."""
        waiting = self.frames()
        if waiting == 0:
            return None
        if waiting > MAX_FRAMES:
            self.drop((waiting - KEEP_AFTER_DROP) * FRAME)
        backlog = self.frames() - 1  # whole frames behind the one going out now
        take = min(FRAME + min(CATCH_UP * backlog, MAX_CATCH_UP), len(self._fifo))
        raw, ready, real, silent = self._pop(take)
        if take == FRAME:
            out = raw
        else:
            self.packed += take - FRAME
            pos = np.linspace(0.0, take - 1, FRAME)
            out = np.interp(pos, np.arange(take), raw.astype(np.float64)).astype(np.int16)
        return Outgoing(out, ready, real, silent)

    def clear(self) -> int:
        """Empty it, not counted as dropped (nobody takes it any more); the device samples
        it held, for the caller's books."""
        _, _, real, _ = self._pop(len(self._fifo))
        return real

    def drop(self, n: int) -> None:
        _, _, real, silent = self._pop(min(n, len(self._fifo)))
        self.dropped_real += real
        self.dropped_silent += silent

    def _pop(self, n: int) -> tuple[npt.NDArray[np.int16], float, int, int]:
        out = self._fifo.pop(n)
        ready = math.nan
        real = silent = 0
        left = n
        while left > 0 and self._marks:
            mark = self._marks[0]
            used = int(min(left, mark[0]))
            mark[0] -= used
            left -= used
            if mark[2]:
                silent += used
            else:
                real += used
                ready = mark[1]
            if mark[0] <= 0:
                self._marks.popleft()
        self.real_pending -= real
        return out, ready, real, silent
