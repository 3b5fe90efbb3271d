"""The freezer of ``bench aec --freeze-every`` really stops this whole process, and lets
it go: a thread watching the clock sees the gaps, and none without it."""

from __future__ import annotations

import threading
import time

import pytest

from console.bench.freezer import freezing


def _gaps_ms(seconds: float) -> list[float]:
    """Gaps between a busy thread's looks at the clock over ``seconds`` (ms, sorted)."""
    gaps: list[float] = []

    def watch() -> None:
        end = time.monotonic() + seconds
        last = time.monotonic()
        while (now := time.monotonic()) < end:
            if now - last > 0.03:
                gaps.append((now - last) * 1000.0)
            last = now
            time.sleep(0.001)

    thread = threading.Thread(target=watch)
    thread.start()
    thread.join()
    return sorted(gaps)


def test_the_process_is_stopped_that_long_that_often_and_let_go() -> None:
    with freezing(0.25, 60.0):
        time.sleep(0.3)  # the child starts
        frozen = _gaps_ms(1.5)
    assert len([g for g in frozen if g >= 50.0]) >= 4, frozen  # 1.5 s / 0.31 s
    assert all(g < 400.0 for g in frozen), frozen  # each let go (not stopped for good)
    time.sleep(0.2)
    assert len([g for g in _gaps_ms(1.0) if g >= 50.0]) <= 1  # the child is gone


def test_no_freezes_asked_for_runs_no_child(monkeypatch: pytest.MonkeyPatch) -> None:
    from console.bench import freezer

    def no_child(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a freezer was started")

    monkeypatch.setattr(freezer.subprocess, "Popen", no_child)
    with freezing(0.0, 60.0):
        pass
