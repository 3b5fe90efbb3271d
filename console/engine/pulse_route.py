"""Finding our own streams on the sound server (pulsectl), to tell which is whose.

Our server streams are libpulse streams created on the chosen device by name
(:mod:`console.engine.pulse_stream`); this looks up the index the server gave the newest
one (tests and ``bench devices`` read what reaches a sink by it), and moves it should the
server have put it elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from console.engine.devices import DeviceError, Kind
from console.engine.pulse_devices import PulseUnavailable, connect

FIND_TIMEOUT_S = 1.0


class PulseRoute:
    """One connection to the server for moving this process's streams (thread-safe)."""

    def __init__(self) -> None:
        self._pulse: Any = None
        self._lock = threading.Lock()     # one server call at a time on the connection
        self.placing = threading.Lock()   # an open-and-place at a time (the caller's)
        self._pid = str(os.getpid())

    def _conn(self) -> Any:
        if self._pulse is None:
            try:
                self._pulse = connect("livekit-console-route")
            except PulseUnavailable as exc:
                raise DeviceError(str(exc)) from exc
        return self._pulse

    def _call(self, fn: str, *args: Any) -> Any:
        with self._lock:
            try:
                return getattr(self._conn(), fn)(*args)
            except DeviceError:
                raise
            except Exception as exc:  # the server went away: connect again next time
                self._drop()
                raise DeviceError(f"the sound server did not answer: {exc}") from exc

    def _drop(self) -> None:
        pulse, self._pulse = self._pulse, None
        if pulse is not None:
            with contextlib.suppress(Exception):
                pulse.close()

    def ours(self, kind: Kind) -> dict[int, int]:
        """This process's streams of ``kind`` on the server: stream index -> device index."""
        if kind == "output":
            return {int(s.index): int(s.sink) for s in self._call("sink_input_list")
                    if s.proplist.get("application.process.id") == self._pid}
        return {int(s.index): int(s.source) for s in self._call("source_output_list")
                if s.proplist.get("application.process.id") == self._pid}

    def device_index(self, kind: Kind, name: str) -> int:
        """The server's index of sink / source ``name`` (DeviceError if it is not there)."""
        listed = self._call("sink_list" if kind == "output" else "source_list")
        for dev in listed:
            if dev.name == name:
                return int(dev.index)
        raise DeviceError(f"the sound server has no {'sink' if kind == 'output' else 'source'}"
                          f" named {name!r} (unplugged?)")

    def place(self, kind: Kind, name: str, before: set[int],
              timeout: float = FIND_TIMEOUT_S) -> int:
        """The stream of ours that is not in ``before``, on device ``name`` (moved there
        if it is not); its index. DeviceError if none shows up within ``timeout``."""
        target = self.device_index(kind, name)
        end = time.monotonic() + timeout
        while True:
            mine = self.ours(kind)
            new = [i for i in mine if i not in before]
            if new:
                stream = max(new)   # the ALSA plug-in's newest (the start recreates it)
                if mine[stream] != target:
                    self.move(kind, stream, target)
                return stream
            if time.monotonic() > end:
                raise DeviceError(f"our {kind} stream did not show up on the sound server")
            time.sleep(0.005)

    def move(self, kind: Kind, stream: int, target: int) -> None:
        self._call("sink_input_move" if kind == "output" else "source_output_move",
                   stream, target)


_route: PulseRoute | None = None
_route_lock = threading.Lock()


def route() -> PulseRoute:
    """The process's router (created on first use)."""
    global _route
    with _route_lock:
        if _route is None:
            _route = PulseRoute()
        return _route
