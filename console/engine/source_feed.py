"""Microphone frames into an ``rtc.AudioSource`` without an event-loop round trip per frame.

``AudioSource.capture_frame`` costs, per 10 ms frame: a timer armed and cancelled, a future,
an event queue created, subscribed and unsubscribed, and a wake-up of the event loop when
livekit's answer comes back on its FFI thread (``bench capture``: it was most of our media
thread's time). A :class:`SourceFeed` makes the same FFI request (``capture_audio_frame``)
and reads the answer on the FFI thread through a subscriber whose filter never lets an event
reach a loop, as :mod:`console.engine.track_tap` does for remote audio.

One frame is in flight at a time, so frames keep their order (livekit runs each capture as a
task of its own). The next frame is usually sent by the media loop when it has one, 10 ms
later; only a frame that had to wait (the source's queue was full, after a freeze) has the
loop woken for it when the answer comes.

This reads livekit internals (``FfiClient``, the FFI protobufs), stable across the 1.2
series that ``pyproject.toml`` pins.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2 as proto_ffi

_IDLE = -1      # nothing in flight
_SENDING = -2   # a request is being made; its async id is not known yet


class SourceFeed:
    """Hands int16 mono frames to one AudioSource, in order, one in flight at a time."""

    def __init__(self, source: rtc.AudioSource, loop: asyncio.AbstractEventLoop,
                 on_ready: Callable[[], None]) -> None:
        """``on_ready`` runs on ``loop`` when a frame refused by :meth:`claim` can go."""
        self._source = source
        self._loop = loop
        self._on_ready = on_ready
        self._rate = source.sample_rate
        self._lock = threading.Lock()
        self._state = _IDLE            # _IDLE, _SENDING or the async id in flight
        self._early: set[int] = set()  # answers that came before their request returned
        self._held: npt.NDArray[np.int16] | None = None  # the buffer in flight
        self._want_ready = False
        self._queued_s = 0.0           # livekit's queue, estimated as AudioSource does
        self._last_send = 0.0
        self.sent = 0
        self.errors = 0
        self.last_error = ""
        # Called with every frame as it is handed over (benchmarks watch what is sent).
        self.watchers: list[Callable[[npt.NDArray[np.int16]], None]] = []
        self._queue: object | None = FfiClient.instance.queue.subscribe(loop, self._on_event)

    # -- media loop ---------------------------------------------------------------------------
    def claim(self) -> bool:
        """Whether a frame can be sent now; if not, ``on_ready`` is called when it can."""
        with self._lock:
            if self._state != _IDLE or self._queue is None:
                self._want_ready = self._queue is not None
                return False
            self._state = _SENDING
            return True

    def release(self) -> None:
        """Give a claim back unused."""
        self._settle(None)

    def send(self, samples: npt.NDArray[np.int16]) -> None:
        """Send one frame after a successful :meth:`claim` (the array is kept until livekit
        answers: it reads the samples from this memory)."""
        samples = np.ascontiguousarray(samples, dtype=np.int16)
        for watch in self.watchers:
            watch(samples)
        handle = self._source._ffi_handle
        if handle.disposed:
            self._settle(None)
            return
        request = proto_ffi.FfiRequest()
        capture = request.capture_audio_frame
        capture.source_handle = handle.handle
        buffer = capture.buffer
        buffer.data_ptr = samples.ctypes.data
        buffer.sample_rate = self._rate
        buffer.num_channels = 1
        buffer.samples_per_channel = samples.shape[0]
        self._held = samples
        now = time.monotonic()
        elapsed = 0.0 if self._last_send == 0.0 else now - self._last_send
        self._queued_s = max(0.0, self._queued_s - elapsed) + samples.shape[0] / self._rate
        self._last_send = now
        try:
            async_id = FfiClient.instance.request(request).capture_audio_frame.async_id
        except Exception as exc:  # a closed source, a dying runtime: count it, go on
            self._fail(str(exc) or type(exc).__name__)
            self._settle(None)
            return
        self.sent += 1
        with self._lock:
            answered = async_id in self._early  # answered already
            self._early.clear()
            if not answered:
                self._state = async_id
        if answered:
            self._settle(None)

    @property
    def queued_duration(self) -> float:
        """Seconds of audio in livekit's queue, estimated (what ``AudioSource`` reports)."""
        if self._last_send == 0.0:
            return 0.0
        return max(0.0, self._queued_s - (time.monotonic() - self._last_send))

    def close(self) -> None:
        """Stop reading answers; a frame in flight is let go. Idempotent."""
        with self._lock:
            queue, self._queue = self._queue, None
            self._want_ready = False
        if queue is not None:
            with contextlib.suppress(Exception):
                FfiClient.instance.queue.unsubscribe(queue)  # type: ignore[arg-type]

    # -- livekit's FFI thread -------------------------------------------------------------------
    def _on_event(self, event: proto_ffi.FfiEvent) -> bool:
        if event.WhichOneof("message") != "capture_audio_frame":
            return False
        answer = event.capture_audio_frame
        with self._lock:
            state = self._state
            if state == _SENDING:
                self._early.add(answer.async_id)  # ours, or another source's: told apart later
                return False
            if state != answer.async_id:
                return False  # another source's
        if answer.error:
            self._fail(answer.error)
        self._settle(answer.async_id)
        return False

    def _fail(self, message: str) -> None:
        self.errors += 1
        self.last_error = message

    def _settle(self, expected: int | None) -> None:
        """The frame in flight is done: free the slot, wake the loop if a frame waits."""
        with self._lock:
            if expected is not None and self._state != expected:
                return
            self._state = _IDLE
            self._held = None
            wake, self._want_ready = self._want_ready, False
        if wake:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self._loop.call_soon_threadsafe(self._on_ready)
