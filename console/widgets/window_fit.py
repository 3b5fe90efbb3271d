"""Keeping the window on its screen, and its splitters where the user left them.

A geometry remembered on a large monitor, a default size, or a scale factor of 2 can each
ask for more than the screen has: the window then opens with its title bar or its controls
off the screen. Whatever was asked, the window is shrunk to the screen's available area
and moved inside it.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QSplitter, QWidget

MARGIN = 16  # px left free around a window that had to be shrunk


def fit_to_screen(window: QWidget) -> None:
    """Shrink ``window`` to its screen's available area and move it inside, if needed."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    area = screen.availableGeometry()
    frame = window.frameGeometry()
    extra_w = frame.width() - window.width()   # the window manager's frame, if known yet
    extra_h = frame.height() - window.height()
    width = min(window.width(), area.width() - extra_w - MARGIN)
    height = min(window.height(), area.height() - extra_h - MARGIN)
    if (width, height) != (window.width(), window.height()):
        window.resize(max(width, 200), max(height, 200))
    frame = window.frameGeometry()
    x = min(max(frame.x(), area.x()), area.right() - frame.width() + 1)
    y = min(max(frame.y(), area.y()), area.bottom() - frame.height() + 1)
    if (x, y) != (frame.x(), frame.y()):
        window.move(max(x, area.x()), max(y, area.y()))


def pack_splitters(splitters: tuple[QSplitter, ...]) -> bytes:
    """Every splitter's state in one value (length-prefixed)."""
    out = b""
    for splitter in splitters:
        state = bytes(splitter.saveState().data())
        out += len(state).to_bytes(4, "big") + state
    return out


def unpack_splitters(packed: bytes, splitters: tuple[QSplitter, ...]) -> bool:
    """Restore what :func:`pack_splitters` kept; False (nothing changed) if it is damaged."""
    states: list[bytes] = []
    at = 0
    while at + 4 <= len(packed):
        size = int.from_bytes(packed[at:at + 4], "big")
        states.append(packed[at + 4:at + 4 + size])
        at += 4 + size
    if at != len(packed) or len(states) != len(splitters):
        return False
    for splitter, state in zip(splitters, states, strict=True):
        splitter.restoreState(QByteArray(state))
    return True
