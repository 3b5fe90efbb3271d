"""When a block our libpulse output hands over will leave the speaker (the echo reference's
timeline, :mod:`console.engine.echo_reference`).

:class:`~console.engine.pulse_stream.PulseStream` reads the server's latency right after
each write and hands the next callback a :class:`PlaybackTime`: everything written so far
ends playing at ``played_until``. Measured against the loopback microphone with a click
every 50 ms across freezes of the whole process, this is right to a millisecond, except for
a few blocks after a freeze, when it comes late (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import time
from typing import Any

from console.engine.format import SAMPLE_RATE

MAX_AHEAD_S = 1.0  # a block said to start further ahead than this is not believed


class PlaybackTime:
    """What :class:`~console.engine.pulse_stream.PulseStream` tells its playback callback:
    when (``time.monotonic()``) everything written before this block will have been
    played, or None when the server could not say."""

    __slots__ = ("played_until",)

    def __init__(self) -> None:
        self.played_until: float | None = None


def block_end(frames: int, time_info: Any) -> float | None:
    """When (``time.monotonic()``) the last of the ``frames`` this callback fills will have
    been played; None when the output cannot say (PortAudio's streams), or says something
    unbelievable (the speaker ran dry since the reading)."""
    if not isinstance(time_info, PlaybackTime) or time_info.played_until is None:
        return None
    now = time.monotonic()
    start = max(time_info.played_until, now)  # ran dry: it starts when written, at best
    if start - now > MAX_AHEAD_S:
        return None
    return start + frames / SAMPLE_RATE

