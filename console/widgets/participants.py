"""A strip per remote participant, in a scrolling list that keeps a stable order.

Each strip shows the name, an agent badge, a speaking dot, the pre-fader meter, the
participant's own mute, their connection quality, and the local controls: mute here and
volume. The list is updated from one session snapshot per display tick; strips are reused
(never rebuilt) and only touched when something they show changed, so fifty of them
scroll smoothly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from console.engine.meter import SILENT, MeterSnapshot
from console.widgets.level_meter import LevelMeterWidget

if TYPE_CHECKING:
    from console.engine.channel import ChannelStats
    from console.session.model import ParticipantView

VOLUME_MIN_DB = -40   # the slider's bottom end is "off"
NAME_WIDTH = 130
TAGS_WIDTH = 76
VOLUME_MAX_DB = 12
QUALITY_TEXT = {"excellent": "●●●", "good": "●●○", "poor": "●○○", "lost": "○○○",
                "unknown": "···"}


def strongest(stats: list[ChannelStats]) -> MeterSnapshot:
    """The loudest of a participant's channels (most have one)."""
    if not stats:
        return SILENT
    return max((s.meter for s in stats), key=lambda m: m.rms_db)


class ParticipantStrip(QFrame):
    """One participant's row."""

    volumeChanged = Signal(str, float)   # identity, dB (-inf: off)
    mutedHere = Signal(str, bool)

    def __init__(self, identity: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.identity = identity
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Participant {identity}")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 3, 6, 3)
        self.speaking = QLabel("●", self)
        self.speaking.setAccessibleName("Speaking")
        self.speaking.setFixedWidth(14)
        self.name = QLabel(identity, self)
        self.name.setFixedWidth(NAME_WIDTH)
        tags = QWidget(self)  # a fixed slot, so that every meter starts at the same x
        tags.setFixedWidth(TAGS_WIDTH)
        tag_row = QHBoxLayout(tags)
        tag_row.setContentsMargins(0, 0, 0, 0)
        tag_row.setSpacing(3)
        self.badge = QLabel("agent", tags)
        self.badge.setStyleSheet("QLabel { background: #5b4bb7; color: white; "
                                 "border-radius: 3px; padding: 0 3px; }")
        self.badge.setMaximumHeight(self.fontMetrics().height() + 2)
        self.badge.hide()
        self.their_mute = QLabel("muted", tags)
        self.their_mute.setStyleSheet("color: #c0302a;")
        self.their_mute.setToolTip("They muted their microphone")
        self.meter = LevelMeterWidget(self)
        self.meter.setAccessibleName(f"Level of {identity}")
        self.quality = QLabel(QUALITY_TEXT["unknown"], self)
        self.quality.setToolTip("Connection quality")
        self.mute_here = QCheckBox("Mute", self)
        self.mute_here.setToolTip("Mute this participant here only")
        self.mute_here.toggled.connect(lambda on: self.mutedHere.emit(self.identity, on))
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setRange(VOLUME_MIN_DB, VOLUME_MAX_DB)
        self.volume.setValue(0)
        self.volume.setFixedWidth(80)
        self.volume.setAccessibleName(f"Volume of {identity}")
        self.volume.valueChanged.connect(self._on_volume)
        self.volume_label = QLabel("0 dB", self)
        self.volume_label.setFixedWidth(48)
        tag_row.addWidget(self.badge)
        tag_row.addWidget(self.their_mute)
        tag_row.addStretch(1)
        self.meter.setMinimumWidth(140)
        left: tuple[QWidget, ...] = (self.speaking, self.name, tags)
        right: tuple[QWidget, ...] = (self.quality, self.mute_here, self.volume,
                                      self.volume_label)
        for widget in left:
            row.addWidget(widget)
        row.addWidget(self.meter, 1)
        for widget in right:
            row.addWidget(widget)
        self._shown: tuple[object, ...] = ()
        self._set_speaking(False)

    def _on_volume(self, value: int) -> None:
        db = -math.inf if value <= VOLUME_MIN_DB else float(value)
        self.volume_label.setText("off" if db == -math.inf else f"{value:+d} dB")
        self.volumeChanged.emit(self.identity, db)

    def set_volume_db(self, db: float) -> None:
        self.volume.setValue(VOLUME_MIN_DB if db == -math.inf else round(db))

    def _set_speaking(self, on: bool) -> None:
        self.speaking.setStyleSheet(f"color: {'#2aa745' if on else '#9a9a9a'};")

    def update_from(self, view: ParticipantView, meter: MeterSnapshot) -> None:
        shown = (view.name, view.is_agent, view.speaking, view.muted, view.quality)
        if shown != self._shown:
            self._shown = shown
            self.name.setText(self.name.fontMetrics().elidedText(
                view.name, Qt.TextElideMode.ElideRight, NAME_WIDTH))
            self.name.setToolTip(view.identity)
            self.badge.setVisible(view.is_agent)
            self.their_mute.setVisible(view.muted)
            self._set_speaking(view.speaking)
            self.quality.setText(QUALITY_TEXT.get(view.quality, view.quality))
            self.quality.setToolTip(f"Connection quality: {view.quality}")
        self.meter.set_snapshot(meter)


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
        self.initial_volume: Callable[[str], float] = lambda identity: 0.0

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
                strip.set_volume_db(self.initial_volume(view.identity))
                strip.volumeChanged.connect(self.volumeChanged)
                strip.mutedHere.connect(self.mutedHere)
                self.strips[view.identity] = strip
            else:
                strip = found
            self._layout.insertWidget(index, strip)
        self._order = [v.identity for v in views]
        self._empty.setVisible(not views)


