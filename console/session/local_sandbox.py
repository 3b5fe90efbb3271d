"""The local sandbox as the default room: a SandboxThread with demo voices in it."""

from __future__ import annotations

import contextlib

from console.sandbox.server import SandboxThread
from console.sandbox.voices import DemoVoices

DEFAULT_VOICES = 4


class LocalSandbox:
    """Started on demand (no URL configured), stopped with the app or the monitor."""

    def __init__(self, voices: int = DEFAULT_VOICES, room: str = "demo") -> None:
        self.room = room
        self._thread = SandboxThread(port=0)
        self._voices = DemoVoices(voices)
        self._started = False

    @property
    def url(self) -> str:
        return self._thread.url

    @property
    def server(self) -> SandboxThread:
        return self._thread

    def start(self) -> LocalSandbox:
        self._thread.start()
        self._started = True
        try:
            self._thread.call(self._voices.start(self.url, self.room), timeout=30.0)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(Exception):
                self._thread.call(self._voices.stop(), timeout=15.0)
        self._thread.close()
        self._started = False

    def __enter__(self) -> LocalSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
