"""One device stream at a time, for a chain that outlives it (the microphone, the output).

The chain behind a device (the AudioSource, the mixer and its channels) must keep running
while the device changes, fails or goes away; so the stream is a replaceable part:

* Every stream gets a generation number, and its callbacks carry it. Opening another stream
  or closing this one moves the generation on first, so a callback of an old stream that is
  still running on PortAudio's thread (``abort`` does not wait for it) does nothing.
* A stream that PortAudio ends by itself (its device was unplugged: the callback thread
  exits and ``finished_callback`` fires, no exception anywhere) is reported in :attr:`error`.
* A stream that simply stops calling back (a stalled server, a device that went silent) is
  noticed by the time since its last callback: after :data:`STALL_S` the device counts as
  not alive, and the owner runs on the engine's own clock (silence in, mixer drained) so
  counters, meters and the published track keep going.
* Each time the device fails under its owner (the stream ended by itself, or it could not
  be reopened after a re-listing) :attr:`failures` counts up, so a watcher on another thread
  (``mic_keeper``) acts once per failure without being called from PortAudio's thread.

The owner opens the stream itself (only it knows its callback), through a factory this class
calls with the generation and the finished callback.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from console.engine import devices, pulse_route

STALL_S = 0.5  # no callback for this long: the device is not alive

# (generation, finished callback) -> an unstarted sounddevice stream
StreamFactory = Callable[[int, Callable[[], None]], Any]


class DeviceStream:
    """The current stream of one direction, its device, and what went wrong with it.

    ``stopped`` and ``silent`` complete the error messages: ``f"{kind} 'x' {stopped}
    (unplugged?)"`` and ``f"{kind} 'x' has not {silent} for 0.5 s"``.
    """

    def __init__(self, kind: devices.Kind, *, stopped: str, silent: str) -> None:
        self.kind = kind
        self._stopped = stopped
        self._silent = silent
        self.lock = threading.RLock()  # open, close and reopen, from any thread
        self.gen = 0  # callbacks of any other generation are ignored
        self.device: devices.AudioDevice | None = None
        self.error: str | None = None
        self.failures = 0  # the device failed under us (not a failed open): see the docstring
        self.latency_s = 0.0  # what PortAudio reported for the current (or last) stream
        self.last_callback: float | None = None  # set by the owner's callback
        self.server_stream: int | None = None  # on the sound server (pulse devices)
        self._stream: Any = None
        self._opened_at = time.monotonic()

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    def open(self, dev: devices.AudioDevice, make: StreamFactory, *,
             before_start: Callable[[], None] | None = None) -> None:
        """Replace the current stream by ``make(...)`` on ``dev`` and start it.

        The new stream is created and started while the old one keeps running (its
        callbacks idle until the hand-over); then ``before_start`` runs, the generation
        moves to it and the old one is closed. If the new one cannot be created or
        started, the old one plays on. A sound
        server's device (``dev.backend == "pulse"``) gets the owner's libpulse stream
        (:mod:`console.engine.pulse_stream`); its index on the server is looked up
        (:mod:`console.engine.pulse_route`). Raises
        :class:`~console.engine.devices.DeviceError`.
        """
        with self.lock:
            if dev.backend == "pulse":
                router = pulse_route.route()
                with router.placing:  # our new stream is told apart from the others
                    before = set(router.ours(self.kind))
                    self._open(dev, make, before_start)
                    try:
                        self.server_stream = router.place(self.kind, dev.name, before)
                    except devices.DeviceError:
                        self.close()
                        raise
            else:
                self._open(dev, make, before_start)

    def _open(self, dev: devices.AudioDevice, make: StreamFactory,
              before_start: Callable[[], None] | None) -> None:
        with self.lock:
            gen = self.gen + 1
            try:
                stream = make(gen, self._finished(gen, dev))
            except Exception as exc:
                raise devices.DeviceError(f"cannot open {self.kind} {dev.name!r}: {exc}") \
                    from exc
            # The new stream starts while the old one still plays (its callbacks idle until
            # the generation moves): a switch is heard as the hand-over alone, not as the
            # new device's start-up (10-50 ms on PulseAudio, measured by `bench devices`).
            try:
                stream.start()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    stream.close()
                message = f"cannot start {self.kind} {dev.name!r}: {exc}"
                if self._stream is None:  # nothing plays on: say so
                    self.device = None
                    self.error = message
                raise devices.DeviceError(message) from exc
            self.server_stream = None
            if before_start is not None:
                before_start()
            old, self._stream = self._stream, None
            self.gen = gen  # the hand-over: from here the new stream's callbacks run
            self._abort_stream(old)
            self._stream = stream
            self.device = dev
            self.error = None
            self.last_callback = None
            self.latency_s = float(stream.latency)
            self._opened_at = time.monotonic()

    def reopen(self, name: str, open_: Callable[[str], object]) -> None:
        """Open ``name`` again with the owner's ``open_`` (after PortAudio re-read its list);
        if it is gone, say so in :attr:`error` and leave the owner on the engine's clock."""
        with self.lock:
            try:
                open_(name)
            except devices.DeviceError as exc:
                self.device = None
                self.error = str(exc)
                self.failures += 1

    def lose(self, message: str) -> None:
        """The device went away under the stream (the sound server said so before, or
        instead of, PortAudio): close it and count a failure, as if it had ended."""
        with self.lock:
            if self._stream is None:
                return
            self._abort()
            self.error = message
            self.failures += 1

    def close(self) -> None:
        """Close the stream; the owner goes on, on the engine's own clock."""
        with self.lock:
            self._abort()
            self.device = None
            self.server_stream = None

    def _abort(self) -> None:
        self.gen += 1  # from here on the old stream's callbacks do nothing
        stream, self._stream = self._stream, None
        self._abort_stream(stream)

    @staticmethod
    def _abort_stream(stream: Any) -> None:
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.abort()
                stream.close()

    def _finished(self, gen: int, dev: devices.AudioDevice) -> Callable[[], None]:
        def finished() -> None:
            if gen == self.gen:  # not closed by us: the device went away
                self.error = f"{self.kind} {dev.name!r} {self._stopped} (unplugged?)"
                self.failures += 1
        return finished

    # -- reading (any thread) -----------------------------------------------------------------
    def alive(self, now: float) -> bool:
        """A stream is open, has not failed, and called back within :data:`STALL_S`."""
        if self._stream is None or self.error is not None:
            return False
        last = self.last_callback if self.last_callback is not None else self._opened_at
        return now - last <= STALL_S

    @property
    def failed(self) -> bool:
        """The device went away under us (its stream ended, or reopening it failed)."""
        return self.error is not None

    def stalled(self, now: float) -> bool:
        """A stream is open but not alive (failed or silent)."""
        return self._stream is not None and not self.alive(now)

    def report(self, now: float) -> str | None:
        """What is wrong with the device now, in words; None when nothing is."""
        if self.error is not None:
            return self.error
        if self.stalled(now):
            name = self.device.name if self.device is not None else "?"
            return f"{self.kind} {name!r} has not {self._silent} for {STALL_S:.1f} s"
        return None
