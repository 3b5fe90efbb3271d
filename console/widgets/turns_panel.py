"""How long the agent takes to answer, as heard: the last turn, p50 and p95, and a bar per
turn.

The latency is the session's (``console/session/turns.py``): the end of your speech as sent
to the first audible 10 ms of the agent's reply at our channel ("at the wire"); a thin mark
above each bar is when it left our speaker ("at the ear"). An interrupted turn is amber, an
unanswered one a red mark at the top: the slow and the broken turns stand out among twenty.
Painted with QPainter from the snapshot, redrawn only when a turn was added.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from console.session.turns import Turn, TurnsSnapshot

BAR = QColor("#1f5fbf")
INTERRUPTED = QColor("#b07800")
UNANSWERED = QColor("#d93a2b")
MAX_BARS = 60
GRID_MS = 500.0


def summary_text(snap: TurnsSnapshot) -> str:
    """One line: the figures a person compares run to run."""
    if not snap.turns and not snap.waiting:
        return ("No turns yet: when you stop speaking and an agent answers, the time it took "
                "is measured here.")
    parts = []
    if not math.isnan(snap.last_ms):
        parts.append(f"last {snap.last_ms:.0f} ms")
    if snap.n:
        parts.append(f"p50 {snap.p50_ms:.0f} ms")
        parts.append(f"p95 {snap.p95_ms:.0f} ms")
    parts.append(f"{snap.n} answered")
    if snap.interruptions:
        parts.append(f"{snap.interruptions} interrupted")
    if snap.unanswered:
        parts.append(f"{snap.unanswered} unanswered")
    if snap.waiting:
        parts.append("waiting for an answer…")
    return " · ".join(parts)


class TurnChart(QWidget):
    """A bar per turn (the newest at the right), height = latency at the wire."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Turn latency per turn")
        self.setToolTip("Each bar: a turn's latency at the wire; the mark above it: at the "
                        "ear. Amber: you spoke over the reply. Red at the top: no answer.")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(80)
        self.turns: tuple[Turn, ...] = ()

    def show_turns(self, turns: tuple[Turn, ...]) -> None:
        self.turns = turns[-MAX_BARS:]
        self.update()

    def scale_ms(self) -> float:
        """The chart's top: the slowest turn shown, rounded up to the grid (1 s at least)."""
        slowest = max((t.to_ear_s if not math.isnan(t.to_ear_s) else t.latency_s
                       for t in self.turns if t.answered), default=0.0) * 1000.0
        return max(1000.0, math.ceil(slowest / GRID_MS) * GRID_MS)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        faint = QColor(text)
        faint.setAlpha(60)
        metrics = p.fontMetrics()
        left = metrics.horizontalAdvance("0000 ms") + 6
        top, bottom = 4.0, float(self.height() - 4)
        width = max(1.0, self.width() - left - 4)
        top_ms = self.scale_ms()

        def y(ms: float) -> float:
            return bottom - (bottom - top) * min(ms, top_ms) / top_ms

        ms = 0.0
        while ms <= top_ms:
            p.setPen(faint)
            p.drawLine(int(left), int(y(ms)), int(left + width), int(y(ms)))
            p.setPen(text)
            p.drawText(QRectF(0, y(ms) - metrics.height() / 2, left - 4, metrics.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       f"{ms:.0f} ms")
            ms += GRID_MS
        slot = width / MAX_BARS
        for i, turn in enumerate(self.turns):
            x = left + width - (len(self.turns) - i) * slot
            bar = QRectF(x + slot * 0.15, 0, slot * 0.7, 0)
            if not turn.answered:
                p.fillRect(QRectF(bar.x(), top, bar.width(), 4), UNANSWERED)
                continue
            height = bottom - y(turn.latency_s * 1000.0)
            p.fillRect(QRectF(bar.x(), bottom - height, bar.width(), height),
                       INTERRUPTED if turn.interrupted else BAR)
            if not math.isnan(turn.to_ear_s):
                p.fillRect(QRectF(bar.x(), y(turn.to_ear_s * 1000.0) - 1, bar.width(), 2),
                           text)
        p.end()


class TurnsPanel(QWidget):
    """The summary line over the chart; :meth:`show_snapshot` once per display tick."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Agent turns")
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Turn latency summary")
        self.chart = TurnChart(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.chart, 1)
        self.snapshot: TurnsSnapshot | None = None
        self.show_snapshot(TurnsSnapshot())

    def show_snapshot(self, snap: TurnsSnapshot) -> None:
        if snap is self.snapshot:
            return
        before = self.snapshot
        self.snapshot = snap
        text = summary_text(snap)
        if text != self.summary.text():
            self.summary.setText(text)
        if before is None or (snap.last_seq, len(snap.turns)) != (before.last_seq,
                                                                   len(before.turns)):
            self.chart.show_turns(snap.turns)
