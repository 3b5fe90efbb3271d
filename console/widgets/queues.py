"""How deep each audio queue is over the last 30 s: one plot, a light curve per participant.

A participant's curve is the audio waiting for them (AudioStream + channel, ms); the output
has its own (what waits in its ring and the device's buffer); every underrun is a red mark
on its curve where it happened.
pyqtgraph is imported when the plot is first built, so the window starts without it.
Samples are taken at 5 Hz from the snapshots the window already reads; the plot is
redrawn twice a second. In a big room, eight participants keep a curve and a legend entry of
their own (those whose queue ran dry most recently first, then by name) and the rest share
one light curve, "others": thirty coloured curves cannot be told apart anyway, and painting
them holds the GUI thread (and with it, through the GIL, livekit's audio delivery) long
enough to starve every channel at once. Axes, legend, the output's curve and
the others' take their colours from the widget's palette, so the plot follows the system's
light or dark theme.

The legend is a line of text under the plot, never over the newest data, and the y-range
moves in steps (20, 50, 100 ... ms) with hysteresis: up at once when a queue grows, down
only after the queues have stayed well within the lower step for a while, so the scale
does not jump between 35 and 200 ms with every burst.
"""

from __future__ import annotations

import html
import math
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGraphicsItem, QLabel, QVBoxLayout, QWidget

from console.widgets.agent_lane import AgentLane
from console.widgets.series import Series

if TYPE_CHECKING:
    from console.engine.channel import ChannelStats
    from console.engine.output import OutputStats
    from console.session.agents import AgentEvent
    from console.session.model import ParticipantView

WINDOW_S = 30.0
SAMPLE_S = 0.2
GAP_S = 2.0      # no sample this long (the window minimised or hidden): the curves break
REDRAW_S = 0.5   # a redraw holds the GUI thread (and the GIL): twice a second is enough
BIG_REDRAW_S = 1.0  # with "others" the redraw costs more and the plot is a summary: once
Y_STEPS_MS = (20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0)
Y_DOWN_AFTER_S = 8.0   # the queues stay within the lower step this long before it is used
Y_HEADROOM = 0.9       # a step is used up to 90 % of its height
OUTPUT_KEY = "output"
OTHERS_KEY = "others"
MAX_NAMED = 8    # participants drawn as curves of their own
PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f", "#ff7f0e")


def legend_names(people: tuple[ParticipantView, ...]) -> dict[str, str]:
    """Channel key -> the legend's name for it: the name its strip shows, with the
    identity added where two participants share a name."""
    counts = Counter(p.name for p in people)
    return {key: p.name if counts[p.name] == 1 else f"{p.name} ({p.identity})"
            for p in people for key in p.channel_keys}


class SteppedRange:
    """The plot's top: the smallest step holding the data, lowered only after a quiet spell."""

    def __init__(self) -> None:
        self.top = Y_STEPS_MS[0]
        self._fits_lower_since: float | None = None

    @staticmethod
    def _wanted(peak: float) -> float:
        return next((s for s in Y_STEPS_MS if peak <= s * Y_HEADROOM), Y_STEPS_MS[-1])

    def settled(self, peak: float) -> bool:
        """Whether :meth:`update` with ``peak`` would leave the top where it is for good."""
        return self._wanted(peak) == self.top

    def update(self, peak: float, now: float) -> float:
        wanted = self._wanted(peak)
        if wanted > self.top:
            self.top = wanted
            self._fits_lower_since = None
        elif wanted < self.top:
            if self._fits_lower_since is None:
                self._fits_lower_since = now
            elif now - self._fits_lower_since >= Y_DOWN_AFTER_S:
                self.top = Y_STEPS_MS[Y_STEPS_MS.index(self.top) - 1]
                self._fits_lower_since = now if wanted < self.top else None
        else:
            self._fits_lower_since = None
        return self.top


class QueuesPlot(QWidget):
    """Queue depth (ms) against time for every channel and the output."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Queue depths")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.setMinimumHeight(160)
        self._plot: Any = None
        self._curves: dict[str, Any] = {}
        self._marks: Any = None
        self.legend = QLabel(self)
        self.legend.setAccessibleName("Queue plot legend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.hide()  # placed under the plot when that is built
        self._legend_items: tuple[tuple[str, str], ...] = ()
        self._range = SteppedRange()
        self.lane = AgentLane(WINDOW_S, self)
        self.lane.hide()  # placed under the plot when that is built
        # The agents' state changes (the session snapshot's ``agent_events``), set by the
        # window each tick and drawn with the plot.
        self.agent_events: tuple[AgentEvent, ...] = ()
        self.series: dict[str, Series] = {}
        self.underrun_marks: deque[tuple[float, float]] = deque()
        self._last_underruns: dict[str, int] = {}
        self._last_underrun_at: dict[str, float] = {}
        self._last_sample = 0.0
        self._breaks_at: dict[str, float] = {}  # each curve's newest break (a NaN point)
        self._last_redraw = 0.0
        self._drawn_still: tuple[tuple[str, float], ...] | None = None  # see _still
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
        self._marks = pg.ScatterPlotItem(size=6, brush=pg.mkBrush("#d62728"), pen=None,
                                         name="underrun")
        plot.addItem(self._marks)
        self._layout.addWidget(plot, 1)
        self._layout.addWidget(self.lane)
        self._layout.addWidget(self.legend)
        self.lane.show()
        self.legend.show()
        self._plot = plot
        for name in ("left", "bottom"):
            # Replaying an axis's text is the dearest part of a paint and every redraw
            # repaints both axes; as a cached pixmap an axis is redrawn only when its ticks,
            # size or pens change.
            plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._apply_palette()

    def text_color(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.WindowText)

    def _faint_text(self) -> QColor:
        faint = QColor(self.text_color())
        faint.setAlpha(90)
        return faint

    def _apply_palette(self) -> None:
        """Axes, legend and the output curve in the palette's colours (light or dark)."""
        if self._plot is None:
            return
        import pyqtgraph as pg

        text = self.text_color()
        for name in ("left", "bottom"):
            axis = self._plot.getAxis(name)
            axis.setPen(pg.mkPen(text, width=1))
            axis.setTextPen(pg.mkPen(text))
        self._legend_items = ()  # the output's and the others' swatches follow the palette
        self._drawn_still = None  # and the next sample redraws the legend
        for key, color in ((OUTPUT_KEY, text), (OTHERS_KEY, self._faint_text())):
            curve = self._curves.get(key)
            if curve is not None:
                curve.setPen(pg.mkPen(color, width=1))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def due(self, now: float | None = None) -> bool:
        """Whether :meth:`add_sample` would record one now (the caller may skip reading the
        stats it needs otherwise)."""
        now = time.monotonic() if now is None else now
        return now - self._last_sample >= SAMPLE_S

    def add_sample(self, channels: list[ChannelStats], output: OutputStats | None,
                   labels: dict[str, str], now: float | None = None) -> bool:
        """Record one sample (at most every 0.2 s); True when the plot was redrawn."""
        now = time.monotonic() if now is None else now
        if not self.due(now):
            return False
        if self._last_sample and now - self._last_sample > GAP_S:
            # Nothing was sampled meanwhile (nobody saw the window): a break, not a line
            # drawn across the time nobody measured.
            gap_at = self._last_sample + SAMPLE_S / 2
            for name, broken in self.series.items():
                broken.append(gap_at, np.nan)
                self._breaks_at[name] = gap_at
        self._last_sample = now
        points: dict[str, tuple[float, int]] = {
            labels.get(c.key, c.key): (c.queue_ms, c.underruns) for c in channels}
        if output is not None:
            points[OUTPUT_KEY] = (output.ring_ms + output.device_latency_ms, output.underruns)
        capacity = int(WINDOW_S / SAMPLE_S) + 8
        for name, left in self.series.items():
            if name not in points and left and not math.isnan(left.points[-1, 1]):
                # Not sampled any more (a participant who left, an output dozing): a
                # break, or its return would be joined to its last point by a slope.
                left.append(now, np.nan)
                self._breaks_at[name] = now
        for name, (depth, underruns) in points.items():
            series = self.series.get(name)
            if series is None:
                series = self.series[name] = Series(capacity)
            series.append(now, depth)
            before = self._last_underruns.get(name, underruns)
            if underruns > before:
                self.underrun_marks.append((now, depth))
                self._last_underrun_at[name] = now
            self._last_underruns[name] = underruns
        cutoff = now - WINDOW_S
        for name in list(self.series):
            series = self.series[name]
            series.trim(cutoff)
            if not series:
                del self.series[name]
                self._last_underrun_at.pop(name, None)
                self._breaks_at.pop(name, None)
        while self.underrun_marks and self.underrun_marks[0][0] < cutoff:
            self.underrun_marks.popleft()
        every = BIG_REDRAW_S if len(self.series) > MAX_NAMED + 1 else REDRAW_S
        if self.isVisible() and now - self._last_redraw >= every:
            self._last_redraw = now
            still = self._still(now)
            if still is not None and still == self._drawn_still:
                return False  # it would draw what is shown (a console out of a room)
            self._redraw(now)
            self._drawn_still = still
            return True
        return False

    def _still(self, now: float) -> tuple[tuple[str, float], ...] | None:
        """The plot's content when a redraw would not move anything on it: every curve
        flat across the whole window (a break in sight is a NaN in it), nothing else
        drawn (no underrun or agent event), the y range settled; None otherwise. Out of
        a room, the output's flat 0 ms redrawn twice a second was a fifth of the
        window's idle cost."""
        if self.underrun_marks or self.agent_events:
            return None
        full = now - WINDOW_S + 2 * SAMPLE_S
        values: list[tuple[str, float]] = []
        for name, series in self.series.items():
            points = series.points
            if not len(points) or points[0, 0] > full:
                return None
            depth = points[:, 1]
            first = float(depth[0])
            if not math.isfinite(first) or not bool(np.all(depth == first)):
                return None
            values.append((name, first))
        top = max((v for _, v in values), default=0.0)
        if not self._range.settled(top):
            return None
        return tuple(sorted(values))

    def split_named(self) -> tuple[list[str], list[str]]:
        """(participants with a curve of their own, those drawn as "others")."""
        names = sorted(n for n in self.series if n != OUTPUT_KEY)
        if len(names) <= MAX_NAMED:
            return names, []
        ran_dry = self._last_underrun_at
        ranked = sorted(names, key=lambda n: -ran_dry.get(n, -np.inf))
        named = set(ranked[:MAX_NAMED])
        return sorted(named), [n for n in names if n not in named]

    def _points(self, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        """A series as an (n, 2) array of (time, depth) (a view: read it, do not keep it)."""
        return self.series[name].points

    def _redraw(self, now: float) -> None:
        if self._plot is None:
            self._build()
        import pyqtgraph as pg

        named, others = self.split_named()
        cutoff = now - WINDOW_S  # a curve broken since has NaN in it
        drawn = [*named, OUTPUT_KEY, *([OTHERS_KEY] if others else [])]
        for name in list(self._curves):
            if name not in drawn or (name != OTHERS_KEY and name not in self.series):
                self._plot.removeItem(self._curves.pop(name))
        top = 0.0
        legend: list[tuple[str, str]] = []
        for index, name in enumerate(drawn):
            if name == OTHERS_KEY:
                # One path for everyone else: each series, then a gap (NaN) before the next.
                gap = np.array([[np.nan, np.nan]])
                points = np.concatenate([part for n in others
                                         for part in (self._points(n), gap)])
            elif name in self.series:
                points = self._points(name)
            else:
                continue
            curve = self._curves.get(name)
            if curve is None:
                color: QColor | str = (self._faint_text() if name == OTHERS_KEY
                                       else self.text_color() if name == OUTPUT_KEY
                                       else PALETTE[index % len(PALETTE)])
                pen = pg.mkPen(color, width=1)
                # A bare curve item: PlotDataItem's dataset bookkeeping doubled the cost.
                curve = pg.PlotCurveItem(name=name, pen=pen)
                self._plot.addItem(curve)
                self._curves[name] = curve
            label = f"others ({len(others)})" if name == OTHERS_KEY else name
            legend.append((label, curve.opts["pen"].color().name()))
            top = max(top, float(np.nanmax(points[:, 1], initial=0.0)))
            # Copies: the curve keeps what it is given, and the series' arrays move on.
            curve.setData(points[:, 0] - now, points[:, 1].copy(), connect="finite",
                          skipFiniteCheck=name != OTHERS_KEY
                          and self._breaks_at.get(name, -np.inf) < cutoff)
        marks = np.array(self.underrun_marks, dtype=np.float64).reshape(-1, 2)
        self._marks.setData(marks[:, 0] - now, marks[:, 1])
        # The y range from what is known here: pyqtgraph's auto-range asks every curve for
        # its bounds on each paint.
        y_top = self._range.update(top, now)
        if y_top != self._plot.viewRange()[1][1]:
            self._plot.setYRange(0.0, y_top, padding=0)
        self._show_legend(tuple(legend), bool(len(marks)))
        area = self._plot.mapFromScene(
            self._plot.getPlotItem().getViewBox().sceneBoundingRect()).boundingRect()
        self.lane.show_events(self.agent_events, now, float(area.left()),
                              float(area.right()))

    def _show_legend(self, items: tuple[tuple[str, str], ...], marks: bool) -> None:
        """Coloured swatches and names under the plot; rebuilt only when they change."""
        key = (*items, ("underrun", "#d62728")) if marks else items
        if key == self._legend_items:
            return
        self._legend_items = key
        parts = [f"<span style='color:{color}'>&#9632;</span>&nbsp;{html.escape(name)}"
                 for name, color in key]
        self.legend.setText(" &nbsp; ".join(parts))
