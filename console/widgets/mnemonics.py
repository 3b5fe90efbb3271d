"""The Alt keys a window offers right now, read from its widgets.

Qt gives each "&X" in a visible button, a label with a buddy or a menu title the key Alt+X;
two of them with the same letter make Alt+X only move the focus between them, which is how
Alt+L, Alt+H, Alt+E and Alt+R came to do nothing useful. The F1 list and the tests read the
keys from here, so both see what a user would press.
"""

from __future__ import annotations

import re

from PySide6.QtWidgets import QAbstractButton, QGroupBox, QLabel, QMainWindow, QWidget

_MNEMONIC = re.compile(r"&([^&\s])")


def key_of(text: str) -> str | None:
    """The letter of a "&X" in ``text`` (upper case), or None ("&&" is a literal &)."""
    match = _MNEMONIC.search(text.replace("&&", ""))
    return match.group(1).upper() if match else None


def label_of(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(":")


def _reachable(widget: QWidget, top: QWidget) -> bool:
    """Shown and usable: visible up to ``top`` and enabled."""
    return widget.isVisibleTo(top) and widget.isEnabled()


def collect(window: QWidget) -> list[tuple[str, str, QWidget]]:
    """(key, what it reaches, widget) for every Alt key the window's widgets offer now."""
    found: list[tuple[str, str, QWidget]] = []
    if isinstance(window, QMainWindow):
        for action in window.menuBar().actions():
            key = key_of(action.text())
            if key and action.isVisible():
                found.append((key, f"{label_of(action.text())} menu", window.menuBar()))
    for widget in window.findChildren(QWidget):
        if not _reachable(widget, window):
            continue
        text = ""
        if isinstance(widget, QAbstractButton):
            text = widget.text()
        elif isinstance(widget, QLabel) and widget.buddy() is not None:
            buddy = widget.buddy()
            if _reachable(buddy, window):
                text = widget.text()
        elif isinstance(widget, QGroupBox) and widget.isCheckable():
            text = widget.title()
        key = key_of(text) if text else None
        if key:
            found.append((key, label_of(text), widget))
    return found


def duplicates(window: QWidget) -> dict[str, list[str]]:
    """Alt keys offered by more than one widget, with what each one reaches."""
    by_key: dict[str, list[str]] = {}
    for key, what, _ in collect(window):
        by_key.setdefault(key, []).append(what)
    return {key: whats for key, whats in by_key.items() if len(whats) > 1}
