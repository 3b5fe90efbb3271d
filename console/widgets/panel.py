"""What every panel of the window shares: the remembered settings, and its display tick.

The window is a frame of panels (room, microphone, output, processing, participants,
queues, status). Each panel builds its own widgets, reads and writes only the settings keys
it declares in ``SETTINGS`` (a test checks that every key has exactly one owner) and does its
part of the 30 Hz refresh in :meth:`Panel.poll`; the window only places them, declares the
actions and runs the tick.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from PySide6.QtCore import QSettings

from console import settings as settings_mod
from console.settings import Settings


class Prefs:
    """The settings as remembered; every change is saved at once (a crash loses nothing)."""

    def __init__(self, store: QSettings) -> None:
        self.store = store
        self.value: Settings = settings_mod.load(store)

    def remember(self, **changes: Any) -> None:
        self.value = self.value.replace(**changes)
        settings_mod.save(self.value, self.store)


class Panel(Protocol):
    """A part of the window; ``SETTINGS`` names the :class:`Settings` fields it owns."""

    SETTINGS: ClassVar[tuple[str, ...]]

    def poll(self) -> None:
        """One display tick: read the engine's (or the session's) snapshots, show them."""
        ...
