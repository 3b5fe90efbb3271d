"""Following the sound server's devices as they come and go, from its own events.

A thread of its own holds a pulsectl connection subscribed to sink, source, card and server
events (a device plugged in or out, a Bluetooth profile switched, the default changed). An
event is followed by a short quiet wait (a headset brings a card, a sink and a source in a
few milliseconds) and one re-listing; the list is published whole and ``version`` moves.
PortAudio is never re-initialised for it, so nothing that plays stops.

When the server goes away the list empties and the thread tries again every
``RETRY_S``; :attr:`PulseWatch.connected` says which.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from console.engine.pulse_devices import PulseUnavailable, ServerDevice, connect, list_devices
from console.os_thread_name import name_this_thread

log = logging.getLogger(__name__)

SETTLE_S = 0.05   # after an event, wait this long for the rest of a plug-in's events
RETRY_S = 2.0     # the server gone: try to reconnect this often

Listener = Callable[[tuple[ServerDevice, ...], tuple[ServerDevice, ...]], None]


class PulseWatch:
    """The server's devices, kept current; ``listeners`` are called (on the watch's
    thread) with the old and the new list after every change."""

    def __init__(self, *, monitors: bool = False) -> None:
        self.monitors = monitors
        self.listeners: list[Listener] = []
        self._devices: tuple[ServerDevice, ...] = ()
        self._appeared: dict[tuple[str, str], float] = {}  # when each was first listed
        self._version = 0
        self._connected = False
        self._stop = threading.Event()
        self._pulse: Any = None
        self._pulse_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- any thread ---------------------------------------------------------------------------
    @property
    def devices(self) -> tuple[ServerDevice, ...]:
        return self._devices

    @property
    def version(self) -> int:
        """Moves whenever the list changed."""
        return self._version

    def listed_for(self, kind: str, name: str) -> float:
        """Seconds since the device was first listed (inf for one there at the start)."""
        appeared = self._appeared.get((kind, name))
        return time.monotonic() - appeared if appeared is not None else math.inf

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self, timeout: float = 2.0) -> bool:
        """Start following; whether the server answered within ``timeout``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pulse-watch",
                                            daemon=True)
            self._thread.start()
        self._ready.wait(timeout)
        return self._connected

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        # pulsectl's stop only wakes a poll already running: ask until the thread is out
        end = time.monotonic() + timeout
        while thread.is_alive() and time.monotonic() < end:
            with self._pulse_lock:
                if self._pulse is not None:
                    with contextlib.suppress(Exception):
                        self._pulse.event_listen_stop()
            thread.join(0.02)

    # -- the watch's thread -------------------------------------------------------------------
    def _run(self) -> None:
        name_this_thread()
        while not self._stop.is_set():
            try:
                pulse = connect("livekit-console-watch")
            except PulseUnavailable:
                self._set((), connected=False)
                self._ready.set()
                self._stop.wait(RETRY_S)
                continue
            try:
                self._follow(pulse)
            except Exception as exc:  # the server went away (PulseDisconnected) or broke
                if not self._stop.is_set():
                    log.info("sound server connection lost: %s", exc)
            finally:
                with self._pulse_lock:
                    self._pulse = None
                with contextlib.suppress(Exception):
                    pulse.close()
            if not self._stop.is_set():
                self._set((), connected=False)
                self._stop.wait(RETRY_S)

    def _follow(self, pulse: Any) -> None:
        import pulsectl

        pending: list[bool] = []

        def on_event(_event: Any) -> None:
            pending.append(True)
            raise pulsectl.PulseLoopStop

        pulse.event_mask_set("sink", "source", "card", "server")
        pulse.event_callback_set(on_event)
        with self._pulse_lock:
            self._pulse = pulse
        self._set(tuple(list_devices(pulse, monitors=self.monitors)), connected=True)
        self._ready.set()
        while not self._stop.is_set():
            pulse.event_listen()            # until an event (or stop)
            if self._stop.is_set():
                return
            while pending:                  # the rest of a plug-in's burst, then list once
                pending.clear()
                pulse.event_listen(timeout=SETTLE_S)
            self._set(tuple(list_devices(pulse, monitors=self.monitors)), connected=True)

    def _set(self, devices: tuple[ServerDevice, ...], *, connected: bool) -> None:
        old = self._devices
        self._connected = connected
        if devices == old:
            return
        self._devices = devices
        now = time.monotonic()
        seen = self._appeared
        new = now if self._version > 0 else -math.inf  # the first listing: there already
        self._appeared = {(d.kind, d.name): seen.get((d.kind, d.name), new) for d in devices}
        self._version += 1
        for listener in list(self.listeners):
            try:
                listener(old, devices)
            except Exception:
                log.exception("device listener failed")
