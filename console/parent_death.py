"""Child processes that die with the console (Linux ``PR_SET_PDEATHSIG``), armed safely.

A ``preexec_fn`` hook would run Python in the forked copy of a process with many threads
(Qt, PortAudio, livekit's runtime): Python documents that this can deadlock before exec,
and then ``Popen`` waits for ever. Instead, our own children arm the signal themselves
(:func:`arm_from_env`, told the parent's pid through the environment), and other programs
are started through util-linux's ``setpriv --pdeathsig`` (:func:`command`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import sys

ENV = "LKC_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def child_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for one of our own children: it learns who its parent is."""
    env = dict(os.environ if base is None else base)
    env[ENV] = str(os.getpid())
    return env


def arm_from_env() -> None:
    """In our child: get SIGTERM when the parent dies; leave at once if it already has."""
    value = os.environ.pop(ENV, "")
    if not value.isdigit() or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(value):  # the parent was gone before the signal was armed
        os._exit(0)


def command(argv: list[str]) -> list[str]:
    """``argv`` run under ``setpriv --pdeathsig TERM`` where that exists (not our code)."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else argv
