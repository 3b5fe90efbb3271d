"""The window's worker thread: calls in order, errors handed over, a stuck call let go."""

from __future__ import annotations

import threading
import time

import pytest

from console.session.worker import Worker


def test_calls_run_in_order_and_hand_back_results_and_errors() -> None:
    worker = Worker("test-worker")
    seen: list[int] = []
    futures = [worker.submit(lambda i=i: seen.append(i) or i * 10) for i in range(5)]
    assert [f.result(5) for f in futures] == [0, 10, 20, 30, 40]
    assert seen == [0, 1, 2, 3, 4]

    def fail() -> None:
        raise ValueError("bad token")

    with pytest.raises(ValueError, match="bad token"):
        worker.submit(fail).result(5)
    assert worker.close(5)
    with pytest.raises(RuntimeError):
        worker.submit(lambda: None)


def test_a_stuck_call_neither_blocks_close_nor_runs_what_was_queued_behind_it() -> None:
    release = threading.Event()
    worker = Worker("test-stuck")
    stuck = worker.submit(release.wait)
    behind = worker.submit(lambda: "ran")
    deadline = time.monotonic() + 5
    while not stuck.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    assert worker.close(0.3) is False  # still stuck: close gives up instead of hanging
    assert time.monotonic() - started < 2
    thread = next(t for t in threading.enumerate() if t.name == "test-stuck")
    assert thread.daemon  # and it cannot keep the interpreter from exiting
    release.set()
    assert stuck.result(5) is True
    thread.join(5)
    assert behind.cancelled() and not thread.is_alive()
