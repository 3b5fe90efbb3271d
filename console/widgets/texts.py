"""Lines of text that never widen the window: an error line, and how long words are broken.

A word-wrapped QLabel is as wide as its longest word; one unbroken 600-character string (an
access token in a server's refusal, a URL) once made the window 3,111 px wide. These lines
ignore their text's width in the layout and break long words where they must, redact what
they show, and the error colour follows the theme (the light theme's red is unreadable on a
dark window).
"""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from console.redact import redact

LONG_WORD = 32        # characters after which a word gets break opportunities
_ZWSP = "\u200b"     # zero-width space: a place to wrap that prints nothing
_LONG = re.compile(r"\S{" + str(LONG_WORD) + ",}")


def breakable(text: str) -> str:
    """``text`` with a wrap opportunity every :data:`LONG_WORD` characters of a long word."""
    def split(match: re.Match[str]) -> str:
        word = match.group(0)
        return _ZWSP.join(word[i:i + LONG_WORD] for i in range(0, len(word), LONG_WORD))

    return _LONG.sub(split, text)


def plain(text: str) -> str:
    """What :func:`breakable` made of a text, without its wrap marks (for copying)."""
    return text.replace(_ZWSP, "")


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def error_color(palette: QPalette) -> QColor:
    """A red that reads on the palette's window colour (light or dark)."""
    return QColor("#ff7b6b") if is_dark(palette) else QColor("#b3261e")


class WrappingLabel(QLabel):
    """A word-wrapped label whose width the layout gives it, whatever its text."""

    def __init__(self, accessible: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAccessibleName(accessible)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def show_text(self, text: str) -> None:
        """Show ``text``, redacted (hidden when empty); repaints only on a change.

        Whatever passed the message's maker, a token or a known secret is cut here too:
        this is the last step before the screen (and a screenshot)."""
        shown = breakable(redact(text))
        if self.text() != shown:
            self.setText(shown)
        self.setVisible(bool(text))

    def plain_text(self) -> str:
        return plain(self.text())


class ErrorLine(WrappingLabel):
    """A problem in place, in the theme's red; hidden while there is none."""

    def __init__(self, accessible: str, parent: QWidget | None = None) -> None:
        super().__init__(accessible, parent)
        self._recolor()
        self.hide()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._recolor()
        super().changeEvent(event)

    def _recolor(self) -> None:
        color = error_color(self.palette()).name()
        sheet = f"color: {color};"
        if self.styleSheet() != sheet:
            self.setStyleSheet(sheet)
