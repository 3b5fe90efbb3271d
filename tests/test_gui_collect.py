"""Garbage collection on the GUI thread only: a cycle holding a Qt object is never freed on
a worker's thread, whatever that thread allocates."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from console.gui_collect import YOUNG_EVERY_S, GuiCollector, due_generation


class _Cycle:
    """A window-like cycle: an object that keeps a Qt object and itself."""

    def __init__(self, qobject: object) -> None:
        self.qobject = qobject
        self.me = self


def _freed_on(qtbot, collector: GuiCollector | None) -> int:  # type: ignore[no-untyped-def]
    """Make a cycle that holds a QObject on this (the GUI) thread, drop it, let a worker
    allocate enough to cross every collection threshold, then wait for the cycle to be
    freed (the GUI thread's timer runs meanwhile); returns the thread that freed it."""
    from PySide6.QtCore import QObject, QTimer

    freed: list[int] = []
    cycle = _Cycle(QObject())
    weakref.finalize(cycle, lambda: freed.append(threading.get_ident()))
    del cycle
    timer = QTimer()
    if collector is not None:
        timer.setInterval(10)
        timer.timeout.connect(collector.tick)
        timer.start()

    def allocate() -> None:
        # Containers that live a moment: the collector's counts climb, as an audio or
        # livekit thread's do all day.
        for _ in range(20):
            keep = [[] for _ in range(5000)]
            del keep

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(freed), timeout=3000)
    timer.stop()
    return freed[0]


@pytest.fixture
def collector() -> Iterator[GuiCollector]:
    was = gc.isenabled()
    gc.enable()
    running = GuiCollector()
    running.start()
    yield running
    running.stop()
    if not was:
        gc.disable()


def test_a_cycle_holding_a_qt_object_is_freed_on_the_gui_thread(qtbot, collector) -> None:
    assert not gc.isenabled()
    assert _freed_on(qtbot, collector) == threading.get_ident()
    assert collector.collections[0] + collector.collections[1] >= 1


def test_left_automatic_the_worker_frees_it(qtbot) -> None:
    """The control: Python's own collection runs on the thread that crosses the threshold
    (the worker here), which is what the app must not let happen to a Qt object."""
    assert gc.isenabled()
    gc.collect()  # start from empty young generations: the worker's allocations decide
    assert _freed_on(qtbot, None) != threading.get_ident()


def test_stop_gives_collection_back() -> None:
    running = GuiCollector()
    running.start()
    assert not gc.isenabled()
    running.stop()
    assert gc.isenabled()


@pytest.mark.parametrize(("counts", "pending", "long_lived", "expected"), [
    ((699, 9, 9), 0, 0, None),      # the youngest generation is not full yet
    ((700, 0, 0), 0, 0, 0),         # it is: collect it
    ((700, 10, 0), 0, 0, 1),        # ten of those since the middle one: its turn
    ((700, 10, 10), 100, 1000, 1),  # the oldest's turn, but it grew by a tenth only
    ((700, 10, 10), 251, 1000, 2),  # by more than a quarter: a full collection
])
def test_the_generation_collected_is_the_one_cpython_would_collect(
        counts: tuple[int, int, int], pending: int, long_lived: int,
        expected: int | None) -> None:
    assert due_generation(counts, (700, 10, 10), pending, long_lived) == expected
    assert due_generation(counts, (0, 10, 10), pending, long_lived) is None  # gc disabled


def test_the_youngest_generation_is_collected_now_and_then_even_below_its_threshold() -> None:
    """A tick sees the net count only; a second after the last collection, whatever is
    young is collected (cycles do not wait for 700 more objects to pile up)."""
    assert due_generation((5, 0, 0), (700, 10, 10), 0, 0, since_s=0.2) is None
    assert due_generation((5, 0, 0), (700, 10, 10), 0, 0, since_s=YOUNG_EVERY_S) == 0
    assert due_generation((0, 0, 0), (700, 10, 10), 0, 0, since_s=60.0) is None
