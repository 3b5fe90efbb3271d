"""PyInstaller runtime hook: sounddevice loads the PortAudio that is in the bundle.

On Linux sounddevice asks ``ctypes.util.find_library("portaudio")`` (which reads the system's
ld.so cache) and dlopens whatever name it gets. Here that question is answered with the
absolute path of the bundled ``libportaudio.so.2``, so the bundle neither needs the
system's ``libportaudio2`` nor picks up another version of it.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

_BUNDLED = os.path.join(getattr(sys, "_MEIPASS", ""), "libportaudio.so.2")
_system_find_library = ctypes.util.find_library


def _find_library(name: str) -> str | None:
    if name == "portaudio" and os.path.isfile(_BUNDLED):
        return _BUNDLED
    return _system_find_library(name)


ctypes.util.find_library = _find_library
