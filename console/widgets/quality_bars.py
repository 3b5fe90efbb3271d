"""Connection quality as three rising bars, coloured like a phone's signal indicator.

Three black dots with a tooltip said nothing at a glance; bars that are full and green,
two amber, one red or none say it without reading. "unknown" (not yet reported) draws the
three outlines only. The tooltip adds the track's own figures (packets/s, loss,
concealment, jitter), refreshed with the stats every 2 s.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

if TYPE_CHECKING:
    from console.session.model import TrackStats

LEVELS: dict[str, tuple[int, str]] = {
    "excellent": (3, "#2e9e4a"),
    "good": (2, "#d99a00"),
    "poor": (1, "#d93a2b"),
    "lost": (0, "#d93a2b"),
}


def stats_text(stats: TrackStats) -> str:
    """The figures behind the bars, as the tooltip says them (only those known yet)."""
    parts: list[str] = []
    if not math.isnan(stats.packets_per_s):
        parts.append(f"{stats.packets_per_s:.0f} packets/s")
    parts.append(f"loss {stats.loss_percent:.1f} %")
    if not math.isnan(stats.concealed_percent):
        parts.append(f"concealed {stats.concealed_percent:.1f} %")
    if not math.isnan(stats.jitter_ms):
        parts.append(f"jitter {stats.jitter_ms:.0f} ms")
    if stats.fec_packets_received:
        parts.append(f"FEC packets {stats.fec_packets_received}")
    return " · ".join(parts)


class QualityBars(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.quality = "unknown"
        self.figures = ""
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._describe()

    def set_quality(self, quality: str, figures: str = "") -> None:
        """The server's quality word, and the track's own figures for the tooltip (a
        silent sender with DTX shows a few packets a second, not 50)."""
        if (quality, figures) != (self.quality, self.figures):
            repaint = quality != self.quality
            self.quality, self.figures = quality, figures
            self._describe()
            if repaint:
                self.update()

    def lit(self) -> int:
        return LEVELS.get(self.quality, (0, ""))[0]

    def sizeHint(self) -> QSize:
        h = self.fontMetrics().height()
        return QSize(h + 4, h)

    def _describe(self) -> None:
        tip = f"Connection quality: {self.quality}"
        self.setToolTip(f"{tip}\n{self.figures}" if self.figures else tip)
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
