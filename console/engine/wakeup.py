"""How a PortAudio callback wakes the media loop: one future per wait, no Task, no lock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Wakeup:
    """The media loop waits on it; the device callback thread notifies it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None

    def notify_threadsafe(self) -> None:
        """From the callback thread: wake the loop if it is waiting (cheap when it is not)."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self._loop.call_soon_threadsafe(_release, waiter)

    async def wait(self, ready: Callable[[], bool], timeout: float) -> None:
        """Return when notified or after ``timeout``; at once if ``ready()`` already holds."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        if ready():  # it happened while arming
            self._waiter = None
            return
        timer = self._loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel a task and wait until it has finished."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
