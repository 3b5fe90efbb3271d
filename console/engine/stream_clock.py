"""Steady timestamps for a device stream's blocks, immune to late callbacks.

A callback's arrival time is when the process got to run, not when its samples were due:
after the host freezes this process, a whole burst of blocks arrives at once. Pairing the
microphone with the echo reference by arrival would tell the echo canceller that the echo
path jumped, twice. The stream's own sample count is the better clock: each block is
stamped one block-duration after the previous one. The stamps follow arrival times along
their lower envelope: an early block (a device clock faster than the system's) pulls them
down at once, and when every block of the last second came late (a slower device clock, a
new device) they move up by the smallest lateness seen, which a freeze never changes.
"""

from __future__ import annotations

WINDOW_S = 1.0   # lateness is judged over this much audio
RESYNC_S = 1.0   # a block this far behind its stamp starts a new timeline (a restart)


class StreamClock:
    """``stamp(n, arrival)`` for each block, in order, from the one thread that delivers."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = float(sample_rate)
        self._next: float | None = None  # the stamp the next block's first sample gets
        self._late_min = float("inf")
        self._window = 0.0

    def stamp(self, frames: int, arrival: float) -> float:
        """When the last sample of this block was due (never after ``arrival``)."""
        span = frames / self._rate
        start = arrival - span
        expected = self._next
        if expected is None or start < expected or start - expected > RESYNC_S:
            expected = start          # early (or first, or a new timeline): follow arrival
            self._late_min, self._window = float("inf"), 0.0
        else:
            self._late_min = min(self._late_min, start - expected)
            self._window += span
            if self._window >= WINDOW_S:
                expected += self._late_min
                self._late_min, self._window = float("inf"), 0.0
        end = expected + span
        self._next = end
        return end
