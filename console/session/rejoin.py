"""When to try joining again after the room was lost: backoff 1, 2, 4, 8, 16, 30, 30 ... s.

A server that is down is asked less and less often, and one that comes back is found
within half a minute. :class:`RejoinTimer` holds one scheduled attempt at a time on a
daemon timer thread (quitting never waits for it), says how long until it runs, and
forgets it the moment :meth:`RejoinTimer.cancel` is called (Leave).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from console.session.explain import Explanation

BACKOFF_S: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


def backoff(attempt: int, steps: Sequence[float] = BACKOFF_S) -> float:
    """Seconds to wait before attempt number ``attempt`` (1, 2, ...); the last step repeats."""
    if not steps:
        return 0.0
    return float(steps[min(max(attempt, 1), len(steps)) - 1])


@dataclass(frozen=True)
class Countdown:
    """The next rejoin attempt: its number, the seconds until it starts, and why."""

    attempt: int
    seconds_left: float
    cause: Explanation


class RejoinTimer:
    """One pending rejoin attempt; ``run(attempt)`` is called on a timer thread when due."""

    def __init__(self, run: Callable[[int], None], steps: Sequence[float] = BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._run = run
        self.steps = tuple(steps)
        self._clock = clock
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._due = 0.0
        self._attempt = 0
        self._cause: Explanation | None = None

    def schedule(self, attempt: int, cause: Explanation) -> float:
        """Run attempt ``attempt`` after its backoff (replacing any pending one); the delay."""
        delay = backoff(attempt, self.steps)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            timer = threading.Timer(delay, self._fire, args=(attempt,))
            timer.name = f"rejoin-{attempt}"
            timer.daemon = True
            self._timer, self._due = timer, self._clock() + delay
            self._attempt, self._cause = attempt, cause
            timer.start()
        return delay

    def cancel(self) -> None:
        """Forget the pending attempt at once (a timer already firing finds nothing)."""
        with self._lock:
            timer, self._timer = self._timer, None
            self._attempt, self._cause = 0, None
        if timer is not None:
            timer.cancel()

    def countdown(self) -> Countdown | None:
        with self._lock:
            if self._timer is None or self._cause is None:
                return None
            left = max(0.0, self._due - self._clock())
            return Countdown(self._attempt, left, self._cause)

    def _fire(self, attempt: int) -> None:
        with self._lock:
            if self._timer is None or self._attempt != attempt \
                    or self._timer is not threading.current_thread():
                return  # cancelled or replaced meanwhile
            self._timer, self._cause = None, None
        self._run(attempt)
