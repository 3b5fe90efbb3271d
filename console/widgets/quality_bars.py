"""Connection quality as three rising bars, coloured like a phone's signal indicator.

Three black dots with a tooltip said nothing at a glance; bars that are full and green,
two amber, one red or none say it without reading. "unknown" (not yet reported) draws the
three outlines only.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

LEVELS: dict[str, tuple[int, str]] = {
    "excellent": (3, "#2e9e4a"),
    "good": (2, "#d99a00"),
    "poor": (1, "#d93a2b"),
    "lost": (0, "#d93a2b"),
}


class QualityBars(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.quality = "unknown"
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._describe()

    def set_quality(self, quality: str) -> None:
        if quality != self.quality:
            self.quality = quality
            self._describe()
            self.update()

    def lit(self) -> int:
        return LEVELS.get(self.quality, (0, ""))[0]

    def sizeHint(self) -> QSize:
        h = self.fontMetrics().height()
        return QSize(h + 4, h)

    def _describe(self) -> None:
        self.setToolTip(f"Connection quality: {self.quality}")
        self.setAccessibleName(f"Connection quality {self.quality}")

    def paintEvent(self, event: QPaintEvent) -> None:
        lit, color = LEVELS.get(self.quality, (0, ""))
        outline = QColor(self.palette().color(QPalette.ColorRole.WindowText))
        outline.setAlpha(110)
        p = QPainter(self)
        h, w = self.height() - 2, self.width()
        bar_w = max(2, (w - 4) // 3 - 1)
        for i in range(3):
            bar_h = max(3, h * (i + 1) // 3)
            rect = QRect(1 + i * (bar_w + 2), 1 + h - bar_h, bar_w, bar_h)
            if i < lit:
                p.fillRect(rect, QColor(color))
            else:
                p.setPen(outline)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(rect.adjusted(0, 0, -1, -1))
        p.end()
