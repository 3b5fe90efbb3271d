"""Python's cyclic garbage collection, run on the GUI thread only, while the window is up.

Left automatic, a collection runs on whichever thread's allocation crosses the threshold:
the output device's or the microphone's callback, livekit's FFI thread, the controller's
worker. A cycle that holds a Qt object (a window, a widget kept by a lambda connected to
its own signal) is then freed there, and a Qt object deleted off the GUI thread can crash
the app (the test suite met such a segfault in Qt's event loop). Here automatic collection
is off, and the GUI thread collects, on a light timer, what the collector would have
collected: the youngest generation when it is due, an older one when its turn comes, and
a full collection only under CPython's own rule (a quarter more long-lived objects since
the last one), so its pauses stay as rare as :mod:`console.gc_pauses` expects.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

TICK_MS = 200  # the app's light GUI-thread timer (it also lets Python see Ctrl+C)
# A timer sees only the net count: a burst of short-lived objects between two ticks, which
# would have started a collection on its own, leaves none. The youngest generation is then
# collected this often anyway when it holds anything (microseconds when it is small).
YOUNG_EVERY_S = 1.0


def due_generation(counts: tuple[int, int, int], thresholds: tuple[int, int, int],
                   pending: int, long_lived: int, since_s: float = 0.0) -> int | None:
    """The generation CPython's collector would collect now, or None (nothing due).

    ``counts`` and ``thresholds`` as :func:`gc.get_count` and :func:`gc.get_threshold`
    give them; ``pending`` objects moved to the oldest generation since the last full
    collection, which left ``long_lived`` there; ``since_s`` since the last collection
    (see :data:`YOUNG_EVERY_S`).
    """
    if thresholds[0] == 0:
        return None
    if counts[0] < thresholds[0]:
        return 0 if counts[0] > 0 and since_s >= YOUNG_EVERY_S else None
    if counts[1] < thresholds[1]:
        return 0
    if counts[2] >= thresholds[2] and pending > long_lived // 4:
        return 2
    return 1


@dataclass
class GuiCollector:
    """Call :meth:`start` on the GUI thread, then :meth:`tick` from a GUI-thread timer;
    :meth:`stop` gives collection back to Python."""

    collections: list[int] = field(default_factory=lambda: [0, 0, 0])  # per generation
    _pending: int = 0
    _long_lived: int = 0
    _was_enabled: bool = False
    _last: float = field(default_factory=time.monotonic)  # the last collection

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        self._long_lived = len(gc.get_objects(generation=2))
        gc.disable()

    def stop(self) -> None:
        if self._was_enabled:
            gc.enable()

    def tick(self) -> None:
        """Collect what is due (the GUI thread)."""
        now = time.monotonic()
        generation = due_generation(gc.get_count(), gc.get_threshold(), self._pending,
                                    self._long_lived, now - self._last)
        if generation is None:
            return
        self._last = now
        young = 0
        if generation == 1:
            young = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))
        found = gc.collect(generation)
        self.collections[generation] += 1
        if generation == 1:
            self._pending += max(0, young - found)  # what moved to the oldest generation
        if generation == 2:
            self._pending = 0
            self._long_lived = len(gc.get_objects(generation=2))
