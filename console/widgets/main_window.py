"""The console's main window: microphone picker, processing toggles, level meter, status.

One 30 Hz QTimer (running while the window is shown) polls the engine's snapshots (meter,
capture counters) and pushes them into the widgets; nothing is signalled per audio frame.
Every user change goes straight to the engine and is remembered in the settings store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QHideEvent,
    QKeyEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from console import gc_pauses
from console import settings as settings_mod
from console.engine.device_watch import DeviceWatch
from console.engine.meter import FLOOR_DB, SILENT, MeterSnapshot
from console.gc_pauses import ROOM_SETTLE_S
from console.settings import Settings
from console.widgets.controller_protocol import RoomControllerLike
from console.widgets.engine_protocol import AudioEngineLike
from console.widgets.gain_control import GainControl
from console.widgets.level_meter import LevelMeterWidget

if TYPE_CHECKING:  # types only: the engine modules load livekit
    from console.engine.apm import ProcessingConfig
    from console.engine.capture import CaptureStats
    from console.session.model import SessionSnapshot

POLL_INTERVAL_MS = 33  # ~30 Hz
DEVICE_WATCH_S = 1.0   # how often the device lists' sources are checked (a few file reads)

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


SHORTCUTS = (
    ("M", "Mute / unmute your microphone (the others see it)"),
    ("Space (held)", "Talk, when push-to-talk is on"),
    ("Alt+J / Alt+V", "Join / leave the room"),
    ("Alt+L / Alt+S", "Local sandbox / a server"),
    ("Alt+I", "Input device"),
    ("Alt+A", "Input gain (arrows: 1 dB, Page Up/Down: 6 dB, 0: back to 0 dB)"),
    ("Alt+U", "Output device"),
    ("Alt+Y", "Play a test tone on the output device"),
    ("F5", "List the audio devices again"),
    ("Alt+E, Alt+N, Alt+G, Alt+H", "Echo cancellation, noise suppression, auto gain, "
                                   "high-pass filter"),
    ("F1", "This list"),
    ("Ctrl+Q", "Quit"),
)


def room_status_text(snap: SessionSnapshot) -> str:
    """The status bar's room part: state, round-trip time, worst packet loss."""
    state = snap.state.value
    if snap.state.in_room:
        state = f"{state} to {snap.room!r}"
    parts = [state]
    if not math.isnan(snap.rtt_ms):
        parts.append(f"RTT {snap.rtt_ms:.0f} ms")
    losses = [t.stats.loss_percent for p in snap.participants for t in p.tracks]
    if losses:
        parts.append(f"loss {max(losses):.1f} %")
    return "  |  ".join(parts)


def status_text(stats: CaptureStats) -> str:
    """One line: the device's condition, frames dropped, AudioSource queue depth."""
    if stats.device_error:
        state = stats.device_error
    elif stats.stalled:
        state = "stalled"
    elif not stats.running:
        state = "audio engine not running"
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
        controller: RoomControllerLike | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._engine = engine
        self._controller = controller
        self._store = store
        self._cpu = (time.monotonic(), time.process_time())
        self._joined_at: float | None = None  # when this stay in a room began; 0: settled
        self._cpu_text = ""
        self._remembered = settings_mod.load(store)
        self._populating = False
        self._errors: dict[str, str] = {}  # what show_error shows, by source, newest last
        self._device_watch = DeviceWatch()
        self._device_watched = time.monotonic()
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
        self.gain = GainControl(mic)
        self.gain.gainChanged.connect(self._on_gain)
        gain_label = QLabel("G&ain:", mic)
        gain_label.setBuddy(self.gain.slider)
        grid.addWidget(device_label, 0, 0)
        grid.addWidget(self.device_combo, 0, 1)
        grid.addWidget(self.refresh_button, 0, 2)
        grid.addWidget(self.error_label, 1, 1, 1, 2)
        grid.addWidget(meter_label, 2, 0)
        grid.addWidget(self.meter, 2, 1, 1, 2)
        grid.addWidget(self.readout, 3, 1, 1, 2)
        grid.addWidget(gain_label, 5, 0)
        grid.addWidget(self.gain, 5, 1, 1, 2)
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
        self.erle_label = QLabel("", proc)
        self.erle_label.setAccessibleName("Echo cancellation figures")
        self.erle_label.setToolTip("Echo return loss enhancement over the last second and "
                                   "the estimated echo delay, measured while the far end "
                                   "talks")
        row.addWidget(self.erle_label)
        layout.addWidget(proc)
        layout.addStretch(1)
        if self._controller is not None:
            self._build_room(layout, mic, grid, central)
        self.setCentralWidget(self._root if self._controller is not None else central)

        self.status_label = QLabel(self)
        self.status_label.setAccessibleName("Capture status")
        self.statusBar().addWidget(self.status_label, 1)
        self.room_status = QLabel("", self)
        self.room_status.setAccessibleName("Room status")
        self.statusBar().addPermanentWidget(self.room_status)
        self.cpu_label = QLabel("", self)
        self.cpu_label.setAccessibleName("CPU")
        self.statusBar().addPermanentWidget(self.cpu_label)

        order: list[QWidget] = [self.device_combo, self.refresh_button, self.meter,
                                self.gain.slider, *self.toggles.values()]
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
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = QAction("&Keyboard shortcuts", self)
        self.shortcuts_action.setShortcut(QKeySequence(Qt.Key.Key_F1))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)

    def _build_room(self, mic_layout: QVBoxLayout, mic: QGroupBox, grid: QGridLayout,
                    left: QWidget) -> None:
        """The room parts: join panel, me, output device, participants (with a controller)."""
        from console.widgets.join_panel import JoinPanel
        from console.widgets.participants import ParticipantsPanel

        self.join_panel = JoinPanel(self)
        self.join_panel.set_recent_rooms(list(self._remembered.recent_rooms))
        if self._remembered.identity:
            self.join_panel.identity.setText(self._remembered.identity)
        if self._remembered.server_url and not self.join_panel.url.text():
            self.join_panel.set_url(self._remembered.server_url)  # offers its secrets
        self.join_panel.joinRequested.connect(self.join)
        self.join_panel.leaveRequested.connect(self.leave)
        mic_layout.insertWidget(0, self.join_panel)

        me = QHBoxLayout()
        self.self_mute = QCheckBox("&Mute me (M)", mic)
        self.self_mute.setToolTip("Mute your microphone; the others see you muted")
        self.self_mute.toggled.connect(self._on_self_mute)
        self.ptt = QCheckBox("&Push to talk (hold Space)", mic)
        self.ptt.toggled.connect(self._on_ptt)
        me.addWidget(self.self_mute)
        me.addWidget(self.ptt)
        me.addStretch(1)
        grid.addLayout(me, 4, 1, 1, 2)
        self.mute_action = QAction("Mute me", self)
        self.mute_action.setShortcut(QKeySequence(Qt.Key.Key_M))
        self.mute_action.triggered.connect(self.self_mute.toggle)
        self.addAction(self.mute_action)
        self._talking = False

        out = QGroupBox("Output", self)
        out_row = QHBoxLayout(out)
        self.output_combo = QComboBox(out)
        self.output_combo.setAccessibleName("Output device")
        self.output_combo.setPlaceholderText("No output device")
        self.output_combo.currentIndexChanged.connect(self._on_output_chosen)
        out_label = QLabel("O&utput device:", out)
        out_label.setBuddy(self.output_combo)
        out_row.addWidget(out_label)
        out_row.addWidget(self.output_combo, 1)
        self.test_tone = QPushButton("Pla&y test tone", out)
        self.test_tone.setToolTip("One second of 440 Hz at -18 dBFS through the output")
        self.test_tone.clicked.connect(self.play_test_tone)
        out_row.addWidget(self.test_tone)
        mic_layout.insertWidget(mic_layout.indexOf(mic) + 1, out)

        self.participants = ParticipantsPanel(self)
        self.participants.initial_volume = self._remembered_volume
        self.participants.volumeChanged.connect(self._on_volume)
        self.participants.mutedHere.connect(self._on_muted_here)
        from console.widgets.queues import QueuesPlot

        self.queues = QueuesPlot(self)
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(self.participants)
        right.addWidget(self.queues)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setChildrenCollapsible(False)
        right.setSizes([360, 260])
        self._root = QSplitter(Qt.Orientation.Horizontal, self)
        self._root.addWidget(left)
        self._root.addWidget(right)
        self._root.setStretchFactor(1, 1)
        self._root.setChildrenCollapsible(False)
        self._root.setSizes([440, 760])
        self._populate_outputs()

    def _restore_geometry(self) -> None:
        if self._remembered.window_geometry:
            self.restoreGeometry(QByteArray(self._remembered.window_geometry))
        else:
            hint = self.sizeHint()
            width = 1240 if self._controller is not None else 560
            self.resize(max(width, hint.width()), max(640, hint.height()))
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
        if start.input_gain_db != self._engine.input_gain_db:
            self._engine.set_input_gain_db(start.input_gain_db)
        self.gain.set_db(self._engine.input_gain_db)

    # -- public API --------------------------------------------------------------------------
    def show_error(self, text: str, source: str = "general") -> None:
        """Show a problem in place; empty text clears ``source``'s problem only.

        Each source (``input``, ``output``, ``general``) keeps its own: a good output choice
        clears an output error without hiding the input's, and the newest one is shown.
        """
        self._errors.pop(source, None)
        if text:
            self._errors[source] = text
        shown = next(reversed(self._errors.values()), "")
        self.error_label.setText(shown)
        self.error_label.setVisible(bool(shown))

    def refresh_devices(self, refresh: bool = True) -> None:
        """List the input devices again (``refresh`` re-scans PortAudio)."""
        try:
            found = self._engine.input_devices(refresh=refresh)
        except Exception as exc:
            self.show_error(f"Cannot list input devices: {exc}", "input")
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
        if self._controller is not None and refresh:
            self._populate_outputs()

    def choose_input_device(self, spec: str, *, remember: bool = True) -> bool:
        """Switch the microphone; on failure show why and keep the current one."""
        return self._choose_device("input", spec, remember)

    def _choose_device(self, kind: str, spec: str, remember: bool) -> bool:
        """Open ``spec`` as the ``input`` or ``output``; the picker shows what is open after,
        and the kind's error line shows why it failed or clears on success."""
        is_input = kind == "input"
        select = self._select_current if is_input else self._select_output
        try:
            if is_input:
                dev = self._engine.set_input_device(spec)
            else:
                dev = self._engine.start_output(spec)
        except Exception as exc:
            self.show_error(str(exc) or type(exc).__name__, kind)
            select()
            return False
        self.show_error("", kind)
        select()
        if remember:
            self._remember(**{f"{kind}_device": dev.name})
        return True

    # -- room -------------------------------------------------------------------------------
    def join(self, spec: object) -> None:
        """Join what the panel says (in the background; the tick shows how it goes)."""
        from console.session.join import JoinError, JoinSpec, normalize_url

        if self._controller is None or not isinstance(spec, JoinSpec):
            return
        if spec.room:
            rooms = [spec.room, *(r for r in self._remembered.recent_rooms if r != spec.room)]
            self._remember(recent_rooms=tuple(rooms[:settings_mod.MAX_RECENT_ROOMS]))
        url = self._remembered.server_url
        if spec.url:
            with contextlib.suppress(JoinError):
                url = normalize_url(spec.url)  # no query string: a token can hide there
        self._remember(identity=spec.identity or "", server_url=url)
        self.join_panel.show_error("")
        self._controller.join(spec)
        self._poll_room()

    def leave(self) -> None:
        if self._controller is not None:
            self._controller.leave()

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>"
                       for keys, what in SHORTCUTS)
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts",
                          f"<table cellspacing='6'>{rows}</table>",
                          QMessageBox.StandardButton.Close, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.open()
        self._shortcuts_box = box

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Push-to-talk: Space held anywhere in the window, except while typing."""
        kind = event.type()
        if (self._controller is not None and self.ptt.isChecked()
                and kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Space
                and not event.isAutoRepeat() and self.isActiveWindow()):
            focus = QApplication.focusWidget()
            if not isinstance(focus, QLineEdit | QComboBox | QAbstractButton):
                talking = kind == QEvent.Type.KeyPress
                if talking != self._talking:
                    self._talking = talking
                    self._controller.session.set_talking(talking)
                return True
        return super().eventFilter(watched, event)

    def play_test_tone(self) -> None:
        """One second of 440 Hz on the output device (what the participants play through)."""
        if self._engine.output_device is None:
            self.show_error("No output device is open: choose one to hear the test tone.",
                            "output")
            return
        self._engine.play_test_tone()

    def _on_gain(self, db: float) -> None:
        self._engine.set_input_gain_db(db)
        self._remember(input_gain_db=db)

    def _on_self_mute(self, muted: bool) -> None:
        if self._controller is not None:
            self._controller.session.set_self_muted(muted)

    def _on_ptt(self, on: bool) -> None:
        if self._controller is not None:
            self._talking = False
            self._controller.session.set_push_to_talk(on)
        # The key filter sees every event of the application: only while it is needed.
        app = QApplication.instance()
        if app is not None:
            if on:
                app.installEventFilter(self)
            else:
                app.removeEventFilter(self)

    def _populate_outputs(self) -> None:
        try:
            found = self._engine.output_devices()
        except Exception as exc:
            self.show_error(f"Cannot list output devices: {exc}", "output")
            return
        self._populating = True
        try:
            self.output_combo.clear()
            for dev in found:
                suffix = " (default)" if dev.is_default_output else ""
                self.output_combo.addItem(dev.label + suffix, dev.name)
        finally:
            self._populating = False
        wanted = self._remembered.output_device
        if self._engine.output_device is None:
            default = next((d.name for d in found if d.is_default_output), None)
            name = wanted if wanted and self.output_combo.findData(wanted) >= 0 else default
            if name is not None:
                self.choose_output_device(name, remember=False)
        self._select_output()

    def choose_output_device(self, spec: str, *, remember: bool = True) -> bool:
        """Switch the output, also during a call; on failure show why, keep the current."""
        return self._choose_device("output", spec, remember)

    def _select_output(self) -> None:
        current = self._engine.output_device
        index = -1 if current is None else self.output_combo.findData(current.name)
        if index != self.output_combo.currentIndex():
            self._populating = True
            try:
                self.output_combo.setCurrentIndex(index)
            finally:
                self._populating = False

    def _on_output_chosen(self, index: int) -> None:
        if self._populating or index < 0:
            return
        name = self.output_combo.itemData(index)
        current = self._engine.output_device
        if isinstance(name, str) and (current is None or current.name != name):
            self.choose_output_device(name)

    def _remembered_volume(self, identity: str) -> float:
        db = self._remembered.volumes.get(identity, 0.0)
        if db != 0.0 and self._controller is not None:
            self._controller.session.set_participant_volume(identity, db)
        return db

    def _on_volume(self, identity: str, db: float) -> None:
        if self._controller is None:
            return
        self._controller.session.set_participant_volume(identity, db)
        volumes = dict(self._remembered.volumes)
        if db == 0.0:
            volumes.pop(identity, None)
        else:
            volumes[identity] = -100.0 if db == -math.inf else db
        self._remember(volumes=volumes)

    def _on_muted_here(self, identity: str, muted: bool) -> None:
        if self._controller is not None:
            self._controller.session.set_participant_muted(identity, muted)

    def _settle_room(self, in_room: bool) -> None:
        """A few seconds into a room, keep what it built out of full collections."""
        if not in_room:
            if self._joined_at == 0.0:
                gc_pauses.release()  # the room is gone: let its cycles be collected
            self._joined_at = None
        elif self._joined_at is None:
            self._joined_at = time.monotonic()
        elif self._joined_at > 0 and time.monotonic() - self._joined_at >= ROOM_SETTLE_S:
            self._joined_at = 0.0  # done for this stay
            gc_pauses.settle(collect=False)  # audio plays: no collection pause now

    def _poll_room(self) -> None:
        controller = self._controller
        if controller is None:
            return
        snap = controller.poll()
        busy = controller.busy
        text = "joining…" if busy and not snap.state.in_room else snap.state.value
        if snap.state.in_room:
            text = f"{snap.state.value}: {snap.room} as {snap.identity}"
        elif snap.detail and not busy:
            text = f"{snap.state.value}: {snap.detail}"
        self.join_panel.set_state(text, in_room=snap.state.in_room, busy=busy)
        self._settle_room(snap.state.in_room)
        if controller.error:
            self.join_panel.show_error(controller.error)
        channels = {c.key: c for c in self._engine.channel_stats()}
        output = self._engine.output_stats() if self._engine.output_device else None
        self.participants.update_from(snap.participants, channels)
        labels = {key: p.identity for p in snap.participants for key in p.channel_keys}
        self.queues.add_sample(list(channels.values()), output, labels)
        _set_text(self.room_status, room_status_text(snap))

    def _poll_echo(self) -> None:
        echo = self._engine.echo_stats()
        on = self._engine.processing.echo_cancellation
        if not on:
            text = ""
        elif math.isnan(echo.erle_db):
            text = "ERLE —"
        else:
            text = f"ERLE {echo.erle_db:.0f} dB"
        if on and not math.isnan(echo.echo_delay_ms):
            text += f"  delay {echo.echo_delay_ms:.0f} ms"
        _set_text(self.erle_label, text)

    def _poll_cpu(self) -> None:
        now, cpu = time.monotonic(), time.process_time()
        wall = now - self._cpu[0]
        if wall >= 1.0:
            _set_text(self.cpu_label, f"CPU {100.0 * (cpu - self._cpu[1]) / wall:.0f} %")
            self._cpu = (now, cpu)

    def _poll_devices(self) -> None:
        """A device came or went: list them again (open devices are reopened around it)."""
        now = time.monotonic()
        if now - self._device_watched < DEVICE_WATCH_S:
            return
        self._device_watched = now
        if self._device_watch.poll():
            self.refresh_devices(refresh=True)
            self.statusBar().showMessage("Audio devices changed: the lists are up to date.",
                                         5000)

    def poll(self) -> None:
        """One display tick: read the engine's snapshots and update the widgets."""
        snapshot = self._engine.mic_meter()
        self.meter.set_snapshot(snapshot)
        _set_text(self.readout, readout_text(snapshot))
        _set_text(self.status_label, status_text(self._engine.capture_stats(latency=False)))
        self._poll_echo()
        self._poll_cpu()
        self._poll_devices()
        self._poll_room()

    # -- events ------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
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
