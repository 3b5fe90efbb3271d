"""Steady timestamps for a device stream's blocks, immune to late callbacks.

A callback's arrival time is when the process got to run, not when its samples were due:
after the host freezes this process, a whole burst of blocks arrives at once. Pairing the
microphone with the echo reference by arrival would show the echo canceller an echo path
that jumps back and forth. The stream's own sample count is the better clock: each block is
stamped one block-duration after the previous one. The stamps follow arrival times along
their lower envelope: an early block (a device clock faster than the system's) pulls them
down at once, and late blocks pull them up by at most ``MAX_SLOW_PPM`` (a slower device
clock, or a device that lost time in a freeze), smoothly, so the echo canceller sees at
most one slow change instead of jumps.
"""

from __future__ import annotations

MAX_SLOW_PPM = 1000.0  # stamps may gain this much on the sample count (1 ms per second)
RESYNC_S = 1.0         # a block this far behind its stamp starts a new timeline (a restart)


class StreamClock:
    """``stamp(n, arrival)`` for each block, in order, from the one thread that delivers."""

    def __init__(self, sample_rate: int, resync_s: float = RESYNC_S) -> None:
        """``resync_s``: a block this far behind its stamp starts a new timeline."""
        self._rate = float(sample_rate)
        self._resync = resync_s
        self._next: float | None = None  # the stamp the next block's first sample gets

    def reset(self) -> None:
        """A new stream (another device): the next block starts a new timeline."""
        self._next = None

    def stamp(self, frames: int, arrival: float) -> float:
        """When the last sample of this block was due (never after ``arrival``)."""
        end = self.peek(frames, arrival)
        self._next = end
        return end

    def peek(self, frames: int, arrival: float) -> float:
        """What :meth:`stamp` would say for this block, without taking it."""
        span = frames / self._rate
        start = arrival - span
        expected = self._next
        if expected is None or start < expected or start - expected > self._resync:
            expected = start          # early (or first, or a new timeline): follow arrival
        else:
            expected += min(start - expected, span * MAX_SLOW_PPM * 1e-6)
        return expected + span
