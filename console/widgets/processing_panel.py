"""The processing panel: the four live APM switches and the echo canceller's figures.

The figures sit in a slot of fixed width that is there whether echo cancellation is on or
off, so toggling it never moves anything else in the window. ERLE above 60 dB reads "> 60
dB": the canceller's estimate up there says only "no echo left" (131 dB was once shown),
and the echo delay is shown only while the canceller reports having measured it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from console.settings import PROCESSING_OPTIONS
from console.widgets.engine_protocol import AudioEngineLike
from console.widgets.panel import Prefs
from console.widgets.texts import ErrorLine

if TYPE_CHECKING:
    from console.engine.echo_metrics import EchoStats

ERLE_CEILING_DB = 60.0

# (ProcessingConfig field, check box text with its mnemonic)
TOGGLES: tuple[tuple[str, str], ...] = (
    ("echo_cancellation", "&Echo cancellation"),
    ("noise_suppression", "&Noise suppression"),
    ("auto_gain_control", "Auto &gain"),
    ("high_pass_filter", "High-pa&ss filter"),
)


def echo_text(stats: EchoStats, on: bool) -> str:
    """"ERLE 23 dB · delay 40 ms", "ERLE > 60 dB", "ERLE —" (far end silent), "" when off."""
    if not on:
        return ""
    erle = stats.erle_db
    if math.isnan(erle):
        text = "ERLE —"
    elif erle > ERLE_CEILING_DB:
        text = f"ERLE > {ERLE_CEILING_DB:.0f} dB"
    else:
        text = f"ERLE {max(0.0, erle):.0f} dB"
    if not math.isnan(stats.echo_delay_ms) and stats.delay_confidence > 0:
        text += f" · delay {stats.echo_delay_ms:.0f} ms"
    return text


class ProcessingPanel(QGroupBox):
    """Owns the processing toggles' settings; a refused change is said under them."""

    SETTINGS: ClassVar[tuple[str, ...]] = PROCESSING_OPTIONS

    def __init__(self, engine: AudioEngineLike, prefs: Prefs,
                 parent: QWidget | None = None) -> None:
        super().__init__("Processing", parent)
        self._engine = engine
        self._prefs = prefs
        outer = QVBoxLayout(self)
        grid = QGridLayout()  # two by two: fits the narrowest column
        self.toggles: dict[str, QCheckBox] = {}
        for index, (name, text) in enumerate(TOGGLES):
            box = QCheckBox(text, self)
            box.toggled.connect(lambda checked, n=name: self._on_toggled(n, checked))
            grid.addWidget(box, index // 2, index % 2)
            self.toggles[name] = box
        grid.setColumnStretch(2, 1)
        outer.addLayout(grid)
        self.echo_label = QLabel("", self)
        self.echo_label.setAccessibleName("Echo cancellation figures")
        self.echo_label.setToolTip("Echo return loss enhancement over the last second and "
                                   "the estimated echo delay, measured while the far end "
                                   "talks")
        widest = self.fontMetrics().horizontalAdvance("ERLE > 60 dB · delay 999 ms")
        self.echo_label.setMinimumWidth(widest + 8)
        self.echo_label.setMinimumHeight(self.fontMetrics().height())
        self.echo_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        outer.addWidget(self.echo_label)
        self.error = ErrorLine("Processing error", self)
        outer.addWidget(self.error)

    def apply(self, wanted: dict[str, bool]) -> None:
        """Bring the engine to ``wanted`` (start settings), touching only what differs."""
        config = self._engine.processing
        if any(getattr(config, name) != value for name, value in wanted.items()):
            self._set(dataclasses.replace(config, **wanted))
        self.sync()

    def sync(self) -> None:
        """Show what the engine runs (a refused change flips the box back)."""
        config = self._engine.processing
        for name, box in self.toggles.items():
            value = bool(getattr(config, name))
            if box.isChecked() != value:
                box.blockSignals(True)
                box.setChecked(value)
                box.blockSignals(False)

    def poll(self) -> None:
        text = echo_text(self._engine.echo_stats(), self._engine.processing.echo_cancellation)
        if self.echo_label.text() != text:
            self.echo_label.setText(text)

    def _on_toggled(self, name: str, checked: bool) -> None:
        config = self._engine.processing
        if getattr(config, name) == checked:
            return
        if self._set(dataclasses.replace(config, **{name: checked})):
            self._prefs.remember(**{name: checked})
        self.sync()

    def _set(self, config: object) -> bool:
        try:
            self._engine.set_processing(config)  # type: ignore[arg-type]
        except Exception as exc:
            self.error.show_text(f"Cannot change processing: {exc}")
            return False
        self.error.show_text("")
        return True
