"""The microphone panel: which input, its state at a glance, what it hears and what is sent.

Two meters, labelled, because processing changes the level by tens of dB: "Heard" is what
the microphone delivers (after the input gain), "Sent" what leaves after echo
cancellation, noise suppression and auto gain. With echo cancellation on, a room the
microphone hears at -10 dBFS is sent at -80: one meter showing only that looked broken.
When the chosen input goes away, a banner says what the engine did (fell back to the
default input, or waits) until it is back and reopened.
"""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.engine.meter import FLOOR_DB, MeterSnapshot
from console.engine.mic_state import MicStatus
from console.engine.mic_test import TEST_SECONDS, Phase
from console.widgets.device_picker import DevicePicker
from console.widgets.engine_protocol import AudioEngineLike
from console.widgets.gain_control import GainControl
from console.widgets.level_meter import LevelMeterWidget
from console.widgets.mic_state import MicStateBadge, mic_look
from console.widgets.panel import Prefs
from console.widgets.texts import WrappingLabel


def format_db(db: float) -> str:
    """A level for the readout: one decimal, ``-inf`` at the meter floor."""
    return "-inf" if db <= FLOOR_DB else f"{db:.1f}"


def readout_text(snapshot: MeterSnapshot) -> str:
    return f"Peak {format_db(snapshot.hold_db)}   RMS {format_db(snapshot.rms_db)} dBFS"


class _Banner(WrappingLabel):
    """An amber notice: a device went away and what was done about it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Microphone notice", parent)
        self.setStyleSheet("QLabel { background: #fff3cd; color: #4d3800; "
                           "border: 1px solid #e0b84d; border-radius: 4px; padding: 4px; }")
        self.hide()


class MicrophonePanel(QGroupBox):
    """Owns the input device and the input gain; shows self-mute and push-to-talk."""

    SETTINGS: ClassVar[tuple[str, ...]] = ("input_device", "input_label", "input_gain_db")

    def __init__(self, engine: AudioEngineLike, prefs: Prefs, *, room: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__("Microphone", parent)
        self._engine = engine
        self._prefs = prefs
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.picker = DevicePicker("&Input device:", "Input device", "No microphone open", self)
        self.picker.bind(lambda: engine.input_device, lambda d: d.is_default_input)
        self.picker.chosen.connect(self.choose)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setToolTip("List the audio devices again (F5)")
        top.addWidget(self.picker, 1)
        top.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(top)
        self.banner = _Banner(self)
        outer.addWidget(self.banner)
        self.badge = MicStateBadge(self)
        outer.addWidget(self.badge)

        grid = QGridLayout()
        self.heard = LevelMeterWidget(self)
        self.heard.setAccessibleName("Heard: what the microphone delivers")
        self.heard.clipResetRequested.connect(engine.reset_mic_clip)
        self.sent = LevelMeterWidget(self)
        self.sent.setAccessibleName("Sent: after echo cancellation, noise suppression and "
                                    "auto gain")
        self.sent.clipResetRequested.connect(engine.reset_mic_clip)
        self.heard_readout = QLabel(self)
        self.sent_readout = QLabel(self)
        for readout, name in ((self.heard_readout, "Heard level"),
                              (self.sent_readout, "Sent level")):
            readout.setAccessibleName(name)
            readout.setMinimumWidth(
                readout.fontMetrics().horizontalAdvance("Peak -100.0   RMS -100.0 dBFS") + 4)
        heard_label = QLabel("Heard", self)
        heard_label.setToolTip("What the microphone delivers, after the input gain and "
                               "before processing")
        sent_label = QLabel("Sent", self)
        sent_label.setToolTip("What the others get: after echo cancellation, noise "
                              "suppression and auto gain")
        self.gain = GainControl(self)
        self.gain.gainChanged.connect(self._on_gain)
        gain_label = QLabel("G&ain:", self)
        gain_label.setBuddy(self.gain.slider)
        grid.addWidget(heard_label, 0, 0)
        grid.addWidget(self.heard, 0, 1)
        grid.addWidget(self.heard_readout, 1, 1)
        grid.addWidget(sent_label, 2, 0)
        grid.addWidget(self.sent, 2, 1)
        grid.addWidget(self.sent_readout, 3, 1)
        grid.addWidget(gain_label, 4, 0)
        grid.addWidget(self.gain, 4, 1)
        grid.setColumnStretch(1, 1)
        outer.addLayout(grid)

        self.self_mute = QCheckBox("&Mute me (M)", self)
        self.self_mute.setToolTip("Mute your microphone; the others see you muted")
        self.ptt = QCheckBox("&Push to talk (hold Space)", self)
        self.ptt.setToolTip("Only while Space is held do the others hear you (not while "
                            "typing in a field)")
        me = QHBoxLayout()
        me.addWidget(self.self_mute)
        me.addWidget(self.ptt)
        me.addStretch(1)
        outer.addLayout(me)

        # Checking the microphone without a room: a recording played back, or oneself live.
        check = QHBoxLayout()
        self.test_button = QPushButton("Test microphone", self)
        self.test_button.setToolTip(
            f"Record {TEST_SECONDS:.0f} s as the others would hear you (after processing), "
            "then hear it played back on the output (Ctrl+T; again to stop)")
        self.test_button.clicked.connect(self.toggle_mic_test)
        self.hear_myself = QCheckBox("Hear myself", self)
        self.hear_myself.setToolTip("Hear your microphone live, as it is sent, on the output "
                                    "(Ctrl+H). Use headphones: speakers feed it back.")
        self.hear_myself.toggled.connect(self._on_hear_myself)
        # wraps in the width it is given: a long line must not widen the panel
        self.check_status = WrappingLabel("Microphone check", self)
        self.check_status.setVisible(False)
        check.addWidget(self.test_button)
        check.addWidget(self.hear_myself)
        check.addWidget(self.check_status, 1)
        check.addStretch(0)  # the buttons keep their size while the line is hidden
        outer.addLayout(check)
        for box in (self.self_mute, self.ptt):
            box.setVisible(room)
        self.in_room = False
        self.reconnecting = False
        self.talking = False
        self.poll()

    # -- devices ---------------------------------------------------------------------------
    def refresh(self, refresh: bool = True) -> None:
        """List the inputs again (``refresh`` re-scans the system's devices)."""
        try:
            found = self._engine.input_devices(refresh=refresh)
        except Exception as exc:
            self.picker.show_error(f"Cannot list input devices: {exc}")
            return
        self.picker.set_devices(found)

    def choose(self, spec: str, *, remember: bool = True) -> bool:
        """Switch the microphone; on failure say why and keep the current one."""
        return self.picker.open_with(
            self._engine.set_input_device, spec,
            self._remember if remember else None)

    def _remember(self, name: str) -> None:
        """The device by its stable name, and what the desktop calls it (for the words
        should it be missing at the next start)."""
        device = self._engine.input_device
        label = device.description if device is not None and device.name == name else ""
        self._prefs.remember(input_device=name, input_label=label)

    def apply_gain(self, db: float) -> None:
        if db != self._engine.input_gain_db:
            self._engine.set_input_gain_db(db)
        self.gain.set_db(self._engine.input_gain_db)

    def _on_gain(self, db: float) -> None:
        self._engine.set_input_gain_db(db)
        self._prefs.remember(input_gain_db=db)

    # -- checking the microphone ---------------------------------------------------------
    def toggle_mic_test(self) -> None:
        """Start a microphone test, or stop the one under way."""
        if self._engine.mic_test_state().phase is not Phase.IDLE:
            self._engine.cancel_mic_test()
        else:
            self._engine.start_mic_test(TEST_SECONDS)
        self._poll_check()

    def _on_hear_myself(self, on: bool) -> None:
        try:
            self._engine.set_hear_myself(on)
        except Exception as exc:  # the engine is not running: say so, leave it off
            self.picker.show_error(f"Cannot play the microphone back: {exc}")
            self.hear_myself.setChecked(False)
        self._poll_check()

    def _poll_check(self) -> None:
        test = self._engine.mic_test_state()
        if test.phase is Phase.RECORDING:
            left = max(0.0, test.seconds * (1.0 - test.progress))
            text, button = f"Recording: speak now ({left:.0f} s left)", "Stop test"
        elif test.phase is Phase.PLAYING:
            text, button = f"Playing back what was recorded ({test.level_dbfs:.0f} dBFS)", \
                "Stop test"
        else:
            text = (f"Last test: recorded at {test.level_dbfs:.0f} dBFS"
                    if test.level_dbfs == test.level_dbfs else "")
            button = "Test microphone"
            if self._engine.hearing_myself:
                latency = self._engine.hear_myself_latency_ms()
                text = ("Hearing yourself" + (f", {latency:.0f} ms late"
                                              if latency == latency else "")
                        + " (use headphones)")
        self.check_status.show_text(text)
        if self.test_button.text() != button:
            self.test_button.setText(button)

    # -- display ---------------------------------------------------------------------------
    def poll_meters(self) -> None:
        """The two meters and their readouts only (the ticks between full polls)."""
        meters = self._engine.mic_meters()
        self.heard.set_snapshot(meters.heard)
        self.sent.set_snapshot(meters.sent)
        _set_text(self.heard_readout, readout_text(meters.heard))
        _set_text(self.sent_readout, readout_text(meters.sent))

    def poll(self) -> None:
        self.poll_meters()
        state = self._engine.mic_state()
        self.banner.show_text(state.message)
        if state.device is not None and self.picker.combo.currentData() != state.device:
            self.picker.select_open()  # the engine fell back, or reopened the chosen one
        self._poll_check()
        self.badge.show_look(mic_look(
            has_device=state.status in (MicStatus.LIVE, MicStatus.STALLED),
            in_room=self.in_room, reconnecting=self.reconnecting,
            muted=self.self_mute.isChecked(),
            push_to_talk=self.ptt.isChecked(), talking=self.talking))


def _set_text(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)
