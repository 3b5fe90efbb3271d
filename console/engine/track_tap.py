"""A remote track's audio, taken straight off livekit's FFI event thread.

``rtc.AudioStream`` costs a lot per 10 ms frame: every FFI event is offered to every
stream's filter (O(tracks) per event), then hops to the event loop through
``call_soon_threadsafe`` (a loop wake-up per frame), an asyncio queue, a second filter, an
``AudioFrame`` built from a ``bytearray`` and a ring queue: a cost per frame that grows with
the number of tracks.

A :class:`TrackTap` asks livekit's native side for the same stream (48 kHz mono, resampled
in Rust) but reads it through one process-wide router: a single subscriber to livekit's
event queue whose filter looks the stream up by handle and copies the samples into the
tap's bounded deque, right there on the FFI thread, and never lets the event reach an event
loop. The mixer drains the deque on its own tick. Nothing here wakes a loop, and the cost
per frame does not grow with the number of tracks.

The native buffers are dropped later, in batches, by a thread of their own (the
:class:`_Reaper`): dropping one is a ctypes call that lets go of the GIL, and taking it
back costs livekit's delivery thread up to the switch interval (5 ms) whenever another
thread wants the GIL, the window painting for instance. Dropped on the delivery thread,
that would hold later blocks of every track back; off it, the delivery thread takes the GIL
once per frame.

This reads livekit internals (``FfiClient``, the FFI protobufs) that are stable across the
1.2 series; ``pyproject.toml`` pins ``livekit<1.3`` for that reason.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import logging
import threading
import time
from typing import Any

import numpy as np
from livekit import rtc
from livekit.rtc._ffi_client import FfiClient, FfiHandle
from livekit.rtc._proto import audio_frame_pb2 as proto_audio
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from console.engine.block_source import Block
from console.engine.format import SAMPLE_RATE
from console.os_thread_name import name_this_thread

_log = logging.getLogger(__name__)

EARLY_LIMIT = 256  # events kept while a stream is being created and its handle is unknown
REAP_EVERY_S = 0.02  # how long a native buffer waits, at most, for its batch to be dropped
REAPER_IDLE_S = 5.0  # nothing to drop this long: the reaper ends (a room left, bench soak)


class _Reaper:
    """Drops native buffers for the FFI thread, from a daemon thread of its own; the
    thread ends after :data:`REAPER_IDLE_S` with nothing to drop (no room, nothing left
    over) and starts again with the next buffer."""

    def __init__(self) -> None:
        self._handles: collections.deque[int] = collections.deque()
        self._wake = threading.Event()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        self.failed = 0  # drops livekit refused (a handle it no longer had)

    def start(self) -> None:
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="livekit-buffer-reaper",
                                                daemon=True)
                self._thread.start()

    def put(self, handles: list[int]) -> None:
        """Queue buffers to drop (any thread; never lets go of the GIL in the common case)."""
        if handles:
            self._handles.extend(handles)
            if not self._wake.is_set():
                self._wake.set()
            if self._thread is None:  # ended while idle: a buffer in flight after it
                self.start()

    @property
    def pending(self) -> int:
        return len(self._handles)

    def _run(self) -> None:
        name_this_thread()
        while True:
            if not self._wake.wait(REAPER_IDLE_S):
                with self._start:  # nothing came: end, unless something just did
                    ending = not self._handles and not self._wake.is_set()
                    if ending:
                        self._thread = None
                if not ending:
                    continue
                if self._handles:  # put() saw this thread still set: start the next one
                    self.start()
                return
            time.sleep(REAP_EVERY_S)  # let a batch gather
            self._wake.clear()  # what arrives from here on sets it again
            self.drain()

    def drain(self) -> None:
        handles = self._handles
        while True:
            try:
                handle = handles.popleft()
            except IndexError:
                return
            try:
                FfiHandle(handle).dispose()
            except Exception as exc:  # the thread must go on: a dead reaper leaks them all
                self.failed += 1
                if self.failed == 1:
                    _log.warning("livekit refused to drop a frame buffer: %r", exc)


class _Router:
    """The one subscriber to livekit's event queue that feeds every tap.

    Locks: livekit calls the filter holding its queue's lock, and the filter takes
    ``_lock``; so nothing holding ``_lock`` may call into livekit (subscribe, unsubscribe,
    dropping a handle). Subscribing and unsubscribing are serialised by ``_manage`` instead,
    which the filter never takes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._manage = threading.Lock()
        self._taps: dict[int, TrackTap] = {}
        self._creating = 0
        self._early: list[Any] = []
        self._closed: collections.deque[int] = collections.deque(maxlen=64)
        self._queue: Any = None

    def begin_create(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._manage:
            with self._lock:
                self._creating += 1
            _reaper.start()
            if self._queue is None:
                # The filter does all the work and always answers False: nothing is queued.
                self._queue = FfiClient.instance.queue.subscribe(loop, self._on_event)

    def end_create(self, handle: int | None, tap: TrackTap | None) -> None:
        """The stream exists (or failed): replay what arrived before its handle was known."""
        drop: list[int] = []
        with self._manage:
            with self._lock:
                self._creating -= 1
                if handle is not None and tap is not None:
                    self._taps[handle] = tap
                    for event in self._early:
                        if event.stream_handle == handle:
                            drop.extend(tap._take(event))
                    self._early = [e for e in self._early if e.stream_handle != handle]
                if self._creating == 0:
                    self._early.clear()  # other streams' events (livekit's own AudioStreams)
                idle = not self._taps and self._creating == 0
            self._unsubscribe_if(idle)
        _dispose(drop)

    def detach(self, handle: int) -> None:
        with self._manage:
            with self._lock:
                if self._taps.pop(handle, None) is not None:
                    self._closed.append(handle)
                idle = not self._taps and self._creating == 0
            self._unsubscribe_if(idle)

    def _unsubscribe_if(self, idle: bool) -> None:
        if idle and self._queue is not None:
            FfiClient.instance.queue.unsubscribe(self._queue)
            self._queue = None

    def _on_event(self, event: proto_ffi.FfiEvent) -> bool:
        if event.WhichOneof("message") != "audio_stream_event":
            return False
        stream_event = event.audio_stream_event
        drop: list[int] = []
        with self._lock:
            tap = self._taps.get(stream_event.stream_handle)
            if tap is not None:
                drop = tap._take(stream_event)
            elif stream_event.stream_handle in self._closed:
                drop = _buffer_of(stream_event)  # in flight when its tap closed
            elif self._creating and len(self._early) < EARLY_LIMIT:
                self._early.append(stream_event)
        _dispose(drop)
        return False


def _buffer_of(event: proto_audio.AudioStreamEvent) -> list[int]:
    return [event.frame_received.frame.handle.id] if event.HasField("frame_received") else []


_reaper = _Reaper()
_dispose = _reaper.put
_router = _Router()


def open_taps() -> int:
    """How many taps are attached now (for leak checks: 0 once every channel is closed)."""
    return len(_router._taps)


class TrackTap:
    """A bounded queue of int16 mono blocks of one track; drained by the mixer.

    The :class:`~console.engine.block_source.BlockSource` of a live track.
    Create it on a running event loop (any: the router needs none of it). ``capacity``
    blocks wait at most; beyond that the oldest is dropped and counted (a mixer that
    stopped pulling must not grow memory). livekit cuts the stream into ``frame_ms``
    blocks: 20 ms halves the events (and the work per event) of 10 ms, for 10 ms more
    latency.
    """

    def __init__(self, track: rtc.Track, *, capacity: int, sample_rate: int = SAMPLE_RATE,
                 frame_ms: int = 10) -> None:
        self._blocks: collections.deque[Block] = collections.deque()
        self._capacity = capacity
        self.frame_ms = frame_ms
        self.dropped = 0
        self.ended = False
        self._handle: FfiHandle | None = None
        request = proto_ffi.FfiRequest()
        new = request.new_audio_stream
        new.track_handle = track._ffi_handle.handle
        new.sample_rate = sample_rate
        new.num_channels = 1
        new.queue_size_frames = 0
        new.frame_size_ms = frame_ms
        new.type = proto_audio.AudioStreamType.AUDIO_STREAM_NATIVE
        _router.begin_create(asyncio.get_running_loop())
        handle_id: int | None = None
        try:
            response = FfiClient.instance.request(request)
            handle_id = response.new_audio_stream.stream.handle.id
            self._handle = FfiHandle(handle_id)
        finally:
            _router.end_create(handle_id, self if handle_id is not None else None)

    # -- FFI thread (under the router's lock) ------------------------------------------------
    def _take(self, event: proto_audio.AudioStreamEvent) -> list[int]:
        """Keep a frame's samples; returns the native buffer for the caller to drop."""
        if event.HasField("frame_received"):
            owned = event.frame_received.frame
            if not self.ended:
                info = owned.info
                count = info.samples_per_channel * info.num_channels
                samples = np.frombuffer(ctypes.string_at(info.data_ptr, count * 2),
                                        dtype=np.int16)
                if len(self._blocks) >= self._capacity:
                    self._pop_oldest()
                self._blocks.append((time.monotonic(), samples))
            return [owned.handle.id]
        if event.HasField("eos"):
            self.ended = True
        return []

    def _pop_oldest(self) -> None:
        try:
            self._blocks.popleft()
        except IndexError:  # the mixer drained it meanwhile
            return
        self.dropped += 1

    # -- any thread ---------------------------------------------------------------------------
    def drain(self) -> list[Block]:
        """Every block that arrived since the last call, oldest first."""
        out: list[Block] = []
        blocks = self._blocks
        while True:
            try:
                out.append(blocks.popleft())
            except IndexError:
                return out

    @property
    def queued(self) -> int:
        """Blocks waiting to be drained."""
        return len(self._blocks)

    def close(self) -> None:
        """Stop the native stream; later events are ignored. Idempotent."""
        handle, self._handle = self._handle, None
        self.ended = True
        if handle is not None:
            handle.dispose()  # the native stream ends; then no new events are made for it
            _router.detach(handle.handle)
        self._blocks.clear()
