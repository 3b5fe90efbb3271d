"""The agents' states over the queue plot's 30 s, as a coloured lane under its time axis.

A glitch on the queue plot (an underrun, a queue that grew) is easier to explain next to
what the agent was doing then: thinking, or starting to speak. The lane is painted from the
session's state-change events (each agent's state holds until its next event), on the same
x range as the plot's data area, whose position it is given after every redraw. A
"thinking" of 300 ms is a few pixels wide at any window size: narrow but there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from console.session.agents import LEFT
from console.widgets.agent_badge import AGENT_COLOR, STATE_COLORS

if TYPE_CHECKING:
    from console.session.agents import AgentEvent

MAX_ROWS = 3


def state_spans(events: Sequence[AgentEvent], start: float, end: float
                ) -> dict[str, list[tuple[float, float, str]]]:
    """Per agent, the (from, to, state) spans that overlap [start, end], oldest first."""
    spans: dict[str, list[tuple[float, float, str]]] = {}
    open_: dict[str, tuple[float, str]] = {}
    for event in events:
        was = open_.get(event.identity)
        if was is not None and event.t > start and was[1] != LEFT:
            spans.setdefault(event.identity, []).append(
                (max(was[0], start), min(event.t, end), was[1]))
        open_[event.identity] = (event.t, event.state)
    # an agent that left has no span after it (a LEFT event closes its last one)
    for identity, (since, state) in open_.items():
        if since < end and state != LEFT:
            spans.setdefault(identity, []).append((max(since, start), end, state))
    return spans


class AgentLane(QWidget):
    """A row per agent (at most three), coloured by state; the x range is the plot's."""

    def __init__(self, window_s: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_s = window_s
        self.setAccessibleName("Agent states over time")
        self.setToolTip("The agents' states over the plot's time: listening (blue), "
                        "thinking (amber), speaking (green), idle or starting (grey)")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._row_h = max(10, self.fontMetrics().height())
        self.setFixedHeight(self._row_h + 4)  # one row until there are more agents
        self.spans: dict[str, list[tuple[float, float, str]]] = {}
        self._x0, self._x1 = 0.0, 1.0  # the plot's data area, in this widget's x
        self._now = 0.0

    def show_events(self, events: Sequence[AgentEvent], now: float, x0: float,
                    x1: float) -> None:
        self.spans = state_spans(events, now - self.window_s, now)
        self._now = now
        self._x0, self._x1 = x0, max(x0 + 1.0, x1)
        rows = max(1, min(MAX_ROWS, len(self.spans)))
        height = rows * self._row_h + 4
        if height != self.height():
            self.setFixedHeight(height)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        if not self.spans:
            faint = QColor(text)
            faint.setAlpha(110)
            p.setPen(faint)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no agent state")
            p.end()
            return
        scale = (self._x1 - self._x0) / self.window_s
        start = self._now - self.window_s
        for row, (identity, spans) in enumerate(sorted(self.spans.items())[:MAX_ROWS]):
            y = 2 + row * self._row_h
            for t0, t1, state in spans:
                rect = QRectF(self._x0 + (t0 - start) * scale, y,
                              max(1.0, (t1 - t0) * scale), self._row_h - 2)
                p.fillRect(rect, QColor(STATE_COLORS.get(state, AGENT_COLOR)))
                if rect.width() > p.fontMetrics().horizontalAdvance(state) + 6:
                    p.setPen(QColor("white"))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, state)
            if len(self.spans) > 1:
                p.setPen(text)
                p.drawText(QRectF(0, y, self._x0 - 4, self._row_h - 2),
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                           p.fontMetrics().elidedText(identity, Qt.TextElideMode.ElideRight,
                                                      int(max(0.0, self._x0 - 6))))
        p.end()
