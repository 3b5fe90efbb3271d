"""The output panel: where every participant is heard, and a test tone to check it.

The output opens at start (the remembered device if it is listed, else the system default)
and can be switched during a call; a failed switch keeps the device that plays and says why
under the list.
"""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from console.widgets.device_picker import DevicePicker
from console.widgets.engine_protocol import AudioEngineLike
from console.widgets.panel import Prefs


class OutputPanel(QGroupBox):
    SETTINGS: ClassVar[tuple[str, ...]] = ("output_device",)

    def __init__(self, engine: AudioEngineLike, prefs: Prefs,
                 parent: QWidget | None = None) -> None:
        super().__init__("Output", parent)
        self._engine = engine
        self._prefs = prefs
        self._notice: str | None = None
        outer = QVBoxLayout(self)
        self.picker = DevicePicker("O&utput device:", "Output device", "No output device", self)
        self.picker.bind(lambda: engine.output_device, lambda d: d.is_default_output)
        self.picker.chosen.connect(self.choose)
        outer.addWidget(self.picker)
        row = QHBoxLayout()
        self.test_tone = QPushButton("Pla&y test tone", self)
        self.test_tone.setToolTip("One second of 440 Hz at -18 dBFS through the output")
        self.test_tone.clicked.connect(self.play_test_tone)
        row.addWidget(self.test_tone)
        row.addStretch(1)
        outer.addLayout(row)

    def populate(self) -> None:
        """List the outputs; open the remembered one (or the default) if none is open."""
        try:
            found = self._engine.output_devices()
        except Exception as exc:
            self.picker.show_error(f"Cannot list output devices: {exc}")
            return
        self.picker.set_devices(found)
        # The chosen output went away (or came back): where it plays meanwhile, said in
        # place; a notice the engine no longer gives is cleared.
        notice = self._engine.output_stats().notice
        if notice is not None or self._notice is not None:
            self.picker.show_error(notice or "")
        self._notice = notice
        if self._engine.output_device is None:
            wanted = self._prefs.value.output_device
            names = {d.name for d in found}
            default = next((d.name for d in found if d.is_default_output), None)
            name = wanted if wanted in names else default
            if name is not None:
                self.choose(name, remember=False)

    def choose(self, spec: str, *, remember: bool = True) -> bool:
        """Switch the output, also during a call; on failure say why, keep the current."""
        return self.picker.open_with(
            self._engine.start_output, spec,
            (lambda name: self._prefs.remember(output_device=name)) if remember else None)

    def play_test_tone(self) -> None:
        """One second of 440 Hz on the output device (what the participants play through)."""
        if self._engine.output_device is None:
            self.picker.show_error("No output device is open: choose one to hear the test "
                                   "tone.")
            return
        self._engine.play_test_tone()

    def poll(self) -> None:
        """Nothing moves here between device changes."""
