"""One daemon thread that runs slow calls for the window (start the sandbox, join, leave).

Unlike ``ThreadPoolExecutor``, whose workers Python joins at exit, a call stuck for good (a
native hang) can neither stop the app from quitting nor :meth:`close` from returning.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from console.os_thread_name import name_this_thread

T = TypeVar("T")
_Job = tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None


class Worker:
    """Runs submitted calls one at a time, in order, on a daemon thread."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        if self._closed:
            raise RuntimeError("the worker is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((future, fn))
        return future

    def close(self, timeout: float) -> bool:
        """Cancel what has not started, end the thread; False if a call is still stuck."""
        self._closed = True
        self._jobs.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _main(self) -> None:
        name_this_thread()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn = job
            if self._closed or not future.set_running_or_notify_cancel():
                future.cancel()
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
