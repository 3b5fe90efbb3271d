"""The microphone gain slider: whole dB from -20 to +20, with its value beside it.

Arrow keys move it by 1 dB, Page Up / Page Down by 6 dB; a double click on the value (or
the key 0 while the slider has focus) brings it back to 0 dB.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from console.engine.input_gain import MAX_DB, MIN_DB


def gain_text(db: float) -> str:
    return f"{db:+.0f} dB" if round(db) != 0 else "0 dB"


class _ResetLabel(QLabel):
    doubleClicked = Signal()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.doubleClicked.emit()
        super().mouseDoubleClickEvent(event)


class _Slider(QSlider):
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_0:
            self.setValue(0)
            return
        super().keyPressEvent(event)


class GainControl(QWidget):
    """A slider and its readout; ``gainChanged`` carries the new gain in dB."""

    gainChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.slider = _Slider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(int(MIN_DB), int(MAX_DB))
        self.slider.setSingleStep(1)
        self.slider.setPageStep(6)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(10)
        self.slider.setAccessibleName("Input gain")
        self.slider.setToolTip("Microphone gain, before processing and the meter "
                               "(0 or a double click on the value: back to 0 dB)")
        self.value = _ResetLabel(gain_text(0.0), self)
        self.value.setMinimumWidth(self.fontMetrics().horizontalAdvance("+20 dB") + 6)
        self.value.setAccessibleName("Input gain value")
        self.value.doubleClicked.connect(lambda: self.slider.setValue(0))
        row.addWidget(self.slider, 1)
        row.addWidget(self.value)
        self.slider.valueChanged.connect(self._on_value)

    @property
    def db(self) -> float:
        return float(self.slider.value())

    def set_db(self, db: float) -> None:
        """Show ``db`` without emitting ``gainChanged``."""
        self.slider.blockSignals(True)
        self.slider.setValue(round(db))  # QSlider keeps it within its range
        self.slider.blockSignals(False)
        self.value.setText(gain_text(self.db))

    def _on_value(self, value: int) -> None:
        self.value.setText(gain_text(float(value)))
        self.gainChanged.emit(float(value))
