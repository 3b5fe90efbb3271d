"""Putting our own streams on the sink or source the user chose, through the server.

PortAudio opens a server device only as its ``pulse`` device (ALSA's PulseAudio plug-in),
which plays on the default of the client it creates at open. So the chosen device is made
that client's default for the open (``PULSE_SINK`` / ``PULSE_SOURCE`` in the environment,
read by libpulse when the plug-in connects), and the stream is checked on the server after
its start (moved there if it is not). The plug-in creates its server stream again whenever
ALSA recovers from an underrun or overrun, on the client's default: set at open, that keeps
it where it was opened.

A switch during a call opens a new stream on the new device while the old one plays, then
swaps them (``DeviceStream.open``). Moving our stream on the server instead was measured
and refused: the plug-in's stream then fell silent for about 0.6 s, until an underrun made
the plug-in create it again (on the device it was opened on: the move undone).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
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

    @contextlib.contextmanager
    def targeting(self, kind: Kind, name: str) -> Iterator[None]:
        """While PortAudio opens a stream: the client it creates takes device ``name`` as
        its default (hold :attr:`placing`)."""
        var = "PULSE_SINK" if kind == "output" else "PULSE_SOURCE"
        was = os.environ.get(var)
        os.environ[var] = name
        try:
            yield
        finally:
            if was is None:
                del os.environ[var]
            else:
                os.environ[var] = was

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
