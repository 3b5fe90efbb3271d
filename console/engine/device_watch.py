"""Noticing that audio devices came or went, without touching PortAudio.

PortAudio reads its device list once; seeing a new headset means re-initialising it, which
interrupts every open stream for a few milliseconds. So the list is re-read only when
something that shapes it changed: the ALSA cards and PCM devices the kernel lists (a USB or
HDMI device plugged in or out) or the ALSA configuration files (where named and virtual
devices are defined). Reading them is a few small file reads: cheap enough once a second.

Sound servers' own devices (PulseAudio / PipeWire sinks, Bluetooth) reach PortAudio's ALSA
backend only through the ``pulse`` / ``default`` devices, so a new one changes nothing
there and is not watched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable

KERNEL_LISTS = ("/proc/asound/cards", "/proc/asound/devices")
CONFIG_FILES = ("~/.asoundrc", "~/.config/alsa/asoundrc", "/etc/asound.conf")


def alsa_signature() -> Hashable:
    """What the kernel lists and when the ALSA configuration last changed."""
    parts: list[object] = []
    for path in KERNEL_LISTS:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                parts.append(f.read())
        except OSError:
            parts.append(None)
    for path in CONFIG_FILES:
        try:
            st = os.stat(os.path.expanduser(path))
            parts.append((st.st_mtime_ns, st.st_size))
        except OSError:
            parts.append(None)
    return tuple(parts)


class DeviceWatch:
    """:meth:`poll` says once that the devices changed, when the change has settled.

    A plug-in often changes the lists in several steps; acting only once a new state has
    been seen on two polls in a row re-reads the list once instead of at every step.
    """

    def __init__(self, signature: Callable[[], Hashable] = alsa_signature) -> None:
        self._signature = signature
        self._seen = signature()
        self._pending: Hashable | None = None

    def poll(self) -> bool:
        now = self._signature()
        if now == self._seen:
            self._pending = None
            return False
        if now == self._pending:
            self._seen, self._pending = now, None
            return True
        self._pending = now
        return False
