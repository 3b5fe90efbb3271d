"""One device picker for both directions: a labelled list, its error line, and what is open.

The microphone and the output picked devices the same way in two copies; now the picker
owns the list, shows what the engine has open (never what was merely clicked) and keeps its
own error line, and the panel that owns it says how to open a device. A failed choice
leaves the open device selected and says why beside the list; a good one clears that line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QWidget,
)

from console.widgets.texts import ErrorLine

if TYPE_CHECKING:
    from console.engine.devices import AudioDevice


def device_info(dev: AudioDevice) -> str:
    """What the sound server says of a device (its own lists only): rate and channels, and
    for Bluetooth the profile, with a warning when it is the narrow-band hands-free one."""
    if dev.backend != "pulse":
        return ""
    channels = max(dev.max_input_channels, dev.max_output_channels)
    parts = [f"{dev.default_samplerate / 1000:g} kHz, {channels} channel"
             + ("s" if channels != 1 else "")]
    if dev.bus == "bluetooth":
        parts.append(f"Bluetooth, profile {dev.profile or 'unknown'}")
    text = "; ".join(parts)
    if dev.narrow_band:
        text += (". Narrow band: a Bluetooth headset whose microphone is in use drops to "
                 "telephone quality (its hands-free profile) for listening too")
    return text


class DevicePicker(QWidget):
    """``chosen(name)`` when the user picks a device other than the open one."""

    chosen = Signal(str)

    def __init__(self, label: str, accessible: str, placeholder: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox(self)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # A long device name must not widen the whole column: it is elided, and listed whole.
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.setPlaceholderText(placeholder)
        self.combo.setAccessibleName(accessible)
        self.label = QLabel(label, self)
        self.label.setBuddy(self.combo)
        self.error = ErrorLine(f"{accessible} error", self)
        # What the sound server says of the open device (rate, channels, Bluetooth profile).
        self.info = QLabel("", self)
        self.info.setAccessibleName(f"{accessible} details")
        self.info.setWordWrap(True)
        self.info.hide()
        grid.addWidget(self.label, 0, 0)
        grid.addWidget(self.combo, 0, 1)
        grid.addWidget(self.info, 1, 1)
        grid.addWidget(self.error, 2, 1)
        grid.setColumnStretch(1, 1)
        self._populating = False
        self._found: dict[str, AudioDevice] = {}
        self._open: Callable[[], AudioDevice | None] = lambda: None
        self._is_default: Callable[[AudioDevice], bool] = lambda d: False
        self.combo.currentIndexChanged.connect(self._on_index)

    def bind(self, open_device: Callable[[], AudioDevice | None],
             is_default: Callable[[AudioDevice], bool]) -> None:
        """Where to read the open device, and which listed device is the system default."""
        self._open, self._is_default = open_device, is_default

    def set_devices(self, found: list[AudioDevice]) -> None:
        """List ``found`` (the default marked) and select what is open."""
        self._populating = True
        try:
            self.combo.clear()
            for dev in found:
                suffix = " (default)" if self._is_default(dev) else ""
                self.combo.addItem(dev.label + suffix, dev.name)
                self.combo.setItemData(self.combo.count() - 1, dev.label + suffix,
                                       Qt.ItemDataRole.ToolTipRole)
        finally:
            self._populating = False
        self._found = {dev.name: dev for dev in found}
        self.select_open()

    def names(self) -> list[str]:
        return [str(self.combo.itemData(i)) for i in range(self.combo.count())]

    def select_open(self) -> None:
        """Show the device the engine has open (none selected when nothing is open)."""
        current = self._open()
        index = -1 if current is None else self.combo.findData(current.name)
        if index != self.combo.currentIndex():
            self._populating = True
            try:
                self.combo.setCurrentIndex(index)
            finally:
                self._populating = False
        self.combo.setToolTip(self.combo.currentText())
        # the listing's entry, not the one from when it opened: a Bluetooth headset changes
        # its profile once its microphone is in use
        listed = self._found.get(current.name) if current is not None else None
        text = device_info(listed) if listed is not None else ""
        if self.info.text() != text:
            self.info.setText(text)
        self.info.setVisible(bool(text))

    def show_error(self, text: str) -> None:
        self.error.show_text(text)

    def open_with(self, open_device: Callable[[str], AudioDevice], spec: str,
                  remember: Callable[[str], None] | None) -> bool:
        """Open ``spec``; on failure say why and keep showing what is open, on success
        clear the line and ``remember`` the device's name."""
        try:
            dev = open_device(spec)
        except Exception as exc:
            self.show_error(str(exc) or type(exc).__name__)
            self.select_open()
            return False
        self.show_error("")
        self.select_open()
        if remember is not None:
            remember(dev.name)
        return True

    def _on_index(self, index: int) -> None:
        if self._populating or index < 0:
            return
        name = self.combo.itemData(index)
        current = self._open()
        if isinstance(name, str) and (current is None or current.name != name):
            self.chosen.emit(name)
