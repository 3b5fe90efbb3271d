"""Joining, leaving and rejoining from a window: the slow parts run off the GUI thread.

Starting the local sandbox takes about a second and a join up to ten; the window must stay
responsive meanwhile. ``RoomController`` runs them on one worker thread; on its display
tick the window reads one ``ConnectionView`` (:meth:`RoomController.view`).

When the room is lost without the user's Leave (the server shut down, or an outage outlasted
the SDK's own reconnection), the controller joins again by itself after 1, 2, 4, 8, 16, 30,
30 ... s until it is back in the room or the user presses Leave, which stops it at once,
also in the middle of an attempt. Each attempt resolves the join again: a token made from
an API key and secret is made anew, a given token is reused, and a local sandbox that died
is started again. No Qt here.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from console.session.connection_view import ConnectionView, connection_view
from console.session.explain import Explanation, explain
from console.session.health_log import EngineWatch
from console.session.join import JoinError, JoinSpec, normalize_url, resolve
from console.session.model import ConnState, SessionSnapshot
from console.session.participant_prefs import ParticipantPrefs
from console.session.rejoin import BACKOFF_S, RejoinTimer
from console.session.worker import Worker

if TYPE_CHECKING:
    from console.engine.audio_engine import AudioEngine
    from console.session.local_sandbox import LocalSandbox
    from console.session.room_session import RoomSession

log = logging.getLogger(__name__)
LEAVE_ON_CLOSE_S = 15.0


class RoomController:
    """One session and, when it is used, the local sandbox; owned by the window.

    ``participant_prefs`` (local volume and mute per participant) go to the session it
    builds; ``backoff_s`` are the waits before rejoin attempts 1, 2, ... (the last repeats);
    tests make them short.
    """

    def __init__(self, engine: AudioEngine, session: RoomSession | None = None,
                 sandbox_voices: int = 4, *, participant_prefs: ParticipantPrefs | None = None,
                 backoff_s: Sequence[float] = BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from console.session.room_session import RoomSession

        self.engine = engine
        prefs = participant_prefs if participant_prefs is not None else ParticipantPrefs()
        self.session = session if session is not None else RoomSession(engine, prefs=prefs)
        # One owner: the session's (a given session brings its own).
        self.participant_prefs: ParticipantPrefs = getattr(self.session, "prefs", prefs)
        self.sandbox_voices = sandbox_voices
        self.sandbox: LocalSandbox | None = None
        self._worker = Worker("join")
        self._lock = threading.Lock()
        self._gen = 0             # every join, leave and close starts a new one
        self._spec: JoinSpec | None = None  # what the user joined, until Leave
        self._joining = False     # the user's join is under way
        self._rejoining = 0       # the rejoin attempt under way (0: none)
        self._rejoin_gen = -1     # the join the scheduled rejoin continues
        self._error: Explanation | None = None  # the newest problem; one at a time
        self._closed = False
        self._rejoin = RejoinTimer(self._attempt, backoff_s, clock)
        self.session.on_lost = self._on_lost
        self.watch = EngineWatch(engine)

    # -- what the window reads ----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A join or a rejoin attempt is under way, or the next one is counted down: Join
        is not offered, Leave is."""
        with self._lock:
            return self._busy()

    def _busy(self) -> bool:
        return self._joining or bool(self._rejoining) or self._rejoin.countdown() is not None

    @property
    def error(self) -> str:
        """The short form of the one error shown ("" when there is none)."""
        return self.view().error_short

    def view(self, snap: SessionSnapshot | None = None) -> ConnectionView:
        """The connection as the window shows it, built from one snapshot (``snap``, or the
        session's now); the state line, the error and the RTT can never disagree."""
        snap = self.session.snapshot() if snap is None else snap
        with self._lock:
            return connection_view(snap, joining=self._joining, rejoining=self._rejoining,
                                   countdown=self._rejoin.countdown(), error=self._error)

    def poll(self) -> SessionSnapshot:
        """The session's state, for the participants; cheap enough for every display tick."""
        self.watch.poll()
        return self.session.snapshot()

    # -- what the window asks ------------------------------------------------------------------
    def join(self, spec: JoinSpec) -> bool:
        """Start joining; False if a join is already under way (or counted down)."""
        with self._lock:
            if self._busy() or self._closed:
                return False
            self._gen += 1
            gen = self._gen
            self._spec, self._joining, self._error = spec, True, None
        self._submit(gen, spec, attempt=0)
        return True

    def leave(self) -> concurrent.futures.Future[None]:
        """Leave, give up a join under way or stop the rejoin: at once, whatever is running.

        Returns the leave's future (it runs on the worker, after what runs there now).
        """
        self._stop()
        return self._worker.submit(self.session.leave)

    def close(self) -> None:
        """Leave, stop the sandbox, end the worker (at app exit)."""
        with self._lock:
            self._closed = True
        self._stop()
        self.session.on_lost = None
        with contextlib.suppress(Exception):
            self._worker.submit(self.session.leave).result(LEAVE_ON_CLOSE_S)
        self._worker.close(5.0)  # a join stuck for good must not keep the app from quitting
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None

    def _stop(self) -> None:
        with self._lock:
            self._gen += 1  # whatever is under way now finishes unheard
            self._spec, self._joining, self._rejoining, self._error = None, False, 0, None
        self._rejoin.cancel()
        self.session.abort()  # a connect under way returns now

    # -- joining (worker thread) -------------------------------------------------------------
    def _submit(self, gen: int, spec: JoinSpec, attempt: int) -> None:
        future = self._worker.submit(lambda: self._join(gen, spec))
        future.add_done_callback(lambda done: self._joined(gen, attempt, done))

    def _join(self, gen: int, spec: JoinSpec) -> SessionSnapshot:
        aborts = self.session.aborts  # before the check: a Leave after it aborts the join
        if gen != self._gen:
            return self.session.snapshot()
        if spec.uses_sandbox:
            resolved = resolve(spec, sandbox_url=self._sandbox_url(spec.room or "demo",
                                                                   spec.agent))
        else:
            resolved = resolve(spec)  # a token made from a key and secret is made anew
        return self.session.join(resolved, aborts=aborts)

    def _sandbox_url(self, room: str, agent: str | None = None) -> str:
        """The local sandbox's URL, (re)started for ``room`` and, with ``agent``, one that
        answers that agent's dispatch (its scripted agent, under that name)."""
        from console.session.local_sandbox import LocalSandbox

        sandbox = self.sandbox
        agents = (agent,) if agent else ()
        if (sandbox is None or sandbox.room != room or not sandbox.running
                or (agent and agent not in sandbox.agents)):
            if sandbox is not None:
                if not sandbox.running:
                    log.warning("the local sandbox had stopped; starting it again")
                sandbox.stop()
                self.sandbox = None
            try:
                self.sandbox = LocalSandbox(self.sandbox_voices, room, agents).start()
                log.info("local sandbox started on %s", self.sandbox.url)
            except Exception as exc:
                log.warning("the local sandbox did not start: %s", exc)
                raise JoinError(f"the local sandbox did not start: {exc}") from exc
        assert self.sandbox is not None
        return self.sandbox.url

    def _joined(self, gen: int, attempt: int,
                done: concurrent.futures.Future[SessionSnapshot]) -> None:
        """A join or rejoin attempt ended: in the room, or the next attempt is scheduled,
        or its problem is the error shown."""
        problem: Explanation | None = None
        exc = None if done.cancelled() else done.exception()
        with self._lock:
            if gen != self._gen:
                return  # Leave (or another join) came first: nobody waits for this
            spec = self._spec
            if attempt:
                self._rejoining = 0
            else:
                self._joining = False
            if exc is not None:
                if not isinstance(exc, JoinError):
                    log.error("join failed", exc_info=exc)
                problem = explain(exc, _server(spec))
            elif done.cancelled():
                return
            else:
                snap = done.result()
                if snap.state.in_room:
                    self._error = None
                    if attempt:
                        log.info("rejoined %s after %d attempt(s)", snap.url, attempt)
                    return
                if snap.state is not ConnState.FAILED:
                    return  # lost again at once: on_lost has scheduled what follows
                problem = snap.problem or explain(snap.detail, snap.url)
            self._error = problem
            again = bool(attempt) and problem.retry and not self._closed
            self._rejoin_gen = gen
        if again:
            self._schedule(attempt + 1, problem)

    # -- rejoining ---------------------------------------------------------------------------
    def _on_lost(self, problem: Explanation) -> None:
        """The session lost its room without our leave (on the room loop)."""
        with self._lock:
            if self._spec is None or self._closed:
                return
            self._error = problem
            self._rejoin_gen = self._gen
        if problem.retry:
            self._schedule(1, problem)
        else:
            log.info("room lost for good: %s", problem.short)

    def _schedule(self, attempt: int, cause: Explanation) -> None:
        delay = self._rejoin.schedule(attempt, cause)
        log.info("rejoin attempt %d in %.0f s (%s)", attempt, delay, cause.short)

    def _attempt(self, attempt: int) -> None:
        """Rejoin attempt ``attempt`` is due (on the rejoin timer's thread)."""
        with self._lock:
            spec, gen = self._spec, self._gen
            if spec is None or self._closed or gen != self._rejoin_gen:
                return  # left, or joined anew, since it was scheduled
            self._rejoining = attempt
        try:
            self._submit(gen, spec, attempt)
        except RuntimeError:  # the worker closed meanwhile (quitting)
            with self._lock:
                self._rejoining = 0


def _server(spec: JoinSpec | None) -> str:
    """The server of ``spec`` as a user would write it, for explanations."""
    if spec is None or spec.uses_sandbox or not spec.url:
        return "the local sandbox"
    try:
        return normalize_url(spec.url)
    except JoinError:
        return spec.url
