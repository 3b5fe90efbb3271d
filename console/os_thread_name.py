"""Our threads named for the operating system, so that /proc, top -H and py-spy say whose
CPU it is ("media", "mic-keeper") instead of "python" for every one of them. PortAudio's
callback threads are not ours to start, so the callbacks we give it name them the first
time they run (:func:`naming`): the audio work on them was counted with Qt's thread.

Python's thread names stay inside Python; Linux knows a thread by its ``comm`` (15 bytes),
set with ``prctl(PR_SET_NAME)`` by the thread itself. Elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from collections.abc import Callable
from typing import Any

PR_SET_NAME = 15
_prctl = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True).prctl
    except (OSError, AttributeError):
        _prctl = None


def name_this_thread(name: str | None = None) -> None:
    """Give the calling thread its Python name (or ``name``) for the OS; never raises."""
    if _prctl is None:
        return
    text = (name or threading.current_thread().name)[:15].encode("utf-8", "replace")
    _prctl(PR_SET_NAME, ctypes.c_char_p(text), 0, 0, 0)


def naming(name: str, callback: Callable[..., None]) -> Callable[..., None]:
    """``callback``, naming the thread it is first called on ``name`` (a thread someone
    else started: PortAudio's)."""
    named = False

    def named_callback(*args: Any) -> None:
        nonlocal named
        if not named:
            named = True
            name_this_thread(name)
        callback(*args)

    return named_callback
