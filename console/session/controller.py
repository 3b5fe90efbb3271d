"""Joining and leaving from a window: the slow parts run off the GUI thread.

Starting the local sandbox takes about a second and a join up to ten; the window must stay
responsive meanwhile. ``RoomController`` runs them on one worker thread and the window
reads the outcome from :meth:`poll` on its display tick. No Qt here.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
from typing import TYPE_CHECKING

from console.redact import redact
from console.session.health_log import EngineWatch
from console.session.join import JoinError, JoinSpec, resolve
from console.session.model import ConnState, SessionSnapshot
from console.session.worker import Worker

if TYPE_CHECKING:
    from console.engine.audio_engine import AudioEngine
    from console.session.local_sandbox import LocalSandbox
    from console.session.room_session import RoomSession

log = logging.getLogger(__name__)


class RoomController:
    """One session and, when it is used, the local sandbox; owned by the window."""

    def __init__(self, engine: AudioEngine, session: RoomSession | None = None,
                 sandbox_voices: int = 4) -> None:
        from console.session.room_session import RoomSession

        self.engine = engine
        self.session = session if session is not None else RoomSession(engine)
        self.sandbox_voices = sandbox_voices
        self.sandbox: LocalSandbox | None = None
        self._worker = Worker("join")
        self._pending: concurrent.futures.Future[SessionSnapshot] | None = None
        self.error = ""
        self.watch = EngineWatch(engine)

    @property
    def busy(self) -> bool:
        return self._pending is not None and not self._pending.done()

    def join(self, spec: JoinSpec) -> bool:
        """Start joining; False if a join is already under way."""
        if self.busy:
            return False
        self.error = ""
        self._pending = self._worker.submit(lambda: self._join(spec))
        return True

    def _join(self, spec: JoinSpec) -> SessionSnapshot:
        if spec.uses_sandbox:
            resolved = resolve(spec, sandbox_url=self._sandbox_url(spec.room or "demo"))
        else:
            resolved = resolve(spec)
        return self.session.join(resolved)

    def _sandbox_url(self, room: str) -> str:
        from console.session.local_sandbox import LocalSandbox

        if self.sandbox is None or self.sandbox.room != room:
            if self.sandbox is not None:
                self.sandbox.stop()
                self.sandbox = None
            try:
                self.sandbox = LocalSandbox(self.sandbox_voices, room).start()
                log.info("local sandbox started on %s", self.sandbox.url)
            except Exception as exc:
                log.warning("the local sandbox did not start: %s", exc)
                raise JoinError(f"the local sandbox did not start: {exc}") from exc
        return self.sandbox.url

    def leave(self) -> concurrent.futures.Future[None]:
        """Leave (or give up a join under way); returns at once, with the leave's future."""
        return self._worker.submit(self.session.leave)

    def poll(self) -> SessionSnapshot:
        """The session's state; a finished join's failure lands in :attr:`error`."""
        pending = self._pending
        if pending is not None and pending.done():
            self._pending = None
            exc = pending.exception()
            if isinstance(exc, JoinError):
                self.error = redact(str(exc))
            elif exc is not None:
                self.error = redact(f"could not join: {exc or type(exc).__name__}")
                log.error("join failed", exc_info=exc)
            else:
                snap = pending.result()
                if snap.state is ConnState.FAILED:
                    self.error = redact(snap.detail)
        self.watch.poll()
        return self.session.snapshot()

    def close(self) -> None:
        """Leave, stop the sandbox, end the worker (at app exit)."""
        with contextlib.suppress(Exception):
            self._worker.submit(self.session.leave).result(15)
        self._worker.close(5.0)  # a join stuck for good must not keep the app from quitting
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
