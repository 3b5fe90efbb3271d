"""A strip per remote participant, in a scrolling list that keeps a stable order.

Each strip shows the name, an agent's state and the time in it, a speaking dot, the
pre-fader meter, the participant's own mute, their connection quality, and the local
controls: mute here and volume. The list is updated from one session snapshot per display
tick; strips are reused (never rebuilt) and only touched when something they show changed,
so fifty of them scroll smoothly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from console.engine.meter import SILENT, MeterSnapshot
from console.widgets.agent_badge import WIDEST, AgentBadge
from console.widgets.level_meter import LevelMeterWidget
from console.widgets.quality_bars import QualityBars, stats_text
from console.widgets.texts import error_color

if TYPE_CHECKING:
    from console.engine.channel import ChannelStats
    from console.session.model import ParticipantView, TrackStats

VOLUME_MIN_DB = -40   # the slider's bottom end is "off"
NAME_WIDTH = 130
TAGS_WIDTH = 76
VOLUME_MAX_DB = 12
METER_MIN_WIDTH = 140
COMPACT_BELOW = 640   # list width (px at scale 1) under which the meter gets its own line


def strongest(stats: list[ChannelStats]) -> MeterSnapshot:
    """The loudest of a participant's channels (most have one)."""
    if not stats:
        return SILENT
    return max((s.meter for s in stats), key=lambda m: m.rms_db)


class SpeakingDot(QWidget):
    """A dot, green while the participant is heard. Painted, not styled: in a big room
    dots flip many times a second, and a style sheet change re-polishes the widget."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on = False
        self.setFixedWidth(14)
        self.setAccessibleName("Speaking")

    def set_on(self, on: bool) -> None:
        if on != self.on:
            self.on = on
            self.setAccessibleDescription("speaking" if on else "")
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        size = min(self.width(), self.height(), self.fontMetrics().height()) * 0.6
        color = QColor("#2aa745") if self.on else self.palette().color(
            QPalette.ColorRole.PlaceholderText)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawEllipse(QRectF((self.width() - size) / 2, (self.height() - size) / 2, size, size))
        p.end()


class ParticipantStrip(QFrame):
    """One participant's row; in a narrow list the meter moves to a second line."""

    volumeChanged = Signal(str, float)   # identity, dB (-inf: off)
    mutedHere = Signal(str, bool)

    def __init__(self, identity: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.identity = identity
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Participant {identity}")
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(6, 3, 6, 3)
        self._grid.setHorizontalSpacing(6)
        self._grid.setVerticalSpacing(2)
        self.speaking = SpeakingDot(self)
        self.name = QLabel(identity, self)
        self.name.setFixedWidth(NAME_WIDTH)
        tags = QWidget(self)  # a fixed slot, so that every meter starts at the same x
        tags.setFixedWidth(max(TAGS_WIDTH, self.fontMetrics().horizontalAdvance(WIDEST) + 12))
        tag_row = QHBoxLayout(tags)
        tag_row.setContentsMargins(0, 0, 0, 0)
        tag_row.setSpacing(3)
        self.badge = AgentBadge(tags)
        self.badge.hide()
        self.their_mute = QLabel("muted", tags)
        self.their_mute.setToolTip("They muted their microphone")
        self.meter = LevelMeterWidget(self)
        self.meter.setAccessibleName(f"Level of {identity}")
        self.meter.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a list of fifty: not fifty stops
        self.quality = QualityBars(self)
        self.mute_here = QCheckBox("Mute", self)
        self.mute_here.setToolTip("Mute this participant here only (remembered)")
        self.mute_here.setAccessibleName(f"Mute {identity} here")
        self.mute_here.toggled.connect(lambda on: self.mutedHere.emit(self.identity, on))
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setRange(VOLUME_MIN_DB, VOLUME_MAX_DB)
        self.volume.setValue(0)
        self.volume.setFixedWidth(80)
        self.volume.setAccessibleName(f"Volume of {identity}")
        self.volume.valueChanged.connect(self._on_volume)
        self.volume_label = QLabel("0 dB", self)
        self.volume_label.setFixedWidth(self.fontMetrics().horizontalAdvance("+12 dB") + 6)
        tag_row.addWidget(self.badge)
        tag_row.addWidget(self.their_mute)
        tag_row.addStretch(1)
        self.meter.setMinimumWidth(METER_MIN_WIDTH)
        self._tags = tags
        self.compact: bool | None = None
        self.set_compact(False)
        self._shown: tuple[object, ...] = ()
        self._stats: TrackStats | None = None
        self._figures = ""
        self._recolor()

    def set_compact(self, compact: bool) -> None:
        """Wide: one line. Narrow: name and controls on one line, the meter under them."""
        if compact == self.compact:
            return
        self.compact = compact
        grid = self._grid
        for widget in (self.speaking, self.name, self._tags, self.meter, self.quality,
                       self.mute_here, self.volume, self.volume_label):
            grid.removeWidget(widget)
        head = (self.speaking, self.name, self._tags)
        tail = (self.quality, self.mute_here, self.volume, self.volume_label)
        for column, widget in enumerate(head):
            grid.addWidget(widget, 0, column)
        if compact:
            grid.addWidget(self.meter, 1, 1, 1, 3 + len(tail))
            first = len(head) + 1  # a stretch column keeps the controls at the right
            for column, widget in enumerate(tail, start=first):
                grid.addWidget(widget, 0, column)
            grid.setColumnStretch(len(head), 1)
        else:
            grid.addWidget(self.meter, 0, len(head))
            for column, widget in enumerate(tail, start=len(head) + 1):
                grid.addWidget(widget, 0, column)
            grid.setColumnStretch(len(head), 1)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._recolor()
        super().changeEvent(event)

    def _recolor(self) -> None:
        self.their_mute.setStyleSheet(f"color: {error_color(self.palette()).name()};")

    def _on_volume(self, value: int) -> None:
        db = -math.inf if value <= VOLUME_MIN_DB else float(value)
        self.volume_label.setText(volume_text(db))
        self.volumeChanged.emit(self.identity, db)

    def set_volume_db(self, db: float) -> None:
        """Show a remembered volume without announcing it (the session already has it)."""
        self.volume.blockSignals(True)
        self.volume.setValue(VOLUME_MIN_DB if db == -math.inf else round(db))
        self.volume.blockSignals(False)
        self.volume_label.setText(volume_text(db))

    def set_muted_here(self, muted: bool) -> None:
        self.mute_here.blockSignals(True)
        self.mute_here.setChecked(muted)
        self.mute_here.blockSignals(False)

    def update_from(self, view: ParticipantView, meter: MeterSnapshot) -> None:
        stats = view.tracks[0].stats if view.tracks else None
        if stats is not self._stats:  # a new object every 2 s: said again only then
            self._stats = stats
            self._figures = stats_text(stats) if stats is not None else ""
        figures = self._figures
        shown = (view.name, view.is_agent, view.speaking, view.muted, view.quality, figures)
        if shown != self._shown:
            self._shown = shown
            self.name.setText(self.name.fontMetrics().elidedText(
                view.name, Qt.TextElideMode.ElideRight, NAME_WIDTH))
            self.name.setToolTip(view.identity)
            self.badge.setVisible(view.is_agent)
            self.their_mute.setVisible(view.muted)
            self.speaking.set_on(view.speaking)
            self.quality.set_quality(view.quality, figures)
        if view.is_agent:
            self.badge.show_state(view.agent_state, time.monotonic() - view.agent_state_since)
        self.meter.set_snapshot(meter)


def volume_text(db: float) -> str:
    return "off" if db == -math.inf else ("0 dB" if round(db) == 0 else f"{round(db):+d} dB")


class ParticipantsPanel(QScrollArea):
    """The scrolling list of strips, in join order."""

    volumeChanged = Signal(str, float)
    mutedHere = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAccessibleName("Participants")
        body = QWidget(self)
        self._layout = QVBoxLayout(body)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._empty = QLabel("Nobody else is here yet.", body)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._empty)
        self._layout.addStretch(1)
        self.setWidget(body)
        self.strips: dict[str, ParticipantStrip] = {}
        self._order: list[str] = []
        self._compact = False
        # What a new strip shows: the remembered volume and local mute (read only here).
        self.remembered: Callable[[str], tuple[float, bool]] = lambda identity: (0.0, False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        compact = self.viewport().width() < COMPACT_BELOW
        if compact != self._compact:
            self._compact = compact
            for strip in self.strips.values():
                strip.set_compact(compact)

    def update_from(self, views: tuple[ParticipantView, ...],
                    channels: dict[str, ChannelStats]) -> None:
        order = [v.identity for v in views]
        if order != self._order:
            self._relist(views)
        for view in views:
            strip = self.strips[view.identity]
            stats = [channels[k] for k in view.channel_keys if k in channels]
            strip.update_from(view, strongest(stats) if stats else SILENT)

    def _relist(self, views: tuple[ParticipantView, ...]) -> None:
        wanted = {v.identity for v in views}
        for identity in [i for i in self.strips if i not in wanted]:
            strip = self.strips.pop(identity)
            self._layout.removeWidget(strip)
            strip.deleteLater()
        for index, view in enumerate(views):
            found = self.strips.get(view.identity)
            if found is None:
                strip = ParticipantStrip(view.identity, self.widget())
                strip.set_compact(self._compact)
                volume, muted = self.remembered(view.identity)
                strip.set_volume_db(volume)
                strip.set_muted_here(muted)
                strip.volumeChanged.connect(self.volumeChanged)
                strip.mutedHere.connect(self.mutedHere)
                self.strips[view.identity] = strip
            else:
                strip = found
            self._layout.insertWidget(index, strip)
        self._order = [v.identity for v in views]
        self._empty.setVisible(not views)


