"""A gain that moves to its new value across one frame: never a step, so never a click.

Shared by the microphone's input gain, each participant channel's volume and the mixer's
limiter. Frames are float32 and are scaled in place.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class GainRamp:
    """The gain now, and a linear ramp from it to each frame's target."""

    def __init__(self, frame: int, gain: float = 1.0) -> None:
        self._ramp = np.arange(frame, dtype=np.float32) / frame
        self.now = float(gain)

    def apply(self, x: npt.NDArray[np.float32], target: float) -> npt.NDArray[np.float32]:
        """Scale ``x`` in place from :attr:`now` to ``target``, which becomes :attr:`now`.
        A block of several frames ramps across its first frame and holds the rest."""
        start, self.now = self.now, float(target)
        if start == target:
            if target != 1.0:
                x *= np.float32(target)
            return x
        frame = self._ramp.shape[0]
        head = x[:frame]
        head *= np.float32(start) + np.float32(target - start) * self._ramp[:head.shape[0]]
        if x.shape[0] > frame:
            x[frame:] *= np.float32(target)
        return x
