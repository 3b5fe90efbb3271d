"""The media thread: its own asyncio loop for capture, mixing, metering and track taps.

The GUI (or any other thread) hands it coroutines with :meth:`MediaThread.submit` and gets a
``concurrent.futures.Future`` back (wrap it with ``asyncio.wrap_future`` on another loop).
A stall of the Qt thread, or a burst of room events on the session's own loop, never
stalls this loop.
"""

from __future__ import annotations

from console.loop_thread import LoopThread


class MediaThread(LoopThread):
    """The engine's loop thread (named "media" unless told otherwise)."""

    def __init__(self, name: str = "media") -> None:
        super().__init__(name)
