"""Sums participant channels into 10 ms frames with a clip-safe limiter.

The sum is formed in float32; a frame whose peak would pass full scale is brought down by a
gain that ramps from the previous frame's (instant attack, ~100 ms release), and whatever
still exceeds full scale is clipped. The result never wraps; limited frames and clipped
samples are counted.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from console.engine.channel import Channel
from console.engine.format import FRAME
from console.engine.gain_ramp import GainRamp
from console.engine.test_tone import Cue

CEILING = 32767.0 * 0.98
RELEASE = 0.1  # fraction of the way back to unity gain per frame


class Mixer:
    """A set of channels keyed by a caller-chosen string (not ``track.sid``)."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}
        self._gain = GainRamp(FRAME)
        self.frames_mixed = 0
        self.frames_limited = 0
        self.samples_clipped = 0
        self._cue: Cue | None = None
        # Called (any thread) when something is given to play: the output wakes for it
        # when it slept with nothing to play and no device.
        self.on_change: Callable[[], None] | None = None

    @property
    def channels(self) -> dict[str, Channel]:
        return self._channels

    def add(self, channel: Channel) -> None:
        if channel.key in self._channels:
            raise ValueError(f"a channel named {channel.key!r} is already mixed")
        self._channels[channel.key] = channel
        self._changed()

    def remove(self, key: str) -> Channel | None:
        return self._channels.pop(key, None)

    def play_cue(self, samples: npt.NDArray[np.float32]) -> None:
        """Mix ``samples`` in once, from the next frame (any thread; replaces a cue)."""
        self._cue = Cue(samples)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def stop_cue(self) -> None:
        self._cue = None

    @property
    def cue_remaining(self) -> int:
        """Samples of the cue still to play (0 when none plays)."""
        cue = self._cue
        return cue.remaining if cue is not None else 0

    @property
    def cue_playing(self) -> bool:
        cue = self._cue
        return cue is not None and cue.remaining > 0

    @property
    def idle(self) -> bool:
        """Nothing to play: no channel, no cue (what it mixes is silence)."""
        return not self._channels and self._cue is None

    def mix(self, now: float, *, after_stall: bool = False) -> npt.NDArray[np.int16]:
        """One 10 ms mono frame of everything that has audio right now.

        ``after_stall``: this process has just frozen (see ``OutputDevice``); the channels
        count underruns now apart and do not grow their jitter target for them.
        """
        acc = np.zeros(FRAME, dtype=np.float32)
        for channel in list(self._channels.values()):
            frame = channel.pull(now, after_stall=after_stall)
            if frame is not None:
                acc += frame
        cue = self._cue
        if cue is not None:
            part = cue.take(FRAME)
            if part is None:
                self._cue = None
            else:
                acc += part
        self.frames_mixed += 1
        peak = float(np.max(np.abs(acc))) if acc.size else 0.0
        needed = CEILING / peak if peak > CEILING else 1.0
        gain = self._gain
        target = min(needed, gain.now + (1.0 - gain.now) * RELEASE)
        if needed < 1.0:
            self.frames_limited += 1
            # Instant attack: start the ramp no higher than what this frame needs.
            gain.now = min(gain.now, needed)
        gain.apply(acc, target)
        over = np.abs(acc) > 32767.0
        if over.any():
            self.samples_clipped += int(over.sum())
            np.clip(acc, -32768.0, 32767.0, out=acc)
        return acc.astype(np.int16)
