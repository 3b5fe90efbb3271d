"""The console's main window: microphone picker, processing toggles, level meter, status.

One 30 Hz QTimer (running while the window is shown) polls the engine's snapshots (meter,
capture counters) and pushes them into the widgets; nothing is signalled per audio frame.
Every user change goes straight to the engine and is remembered in the settings store.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from console import settings as settings_mod
from console.engine.meter import FLOOR_DB, SILENT, MeterSnapshot
from console.settings import Settings
from console.widgets.engine_protocol import AudioEngineLike
from console.widgets.level_meter import LevelMeterWidget

if TYPE_CHECKING:  # types only: the engine modules load livekit
    from console.engine.apm import ProcessingConfig
    from console.engine.capture import CaptureStats

POLL_INTERVAL_MS = 33  # ~30 Hz

# (ProcessingConfig field, check box text with its mnemonic)
TOGGLES: tuple[tuple[str, str], ...] = (
    ("echo_cancellation", "&Echo cancellation"),
    ("noise_suppression", "&Noise suppression"),
    ("auto_gain_control", "Auto &gain"),
    ("high_pass_filter", "&High-pass filter"),
)


def format_db(db: float) -> str:
    """A level for the readout: one decimal, ``-inf`` at the meter floor."""
    return "-inf" if db <= FLOOR_DB else f"{db:.1f}"


def readout_text(snapshot: MeterSnapshot) -> str:
    return f"Peak {format_db(snapshot.peak_db)} dBFS   RMS {format_db(snapshot.rms_db)} dBFS"


def status_text(stats: CaptureStats) -> str:
    """One line: the device's condition, frames dropped, AudioSource queue depth."""
    if stats.device_error:
        state = stats.device_error
    elif stats.stalled:
        state = "stalled"
    elif not stats.running:
        state = "stopped"
    else:
        state = f"capturing from {stats.device}" if stats.device else "no microphone"
    dropped = sum(stats.frames_dropped.values())
    return f"{state}  |  dropped {dropped} frames  |  queue {stats.source_queue_ms:.0f} ms"


class MainWindow(QMainWindow):
    """The console window; ``initial`` overrides what ``store`` remembers for this run only."""

    def __init__(
        self,
        engine: AudioEngineLike,
        store: QSettings,
        *,
        initial: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._engine = engine
        self._store = store
        self._remembered = settings_mod.load(store)
        self._populating = False
        self.setWindowTitle("LiveKit Console")
        self._build()
        self._restore_geometry()
        self.refresh_devices(refresh=False)
        self._apply(initial if initial is not None else self._remembered)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self.poll)
        self.poll()

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget(self)
        layout = QVBoxLayout(central)

        mic = QGroupBox("Microphone", central)
        grid = QGridLayout(mic)
        self.device_combo = QComboBox(mic)
        self.device_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.device_combo.setPlaceholderText("No microphone open")
        self.device_combo.setAccessibleName("Input device")
        self.device_combo.currentIndexChanged.connect(self._on_device_chosen)
        device_label = QLabel("&Input device:", mic)
        device_label.setBuddy(self.device_combo)
        self.refresh_button = QPushButton("&Refresh", mic)
        self.refresh_button.setToolTip("List the input devices again (F5)")
        self.refresh_button.clicked.connect(lambda: self.refresh_devices(refresh=True))
        self.error_label = QLabel(mic)
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName("Device error")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet("color: #c0302a;")
        self.error_label.hide()
        self.meter = LevelMeterWidget(mic)
        self.meter.setAccessibleName("Microphone level")
        self.meter.clipResetRequested.connect(self._engine.reset_mic_clip)
        meter_label = QLabel("&Level:", mic)
        meter_label.setBuddy(self.meter)
        self.readout = QLabel(readout_text(SILENT), mic)
        self.readout.setAccessibleName("Microphone level readout")
        grid.addWidget(device_label, 0, 0)
        grid.addWidget(self.device_combo, 0, 1)
        grid.addWidget(self.refresh_button, 0, 2)
        grid.addWidget(self.error_label, 1, 1, 1, 2)
        grid.addWidget(meter_label, 2, 0)
        grid.addWidget(self.meter, 2, 1, 1, 2)
        grid.addWidget(self.readout, 3, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        layout.addWidget(mic)

        proc = QGroupBox("Processing", central)
        row = QHBoxLayout(proc)
        self.toggles: dict[str, QCheckBox] = {}
        for name, text in TOGGLES:
            box = QCheckBox(text, proc)
            box.toggled.connect(lambda checked, n=name: self._on_toggled(n, checked))
            row.addWidget(box)
            self.toggles[name] = box
        row.addStretch(1)
        layout.addWidget(proc)
        layout.addStretch(1)
        self.setCentralWidget(central)

        self.status_label = QLabel(self)
        self.status_label.setAccessibleName("Capture status")
        self.statusBar().addWidget(self.status_label, 1)

        order: list[QWidget] = [self.device_combo, self.refresh_button, self.meter,
                                *self.toggles.values()]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

        menu = self.menuBar().addMenu("&File")
        self.refresh_action = QAction("&Refresh devices", self)
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.triggered.connect(lambda: self.refresh_devices(refresh=True))
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.triggered.connect(self.close)
        menu.addAction(self.refresh_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)

    def _restore_geometry(self) -> None:
        if self._remembered.window_geometry:
            self.restoreGeometry(QByteArray(self._remembered.window_geometry))
        else:
            hint = self.sizeHint()
            self.resize(max(560, hint.width()), hint.height())
        if self._remembered.window_state:
            self.restoreState(QByteArray(self._remembered.window_state))

    def _apply(self, start: Settings) -> None:
        """Bring the engine to the start settings, touching only what differs."""
        current = self._engine.input_device
        if start.input_device and (current is None or current.name != start.input_device):
            self.choose_input_device(start.input_device, remember=False)
        wanted = start.processing()
        config = self._engine.processing
        if any(getattr(config, name) != value for name, value in wanted.items()):
            self._set_processing(dataclasses.replace(config, **wanted))
        self._sync_toggles()

    # -- public API --------------------------------------------------------------------------
    def show_error(self, text: str) -> None:
        """Show a problem (engine start, device switch) in place; empty text hides it."""
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def refresh_devices(self, refresh: bool = True) -> None:
        """List the input devices again (``refresh`` re-scans PortAudio)."""
        try:
            found = self._engine.input_devices(refresh=refresh)
        except Exception as exc:
            self.show_error(f"Cannot list input devices: {exc}")
            return
        self._populating = True
        try:
            self.device_combo.clear()
            for dev in found:
                suffix = " (default)" if dev.is_default_input else ""
                self.device_combo.addItem(dev.label + suffix, dev.name)
        finally:
            self._populating = False
        self._select_current()

    def choose_input_device(self, spec: str, *, remember: bool = True) -> bool:
        """Switch the microphone; on failure show why and keep the current one."""
        try:
            dev = self._engine.set_input_device(spec)
        except Exception as exc:
            self.show_error(str(exc) or type(exc).__name__)
            self._select_current()
            return False
        self.show_error("")
        self._select_current()
        if remember:
            self._remember(input_device=dev.name)
        return True

    def poll(self) -> None:
        """One display tick: read the engine's snapshots and update the widgets."""
        try:
            snapshot = self._engine.mic_meter()
        except Exception:
            snapshot = SILENT
        self.meter.set_snapshot(snapshot)
        _set_text(self.readout, readout_text(snapshot))
        try:
            status = status_text(self._engine.capture_stats())
        except Exception:  # not started, or already stopped
            status = "audio engine not running"
        _set_text(self.status_label, status)

    # -- events ------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        self._remember(window_geometry=self.saveGeometry().data(),
                       window_state=self.saveState().data())
        super().closeEvent(event)

    def _on_device_chosen(self, index: int) -> None:
        if self._populating or index < 0:
            return
        name = self.device_combo.itemData(index)
        current = self._engine.input_device
        if isinstance(name, str) and (current is None or current.name != name):
            self.choose_input_device(name)

    def _on_toggled(self, name: str, checked: bool) -> None:
        config = self._engine.processing
        if getattr(config, name) == checked:
            return
        if self._set_processing(dataclasses.replace(config, **{name: checked})):
            self._remember(**{name: checked})
        self._sync_toggles()

    # -- helpers -----------------------------------------------------------------------------
    def _set_processing(self, config: ProcessingConfig) -> bool:
        try:
            self._engine.set_processing(config)
        except Exception as exc:
            self.show_error(f"Cannot change processing: {exc}")
            return False
        return True

    def _sync_toggles(self) -> None:
        config = self._engine.processing
        for name, box in self.toggles.items():
            value = bool(getattr(config, name))
            if box.isChecked() != value:
                box.blockSignals(True)
                box.setChecked(value)
                box.blockSignals(False)

    def _select_current(self) -> None:
        current = self._engine.input_device
        index = -1 if current is None else self.device_combo.findData(current.name)
        if index != self.device_combo.currentIndex():
            self._populating = True
            try:
                self.device_combo.setCurrentIndex(index)
            finally:
                self._populating = False

    def _remember(self, **changes: object) -> None:
        self._remembered = self._remembered.replace(**changes)
        settings_mod.save(self._remembered, self._store)


def _set_text(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)
