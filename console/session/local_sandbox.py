"""The local sandbox as the default room: ``livekit-console sandbox`` in a child process.

The server and its demo voices (Opus encoding, aiortc) are busy Python code: in a process
of their own they never take the GIL from the console's audio engine. The child dies with
us (PR_SET_PDEATHSIG on Linux, see ``console.parent_death``) and is stopped with SIGTERM,
then SIGKILL.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
from typing import IO

from console import parent_death

DEFAULT_VOICES = 4
START_TIMEOUT_S = 15.0
START_PER_VOICE_S = 1.5   # each voice joins and publishes before the address is printed
_URL = re.compile(r"on (ws://\S+)")


def _own_command(*args: str) -> list[str]:
    """This program with ``args``: ``python -m console``, or the binary of a frozen bundle."""
    if getattr(sys, "frozen", False):  # PyInstaller: sys.executable is the bundle itself
        return [sys.executable, *args]
    return [sys.executable, "-m", "console", *args]


class LocalSandbox:
    """Started on demand (no URL configured), stopped with the app or the monitor."""

    def __init__(self, voices: int = DEFAULT_VOICES, room: str = "demo",
                 agents: tuple[str, ...] = ()) -> None:
        self.voices = voices
        self.room = room
        self.agents = agents  # names its scripted agent answers dispatches to
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._errors: IO[str] | None = None

    def start(self) -> LocalSandbox:
        """Start the child and wait until its voices are in the room (RuntimeError if not)."""
        self._errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in stop())
        proc = subprocess.Popen(
            _own_command("sandbox", "--port", "0", "--voices", str(self.voices),
                         "--room", self.room,
                         *(arg for name in self.agents for arg in ("--agent", name))),
            stdout=subprocess.PIPE, stderr=self._errors, text=True,
            env=parent_death.child_env())  # the child arms PR_SET_PDEATHSIG itself
        self._proc = proc
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()
                                                             if proc.stdout else ""),
                                  daemon=True)
        reader.start()
        timeout = START_TIMEOUT_S + START_PER_VOICE_S * self.voices
        reader.join(timeout)
        match = _URL.search(line[0]) if line else None
        if match is None:
            err = ""
            if proc.poll() is not None:
                self._errors.seek(0)
                lines = self._errors.read().strip().splitlines()
                err = lines[-1] if lines else f"it exited with code {proc.returncode}"
            self.stop()
            raise RuntimeError(err or f"it did not report its address within {timeout:.0f} s")
        self.url = match.group(1)
        return self

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, self._errors):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()

    def __enter__(self) -> LocalSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
