"""The window's commands, declared once: text, shortcut, help line and what they do.

The F1 list is built from these declarations and from the Alt mnemonics the window shows at
that moment (:mod:`console.widgets.mnemonics`), so it cannot advertise a key that does
something else or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class ActionSpec:
    name: str          # the attribute the window keeps it under
    text: str          # menu text, with its mnemonic
    shortcut: str      # QKeySequence text ("" for none)
    help: str          # the F1 line
    slot: Callable[[], object]
    menu: str = ""     # the menu it appears in ("" : none, a window-wide key only)
    app_wide: bool = False  # also while a dialog of the app has focus (Quit)


@dataclass(frozen=True)
class KeyHelp:
    """A key the window handles itself (not an action): listed in F1 all the same."""

    keys: str
    help: str


def build(owner: QWidget, specs: tuple[ActionSpec, ...]) -> dict[str, QAction]:
    """One QAction per spec, added to ``owner`` so its shortcut works window-wide."""
    actions: dict[str, QAction] = {}
    for spec in specs:
        action = QAction(spec.text, owner)
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        if spec.app_wide:
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        action.setStatusTip(spec.help)
        action.triggered.connect(spec.slot)
        owner.addAction(action)
        actions[spec.name] = action
    return actions


def help_rows(specs: tuple[ActionSpec, ...], keys: tuple[KeyHelp, ...],
              mnemonics: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(keys, what they do) for F1: actions with a shortcut, window keys, then Alt keys."""
    rows = [(spec.shortcut, spec.help) for spec in specs if spec.shortcut]
    rows += [(k.keys, k.help) for k in keys]
    rows += [(f"Alt+{key}", what) for key, what in mnemonics]
    return rows
