"""Checking a microphone without joining a room: a recording played back, or hearing oneself.

- :class:`MicTest`: the microphone as it would be sent (after the input gain and every
  processing stage on now, before the push-to-talk gate) is recorded for a few seconds,
  then played back once through the output mixer, so what you hear is what a room would.
- :class:`SelfMonitor`: the same signal, live, as a channel of the mixer ("hear myself");
  its latency is what the capture device, the channel's queue, the output ring and the
  output device add up to, shown so its echo-like delay is not mistaken for a fault.

Both are fed by the capture chain's tap on the microphone's thread, and played by the mixer
on the output device's; neither needs a room.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from console.engine.block_source import Block
from console.engine.format import FRAME_MS, SAMPLE_RATE

TEST_SECONDS = 5.0
SELF_KEY = "__self_monitor__"
SELF_QUEUE_BLOCKS = 20   # 200 ms: a stalled mixer drops the oldest, never grows the delay


class Phase(enum.Enum):
    IDLE = "idle"
    RECORDING = "recording"
    PLAYING = "playing"


@dataclass(frozen=True)
class MicTestState:
    phase: Phase
    progress: float        # 0..1 of the recording or of its playback
    seconds: float         # the recording's length
    level_dbfs: float      # RMS of what was recorded (nan before it is done)


IDLE_TEST = MicTestState(Phase.IDLE, 0.0, TEST_SECONDS, math.nan)


class MicTest:
    """Record ``seconds`` of the microphone as sent, then hand it to ``play``."""

    def __init__(self, seconds: float = TEST_SECONDS) -> None:
        self.seconds = seconds
        self._want = int(seconds * SAMPLE_RATE)
        self._frames: list[npt.NDArray[np.int16]] = []
        self._have = 0
        self.recording: npt.NDArray[np.float32] | None = None
        self.level_dbfs = math.nan
        self.cued = False  # the recording was handed to the mixer (its playback started)

    @property
    def done(self) -> bool:
        return self.recording is not None

    @property
    def progress(self) -> float:
        return min(1.0, self._have / self._want) if self._want else 1.0

    def frame(self, samples: npt.NDArray[np.int16]) -> bool:
        """One frame of the microphone (its thread); True once the recording is
        complete (then :attr:`recording` holds it, in the mixer's float scale)."""
        if self.recording is not None:
            return True
        self._frames.append(samples.copy())
        self._have += samples.shape[0]
        if self._have < self._want:
            return False
        x = np.concatenate(self._frames)[:self._want].astype(np.float32)
        self._frames.clear()
        power = float(np.mean((x / 32768.0) ** 2)) if x.size else 0.0
        self.level_dbfs = 10 * math.log10(power) if power > 0 else -120.0
        # Last: ``done`` (read from other threads) says the level is there. Set first, a
        # reader could see the test done with no level (a CI run did).
        self.recording = x
        return True


class SelfMonitor:
    """A block source (:class:`~console.engine.block_source.BlockSource`) of the
    microphone as sent, for a mixer channel."""

    frame_ms = int(FRAME_MS)

    def __init__(self) -> None:
        self._blocks: deque[Block] = deque(maxlen=SELF_QUEUE_BLOCKS)
        self._pushed = 0
        self._drained = 0
        self._closed = False

    def push(self, samples: npt.NDArray[np.int16], now: float) -> None:
        if not self._closed:
            self._blocks.append((now, samples.copy()))
            self._pushed += 1

    @property
    def ended(self) -> bool:
        return self._closed

    @property
    def queued(self) -> int:
        return len(self._blocks)

    @property
    def dropped(self) -> int:
        return max(0, self._pushed - self._drained - len(self._blocks))

    def drain(self) -> list[Block]:
        out = list(self._blocks)
        self._blocks.clear()
        self._drained += len(out)
        return out

    def close(self) -> None:
        self._closed = True
        self._blocks.clear()

