"""Light and dark: follow the system's colour scheme, or the user's choice.

"system" keeps the platform's own style and palette (and a dark one when the platform says
it prefers dark: GNOME, KDE, Windows and macOS do); "light" and "dark" set the Fusion style
with a palette of our own, which reads the same everywhere, including on a bare X server.
The widgets take every colour from the palette, so switching repaints them all.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from console.settings import THEMES

_R = QPalette.ColorRole
_G = QPalette.ColorGroup


def _palette(colors: dict[QPalette.ColorRole, str], disabled_text: str) -> QPalette:
    pal = QPalette()
    for role, color in colors.items():
        pal.setColor(role, QColor(color))
    for role in (_R.WindowText, _R.Text, _R.ButtonText):
        pal.setColor(_G.Disabled, role, QColor(disabled_text))
    return pal


def dark_palette() -> QPalette:
    return _palette({
        _R.Window: "#2b2d30", _R.WindowText: "#e6e6e6", _R.Base: "#1e1f22",
        _R.AlternateBase: "#26282b", _R.ToolTipBase: "#3c3f41", _R.ToolTipText: "#eeeeee",
        _R.PlaceholderText: "#8a8d91", _R.Text: "#e6e6e6", _R.Button: "#3a3d41",
        _R.ButtonText: "#e6e6e6", _R.BrightText: "#ff6b6b", _R.Light: "#505357",
        _R.Midlight: "#45484c", _R.Mid: "#6b6e72", _R.Dark: "#1a1b1d", _R.Shadow: "#000000",
        _R.Highlight: "#3d7bd9", _R.HighlightedText: "#ffffff", _R.Link: "#6ea8fe",
        _R.LinkVisited: "#b191f5",
    }, "#7c7f83")


def light_palette() -> QPalette:
    return _palette({
        _R.Window: "#efeff1", _R.WindowText: "#1d1d1f", _R.Base: "#ffffff",
        _R.AlternateBase: "#f5f5f7", _R.ToolTipBase: "#ffffdc", _R.ToolTipText: "#1d1d1f",
        _R.PlaceholderText: "#7a7a80", _R.Text: "#1d1d1f", _R.Button: "#e4e4e8",
        _R.ButtonText: "#1d1d1f", _R.BrightText: "#ffffff", _R.Light: "#ffffff",
        _R.Midlight: "#f0f0f2", _R.Mid: "#a0a0a8", _R.Dark: "#8a8a90", _R.Shadow: "#505055",
        _R.Highlight: "#2f6fd0", _R.HighlightedText: "#ffffff", _R.Link: "#1f5fbf",
        _R.LinkVisited: "#6a3fb5",
    }, "#9a9aa0")


class Theme(QObject):
    """Applies a choice (one of ``THEMES``) to the application, and follows the system."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._app = app
        self._system_style = app.style().name()
        self._system_palette = QPalette(app.palette())
        self.choice = "system"
        app.styleHints().colorSchemeChanged.connect(self._on_scheme)

    def system_is_dark(self) -> bool:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark

    def apply(self, choice: str) -> None:
        self.choice = choice if choice in THEMES else "system"
        dark = self.choice == "dark" or (self.choice == "system" and self.system_is_dark())
        if self.choice == "system" and not dark:
            self._app.setStyle(QStyleFactory.create(self._system_style))
            self._app.setPalette(self._system_palette)
            return
        self._app.setStyle(QStyleFactory.create("Fusion"))
        self._app.setPalette(dark_palette() if dark else light_palette())

    def _on_scheme(self, scheme: Qt.ColorScheme) -> None:
        if self.choice == "system":
            self.apply("system")
