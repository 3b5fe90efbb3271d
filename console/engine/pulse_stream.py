"""Our streams on a sound server's sink or source, through libpulse itself.

Why not PortAudio's ``pulse`` device (ALSA's PulseAudio plug-in): PortAudio 19.6 (Debian 12,
Ubuntu 22.04 and 24.04) loops for ever in ``PaAlsaStream_WaitForFrames`` when the plug-in
reports an error while part of a period is still unread, which is what happens when the
source of a running stream goes away: its callback thread then spins a core, writes
"capture.ready" to stderr millions of times a second and can no longer be aborted.
Measured on the virtual card (tests/test_pulse_devices.py, docs/ARCHITECTURE.md).

Here a stream is libpulse's simple API (``libpulse-simple.so.0``, part of every libpulse)
driven by a thread of ours in 10 ms blocks: the stream is created on the chosen device
by name, an error ends the thread and calls ``finished_callback`` (as PortAudio does), and
abort is a flag the thread sees within one block. The object looks like a sounddevice
stream to :class:`~console.engine.device_stream.DeviceStream`: ``start``, ``stop``,
``abort``, ``close``, ``active``, ``latency`` and ``callback(data, frames, time, status)``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from console.engine.play_time import PlaybackTime
from console.os_thread_name import name_this_thread

APP_NAME = b"LiveKit Console"
JOIN_S = 1.0             # an abort waits this long for the thread (one block, normally)
LOW_OUTPUT_MS = 30.0     # "low": what the server is asked to hold for our playback (at 20 ms
#                          its threads woke three times as often: docs/BENCHMARKS.md)
HIGH_OUTPUT_MS = 80.0
INPUT_FRAGMENT_MS = 10.0  # the server hands capture over in blocks of this much
MAX_BLOCKS_PER_READ = 4   # a capture stream reads at most this many blocks at once

_S16LE = 3
_PLAYBACK, _RECORD = 1, 2
_NO_VALUE = 0xFFFFFFFF    # (uint32_t) -1: "the server's default" in pa_buffer_attr
_NO_LATENCY = 2**64 - 1   # (pa_usec_t) -1: pa_simple_get_latency failed


class PulseStreamError(RuntimeError):
    """The server refused the stream (no such device, server gone, ...)."""


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32),
                ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [("maxlength", ctypes.c_uint32), ("tlength", ctypes.c_uint32),
                ("prebuf", ctypes.c_uint32), ("minreq", ctypes.c_uint32),
                ("fragsize", ctypes.c_uint32)]


class _Status:
    """No PortAudio status flags: libpulse's simple API reports none (falsy, as PortAudio's
    empty flags are)."""

    input_underflow = input_overflow = output_underflow = output_overflow = False
    priming_output = False

    def __bool__(self) -> bool:
        return False


NO_STATUS = _Status()

_lib: Any = None
_strerror: Any = None
_lib_lock = threading.Lock()


def _libs() -> tuple[Any, Any]:
    """libpulse-simple and pa_strerror, loaded once (PulseStreamError if absent)."""
    global _lib, _strerror
    with _lib_lock:
        if _lib is None:
            simple = ctypes.util.find_library("pulse-simple") or "libpulse-simple.so.0"
            core = ctypes.util.find_library("pulse") or "libpulse.so.0"
            try:
                lib, base = ctypes.CDLL(simple), ctypes.CDLL(core)
            except OSError as exc:
                raise PulseStreamError(f"libpulse is not installed: {exc}") from exc
            lib.pa_simple_new.restype = ctypes.c_void_p
            lib.pa_simple_new.argtypes = [
                ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                ctypes.c_char_p, ctypes.POINTER(_SampleSpec), ctypes.c_void_p,
                ctypes.POINTER(_BufferAttr), ctypes.POINTER(ctypes.c_int)]
            for fn in ("pa_simple_read", "pa_simple_write"):
                getattr(lib, fn).restype = ctypes.c_int
                getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                             ctypes.POINTER(ctypes.c_int)]
            lib.pa_simple_get_latency.restype = ctypes.c_uint64
            lib.pa_simple_get_latency.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
            lib.pa_simple_free.restype = None
            lib.pa_simple_free.argtypes = [ctypes.c_void_p]
            base.pa_strerror.restype = ctypes.c_char_p
            base.pa_strerror.argtypes = [ctypes.c_int]
            _lib, _strerror = lib, base.pa_strerror
        return _lib, _strerror


def _why(code: int) -> str:
    text = _libs()[1](code)
    return text.decode(errors="replace").lower() if text else f"error {code}"


def output_ms(latency: str | float) -> float:
    """What a PortAudio-style latency ("low", "high", seconds) asks of the server, in ms."""
    if latency == "low":
        return LOW_OUTPUT_MS
    if latency == "high":
        return HIGH_OUTPUT_MS
    return max(LOW_OUTPUT_MS, float(latency) * 1000.0)


class PulseStream:
    """One playback or capture stream on server device ``device`` (its name), ``blocksize``
    frames of int16 per callback, as a sounddevice stream would call it. A playback stream
    writes its first block once ``ready()`` is true (given: polled every millisecond).
    A capture stream reads ``blocks_per_read()`` blocks at a time (asked before each read,
    at most :data:`MAX_BLOCKS_PER_READ`): fewer wake-ups while only a meter looks."""

    def __init__(self, kind: str, device: str, *, samplerate: int, channels: int,
                 blocksize: int, callback: Callable[..., None],
                 finished_callback: Callable[[], None] | None = None,
                 latency: str | float = "low", stream_name: str = "",
                 ready: Callable[[], bool] | None = None,
                 blocks_per_read: Callable[[], int] | None = None) -> None:
        lib, _ = _libs()
        self.kind = kind
        self._callback = callback
        self._finished = finished_callback
        self._ready = ready
        self._per_read = blocks_per_read
        self._block = blocksize
        self._channels = channels
        self._bytes = blocksize * channels * 2
        spec = _SampleSpec(_S16LE, samplerate, channels)
        frame_bytes = channels * 2
        if kind == "output":
            ms = output_ms(latency)
            # No prebuffering: after running dry (this process froze) the server skips
            # what it missed instead of delaying all that follows, so every sample plays
            # at a fixed place on one timeline and the echo path never moves (with the
            # default, it grew by the gap at each freeze: docs/ARCHITECTURE.md).
            attr = _BufferAttr(_NO_VALUE, int(samplerate * ms / 1000.0) * frame_bytes,
                               0, self._bytes, _NO_VALUE)
            direction = _PLAYBACK
        else:
            ms = INPUT_FRAGMENT_MS
            attr = _BufferAttr(_NO_VALUE, _NO_VALUE, _NO_VALUE, _NO_VALUE,
                               int(samplerate * ms / 1000.0) * frame_bytes)
            direction = _RECORD
        self.latency = ms / 1000.0
        err = ctypes.c_int(0)
        name = (stream_name or ("Playback" if kind == "output" else "Microphone")).encode()
        handle = lib.pa_simple_new(None, APP_NAME, direction, device.encode(), name,
                                   ctypes.byref(spec), None, ctypes.byref(attr),
                                   ctypes.byref(err))
        if not handle:
            raise PulseStreamError(f"the sound server refused the {kind} stream on "
                                   f"{device!r}: {_why(err.value)}")
        self._handle: int | None = handle
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None  # why the thread ended by itself

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._handle is None or self._thread is not None:
            raise PulseStreamError("the stream is closed" if self._handle is None
                                   else "the stream is already started")
        name = "pulse-out" if self.kind == "output" else "pulse-in"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def abort(self) -> None:
        """Stop within one block; the thread frees the stream as it leaves."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_S)

    stop = abort

    def close(self) -> None:
        self.abort()
        if self._thread is None:  # never started: nobody else frees it
            self._free()

    def _free(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            _libs()[0].pa_simple_free(handle)

    def _run(self) -> None:
        name_this_thread()
        lib, _ = _libs()
        handle = self._handle
        err = ctypes.c_int(0)
        # A capture stream may read several blocks at once (blocks_per_read).
        rows = self._block * (MAX_BLOCKS_PER_READ if self.kind != "output" else 1)
        data = np.zeros((rows, self._channels), dtype=np.int16)
        pointer, size, block, callback = data.ctypes.data, self._bytes, self._block, \
            self._callback
        try:
            if self.kind == "output":
                # Nothing is written before the owner's hand-over (``ready``): what is written
                # is queued ahead of the voices, and a switch would be heard as that silence.
                while self._ready is not None and not self._ready() and not self._stop.is_set():
                    time.sleep(0.001)
                # When the blocks play, for the echo reference (play_time): the latency
                # read right after a write says when all that was written ends playing.
                timing = PlaybackTime()
                latency = lib.pa_simple_get_latency
                while not self._stop.is_set():
                    callback(data, block, timing, NO_STATUS)
                    if lib.pa_simple_write(handle, pointer, size, ctypes.byref(err)) < 0:
                        self.error = _why(err.value)
                        break
                    # The clock is read before the call: after it, taking the GIL back
                    # may wait for another thread, and the sum would come out late.
                    asked = time.monotonic()
                    usec = latency(handle, ctypes.byref(err))
                    timing.played_until = None if usec == _NO_LATENCY else asked + usec * 1e-6
            else:
                per_read = self._per_read
                while not self._stop.is_set():
                    n = 1 if per_read is None else max(1, min(MAX_BLOCKS_PER_READ, per_read()))
                    if lib.pa_simple_read(handle, pointer, size * n, ctypes.byref(err)) < 0:
                        self.error = _why(err.value)
                        break
                    callback(data[:block * n], block * n, None, NO_STATUS)
        finally:
            self._free()
            if self._finished is not None:
                self._finished()
