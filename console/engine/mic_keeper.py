"""Keeping the chosen microphone: fall back when it goes, reopen it when it comes back.

When the open input goes away (its stream ends by itself: unplugged; or it cannot be reopened
after the device lists were re-read) the keeper closes the dead stream and opens the default
input in its place, if there is one other than the missing device and falling back is
allowed; otherwise the chain sends silence and the keeper waits. The chosen input is tried
again when the device lists change (the :class:`~console.engine.device_watch.DeviceWatch`
this thread runs sees a USB device come and go; F5 re-reads them by hand), and then wins.

Not on a timer: a sound server's device (ALSA's ``pulse`` plugin) stays in PortAudio's list
while its source is gone, so a timed retry opens a stream on a missing source every second,
and on the virtual card that left PortAudio's ALSA thread spinning (an endless
"capture.ready || playback.ready" on stderr, gigabytes of it, and an abort that never
returned) in 3 of 4 runs of the unplug tests; with retries only on a re-listing, in none.
A hardware device leaves and rejoins the list, which the watch notices.

Why a thread of its own, not the window's display tick nor the media loop: opening a stream
(about 7 ms on pulse) or re-reading PortAudio's list (about 75 ms) blocks, which the media
loop's 10 ms frames and the window's 8 ms lag budget cannot spare; and the headless monitor,
which has no display tick, keeps its microphone too. The window only reads
:meth:`MicKeeper.state`. Every device change in the engine (this thread's, the user's choice,
a re-listing) holds one lock, so they happen one at a time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from console.engine.device_stream import DeviceStream
from console.engine.device_watch import DeviceWatch
from console.engine.devices import AudioDevice, DeviceError
from console.engine.mic_state import MicAction, MicState, MicStatus, describe
from console.os_thread_name import name_this_thread

TICK_S = 0.1    # how soon a device that went away is acted on
NEVER = math.inf
WATCH_S = 1.0   # how often the device lists' sources are read (DeviceWatch)

_log = logging.getLogger(__name__)

Spec = str | int | None


@dataclass(frozen=True, slots=True)
class _Record:
    """The keeper's side of the state, replaced whole (read from any thread)."""

    chosen: str | None = None         # name to reopen; None: the default input
    missing: str | None = None
    unplugged: bool = False
    action: MicAction = MicAction.NONE
    since: float | None = None
    message: str = ""


class MicKeeper:
    """Watches one input stream and keeps the user's chosen device open when it can."""

    def __init__(self, stream: DeviceStream, *, open_: Callable[[Spec], AudioDevice],
                 close: Callable[[], None], default_input: Callable[[], AudioDevice],
                 refresh: Callable[[], None], lock: threading.RLock, fallback: bool = True,
                 watch: DeviceWatch | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 labels: dict[str, str] | None = None) -> None:
        self._stream = stream
        self._open = open_
        self._close = close
        self._default_input = default_input
        self._refresh = refresh
        self.lock = lock
        self._fallback_allowed = fallback
        self._watch = watch
        self._clock = clock
        self._chosen: str | None = None
        self._chosen_name = "the default input"
        # device name -> what the desktop calls it (``labels``: remembered from an earlier
        # run, for a device that is gone before it was ever listed in this one)
        self._shown: dict[str, str] = dict(labels or {})
        self._missing: str | None = None
        self._unplugged = False
        self._since: float | None = None
        self._may_fall_back = False
        self._fallback: str | None = None
        self._failures_seen = stream.failures
        now = clock()
        self._next_retry = NEVER  # a missing input is tried when the lists change
        self._next_watch = now + WATCH_S
        self._record = _Record()
        self._stop = threading.Event()
        self._paused = False  # the engine rests: no device is opened behind its back
        self._thread: threading.Thread | None = None

    # -- the thread ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        # A daemon: a PortAudio call stuck in native code must not hold up the exit.
        self._thread = threading.Thread(target=self._run, name="mic-keeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """End the thread (never call it holding :attr:`lock`)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        name_this_thread()
        while not self._stop.wait(TICK_S):
            try:
                self.step()
            except Exception:  # a bug here must not end the watch
                _log.exception("the microphone keeper failed a step")

    # -- what the engine tells it (under :attr:`lock`, from the caller's thread) --------------
    def chose(self, spec: Spec, dev: AudioDevice) -> None:
        """``dev`` was opened for the user's ``spec``: it is the one to keep from now on."""
        with self.lock:
            self._chosen = None if spec is None or spec == "default" else dev.name
            self._chosen_name = dev.name
            self._note(dev)
            self._back()

    def unavailable(self, spec: Spec) -> bool:
        """The user's ``spec`` could not be opened at start: open the default input in its
        place (when the keeper may fall back) and wait for it; it stays the choice.

        Returns whether an input is open now."""
        with self.lock:
            default = spec is None or spec == "default"
            self._chosen = None if default else str(spec)
            self._chosen_name = "the default input" if default else str(spec)
            self._lose(self._clock(), unplugged=False,
                       fall_back=self._fallback_allowed and not default)
            return self._stream.is_open

    def choice_failed(self) -> None:
        """Opening another input failed; if that closed the current one, reopen it."""
        with self.lock:
            if not self._stream.is_open and self._missing is None:
                self._lose(self._clock(), unplugged=False, fall_back=False)
                self._may_fall_back = self._fallback_allowed
                self._retry()  # the chosen first, then (if allowed) the default
                self._publish()

    def pause(self, on: bool) -> None:
        """While paused the keeper opens nothing (the engine rests with the input closed
        on purpose); what it should retry waits until it resumes."""
        with self.lock:
            self._paused = bool(on)

    def retry_soon(self, after: float = 0.0) -> None:
        """The device lists were re-read: a missing input may be back, try it at the first
        tick ``after`` seconds from now."""
        self._next_retry = self._clock() + after

    # -- one look (the thread's, or a test's) -------------------------------------------------
    def step(self) -> None:
        now = self._clock()
        with self.lock:
            if self._paused:
                return
            if self._watch is not None and now >= self._next_watch:
                self._next_watch = now + WATCH_S
                if self._watch.poll():
                    self._refresh()  # reopens the open input by name; its failure counts
                    self._next_retry = now
            stream = self._stream
            if stream.failures != self._failures_seen:
                self._failures_seen = stream.failures
                if stream.failed:  # not reopened meanwhile (a re-listing)
                    self._close()
                    self._fallback = None
                    if self._missing is None:  # the chosen input went (else the fallback)
                        self._lose(now, unplugged=True, fall_back=self._fallback_allowed)
                    elif self._may_fall_back:
                        self._fall_back()
                    self._publish()
            if self._missing is not None and now >= self._next_retry:
                self._next_retry = NEVER
                self._retry()
                self._publish()

    # -- reading (any thread) -----------------------------------------------------------------
    def state(self, now: float) -> MicState:
        """The keeper's record with the stream as it is now."""
        r = self._record
        stream = self._stream
        dev = stream.device
        if dev is None or not stream.is_open or stream.failed:
            status, name = MicStatus.NO_DEVICE, None
        else:
            status = MicStatus.LIVE if stream.alive(now) else MicStatus.STALLED
            name = dev.name
        return MicState(status=status, device=name, chosen=r.chosen, missing=r.missing,
                        unplugged=r.unplugged, action=r.action, since=r.since,
                        error=stream.report(now), message=r.message)

    # -- internals (under :attr:`lock`) -------------------------------------------------------
    def _lose(self, now: float, *, unplugged: bool, fall_back: bool) -> None:
        self._missing = self._chosen_name
        self._unplugged = unplugged
        self._since = now
        self._may_fall_back = fall_back
        self._next_retry = NEVER
        _log.warning("microphone %r %s", self._missing,
                     "went away" if unplugged else "is not available")
        if fall_back:
            self._fall_back()
        self._publish()

    def _fall_back(self) -> None:
        """Open the default input in place of the missing one, if it is another device."""
        try:
            dev = self._default_input()
            if dev.name == self._missing:
                return  # the default is what went: wait for it
            opened = self._open(dev.name)
        except DeviceError as exc:
            _log.info("no default input to fall back to: %s", exc)
            return
        self._fallback = opened.name
        self._note(opened)
        _log.warning("microphone: fell back to %r", opened.name)

    def _retry(self) -> None:
        """Try the chosen input again; while nothing is open, the default input too."""
        try:
            dev = self._open(self._chosen)
        except DeviceError:
            if self._may_fall_back and not self._stream.is_open:
                self._fallback = None
                self._fall_back()
            return
        self._chosen_name = dev.name
        self._note(dev)
        _log.warning("microphone %r is back: reopened", dev.name)
        self._back()

    def _back(self) -> None:
        self._missing = None
        self._unplugged = False
        self._since = None
        self._fallback = None
        self._may_fall_back = False
        self._publish()

    def _publish(self) -> None:
        if self._missing is None:
            action = MicAction.NONE
        elif self._fallback is not None and self._stream.is_open:
            action = MicAction.FELL_BACK
        else:
            action = MicAction.WAITING
        self._record = _Record(
            chosen=self._chosen, missing=self._missing, unplugged=self._unplugged,
            action=action, since=self._since,
            message=describe(self._label(self._missing), self._unplugged, action,
                             self._label(self._fallback)))

    def _note(self, dev: AudioDevice) -> None:
        if dev.backend == "pulse" and dev.description:  # the sound server's own name
            self._shown[dev.name] = dev.description

    def _label(self, name: str | None) -> str | None:
        return None if name is None else self._shown.get(name, name)
