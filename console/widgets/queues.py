"""How deep each audio queue is over the last 30 s: one plot, a light curve per participant.

A participant's curve is the audio waiting for them (AudioStream + channel, ms); the output
ring has its own curve; every underrun is a red mark on its curve where it happened.
pyqtgraph is imported when the plot is first built, so the window starts without it.
Samples are taken at 5 Hz from the snapshots the window already reads; the plot is
redrawn twice a second. Axes, legend and the output ring's curve take their colours from
the widget's palette, so the plot follows the system's light or dark theme.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from console.engine.channel import ChannelStats
    from console.engine.output import OutputStats

WINDOW_S = 30.0
SAMPLE_S = 0.2
REDRAW_S = 0.5   # redrawing 10 curves costs ~10 ms of the GUI thread: twice a second
OUTPUT_KEY = "output ring"
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f", "#ff7f0e")


class QueuesPlot(QWidget):
    """Queue depth (ms) against time for every channel and the output ring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Queue depths")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.setMinimumHeight(160)
        self._plot: Any = None
        self._curves: dict[str, Any] = {}
        self._marks: Any = None
        self._legend: Any = None
        self.series: dict[str, deque[tuple[float, float]]] = {}
        self.underrun_marks: deque[tuple[float, float]] = deque()
        self._last_underruns: dict[str, int] = {}
        self._last_sample = 0.0
        self._last_redraw = 0.0
        self._t0 = time.monotonic()

    def _build(self) -> None:
        import pyqtgraph as pg

        pg.setConfigOptions(antialias=False, background=None)
        plot = pg.PlotWidget(self)
        plot.setLabel("left", "queue", units="ms")
        plot.setLabel("bottom", "seconds ago")
        plot.showGrid(x=False, y=True, alpha=0.2)
        plot.setXRange(-WINDOW_S, 0, padding=0)
        plot.setMouseEnabled(x=False, y=False)
        plot.disableAutoRange()
        self._legend = plot.addLegend(offset=(-5, 5), labelTextSize="7pt", colCount=3)
        self._marks = pg.ScatterPlotItem(size=6, brush=pg.mkBrush("#d62728"), pen=None,
                                         name="underrun")
        plot.addItem(self._marks)
        self._layout.addWidget(plot)
        self._plot = plot
        for name in ("left", "bottom"):
            # Replaying an axis's text costs ~7 ms a paint and every redraw repaints both;
            # as a cached pixmap it is redrawn only when its ticks, size or pens change.
            plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._apply_palette()

    def text_color(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.WindowText)

    def _apply_palette(self) -> None:
        """Axes, legend and the output curve in the palette's colours (light or dark)."""
        if self._plot is None:
            return
        import pyqtgraph as pg

        text = self.text_color()
        window = QColor(self.palette().color(QPalette.ColorRole.Window))
        window.setAlpha(170)
        for name in ("left", "bottom"):
            axis = self._plot.getAxis(name)
            axis.setPen(pg.mkPen(text, width=1))
            axis.setTextPen(pg.mkPen(text))
        self._legend.setBrush(pg.mkBrush(window))
        self._legend.setLabelTextColor(text)
        curve = self._curves.get(OUTPUT_KEY)
        if curve is not None:
            curve.setPen(pg.mkPen(text, width=1))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def add_sample(self, channels: list[ChannelStats], output: OutputStats | None,
                   labels: dict[str, str], now: float | None = None) -> bool:
        """Record one sample (at most every 0.2 s); True when the plot was redrawn."""
        now = time.monotonic() if now is None else now
        if now - self._last_sample < SAMPLE_S:
            return False
        self._last_sample = now
        points: dict[str, tuple[float, int]] = {
            labels.get(c.key, c.key): (c.queue_ms, c.underruns) for c in channels}
        if output is not None:
            points[OUTPUT_KEY] = (output.ring_ms, output.underruns)
        for name, (depth, underruns) in points.items():
            series = self.series.setdefault(name, deque())
            series.append((now, depth))
            before = self._last_underruns.get(name, underruns)
            if underruns > before:
                self.underrun_marks.append((now, depth))
            self._last_underruns[name] = underruns
        cutoff = now - WINDOW_S
        for name in list(self.series):
            series = self.series[name]
            while series and series[0][0] < cutoff:
                series.popleft()
            if not series:
                del self.series[name]
        while self.underrun_marks and self.underrun_marks[0][0] < cutoff:
            self.underrun_marks.popleft()
        if self.isVisible() and now - self._last_redraw >= REDRAW_S:
            self._last_redraw = now
            self._redraw(now)
            return True
        return False

    def _redraw(self, now: float) -> None:
        if self._plot is None:
            self._build()
        import pyqtgraph as pg

        for name in [n for n in self._curves if n not in self.series]:
            self._plot.removeItem(self._curves.pop(name))
        top = 0.0
        for index, (name, series) in enumerate(sorted(self.series.items())):
            curve = self._curves.get(name)
            if curve is None:
                color: QColor | str = (self.text_color() if name == OUTPUT_KEY
                                       else PALETTE[index % len(PALETTE)])
                # A bare curve item: PlotDataItem's dataset bookkeeping doubled the cost.
                curve = pg.PlotCurveItem(name=name, pen=pg.mkPen(color, width=1))
                self._plot.addItem(curve)
                self._curves[name] = curve
            points = np.array(series, dtype=np.float64).reshape(-1, 2)
            top = max(top, float(points[:, 1].max(initial=0.0)))
            curve.setData(points[:, 0] - now, points[:, 1], skipFiniteCheck=True)
        marks = np.array(self.underrun_marks, dtype=np.float64).reshape(-1, 2)
        self._marks.setData(marks[:, 0] - now, marks[:, 1])
        # The y range from what is known here: pyqtgraph's auto-range asks every curve for
        # its bounds on each paint.
        self._plot.setYRange(0.0, max(10.0, top * 1.1), padding=0)
