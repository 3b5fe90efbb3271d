"""Running dry without a click: fade out on a mirror of what was played, fade back in.

When audio stops part way into a block, cutting to zero is a step in the waveform (a click)
as loud as the signal. Instead the missing part continues the last samples played
backwards (a mirror: the waveform goes on from its last value, without a jump) while a
linear fade takes it to silence. When audio comes back, its first block fades in.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

from console.engine.format import FRAME

FADE_IN_SAMPLES = FRAME  # one 10 ms frame, like every gain ramp in the engine


@functools.cache
def fade(n: int, rising: bool) -> npt.NDArray[np.float32]:
    """A linear fade over ``n`` samples: 0 up to just below 1, or 1 down to just above 0."""
    ramp = np.arange(1, n + 1, dtype=np.float32) / np.float32(n + 1)
    return ramp if rising else ramp[::-1].copy()


def fade_out_into(block: npt.NDArray[Any], filled: int,
                  before: npt.NDArray[Any] | None) -> None:
    """Fill ``block[filled:]`` with the mirror of what precedes it, faded to silence.

    What precedes it is ``before`` (the last samples played earlier, or None) followed by
    ``block[:filled]``. Where that history is shorter than the gap, the rest is silence.
    """
    missing = block.shape[0] - filled
    if missing <= 0:
        return
    head = block[:filled]
    history = head if before is None else np.concatenate((before, head))
    mirror = history[::-1][:missing].astype(np.float32)
    n = mirror.shape[0]
    block[filled:filled + n] = mirror * fade(missing, rising=False)[:n]
    block[filled + n:] = 0


def fade_in(block: npt.NDArray[Any]) -> None:
    """Fade the start of ``block`` in (over up to 10 ms), in place."""
    n = min(block.shape[0], FADE_IN_SAMPLES)
    block[:n] = block[:n] * fade(n, rising=True)
