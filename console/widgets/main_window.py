"""The console's main window: a frame of panels, the actions, and one display tick.

The panels (room, microphone, output, processing, participants, queues, status) each build
their widgets, own their settings keys and do their part of the refresh; the window places
them, declares the actions once (menus, shortcuts and the F1 list come from the same
declarations), runs one 30 Hz QTimer while shown, and handles the keys that belong to no
panel (push-to-talk's Space). Nothing is signalled per audio frame.

It fits any screen: the left column scrolls when the window is short and keeps a narrow
minimum width, the participant strips go compact when the list is narrow, and the window
never opens larger than the screen it is on.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QHideEvent, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFrame,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from console import gc_pauses
from console.engine.mic_test import TEST_SECONDS
from console.gc_pauses import ROOM_SETTLE_S
from console.settings import BOTTOM_TABS, Settings
from console.widgets import mnemonics
from console.widgets.actions import ActionSpec, KeyHelp, build, help_rows
from console.widgets.controller_protocol import RoomControllerLike
from console.widgets.engine_protocol import AudioEngineLike
from console.widgets.mic_panel import MicrophonePanel
from console.widgets.output_panel import OutputPanel
from console.widgets.panel import Prefs
from console.widgets.processing_panel import ProcessingPanel
from console.widgets.queues import legend_names
from console.widgets.status_panel import StatusPanel
from console.widgets.transcript_pane import TranscriptPane
from console.widgets.turns_panel import TurnsPanel
from console.widgets.window_fit import fit_to_screen, pack_splitters, unpack_splitters

if TYPE_CHECKING:
    from console.engine.channel import ChannelStats
    from console.session.model import ParticipantView
    from console.session.participant_prefs import ParticipantPrefs
    from console.widgets.join_panel import JoinPanel
    from console.widgets.participants import ParticipantsPanel
    from console.widgets.queues import QueuesPlot

POLL_INTERVAL_MS = 33  # ~30 Hz
FULL_POLL_EVERY = 3  # the whole window every 3rd tick; the meters every tick
LEFT_MIN_WIDTH = 340   # the left column at its narrowest (it scrolls below its height)
DEFAULT_SIZE = (1240, 780)

KEYS = (
    KeyHelp("Space (held)", "Talk, when push-to-talk is on (anywhere but a text field)"),
    KeyHelp("Arrows, Page Up/Down, 0", "On the gain slider: 1 dB, 6 dB, back to 0 dB"),
)


class MainWindow(QMainWindow):
    """The console window; ``initial`` overrides what ``store`` remembers for this run only."""

    # The frame's own settings; the participants' preferences are saved here for their owner.
    SETTINGS: ClassVar[tuple[str, ...]] = ("window_geometry", "window_state", "window_size",
                                           "splitters",
                                           "theme", "volumes", "muted_here", "bottom_tab")

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
        self.prefs = Prefs(store)
        self._joined_at: float | None = None  # when this stay in a room began; 0: settled
        self._lists_version = engine.device_lists_version
        self.setWindowTitle("LiveKit Console")
        self._build()
        self.set_theme(self.prefs.value.theme)
        self._restore_geometry()
        self.mic.refresh(refresh=False)
        self._apply(initial if initial is not None else self.prefs.value)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._ticks = 0
        self.poll()

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        room = self._controller is not None
        left = QWidget(self)
        column = QVBoxLayout(left)
        self.mic = MicrophonePanel(self._engine, self.prefs, room=room, parent=left)
        self.mic.refresh_button.clicked.connect(lambda: self.refresh_devices(refresh=True))
        self.mic.self_mute.toggled.connect(self._on_self_mute)
        self.mic.ptt.toggled.connect(self._on_ptt)
        self.processing = ProcessingPanel(self._engine, self.prefs, left)
        self.status = StatusPanel(self._engine, self.statusBar())
        self.output: OutputPanel | None = None
        if room:
            self._build_room(column, left)
        column.insertWidget(1 if room else 0, self.mic)
        if self.output is not None:
            column.insertWidget(2, self.output)
        column.addWidget(self.processing)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(LEFT_MIN_WIDTH)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # its controls are the stops
        self.left_scroll = scroll
        if room:
            self._root.insertWidget(0, scroll)
            self._root.setStretchFactor(0, 0)
            self._root.setStretchFactor(1, 1)
            self._root.setSizes([430, 810])
            self.setCentralWidget(self._root)
        else:
            self.setCentralWidget(scroll)
        self._build_actions()
        self._set_tab_order()

    def _build_room(self, column: QVBoxLayout, left: QWidget) -> None:
        """The room parts: join panel, output, participants and queues (with a controller)."""
        from console.widgets.join_panel import JoinPanel
        from console.widgets.participants import ParticipantsPanel
        from console.widgets.queues import QueuesPlot

        assert self._controller is not None
        self.join_panel: JoinPanel = JoinPanel(self.prefs, left)
        self.join_panel.joinRequested.connect(self.join)
        self.join_panel.leaveRequested.connect(self.leave)
        column.addWidget(self.join_panel)
        self.output = OutputPanel(self._engine, self.prefs, left)
        people: ParticipantPrefs = self._controller.participant_prefs
        people.on_change = self._save_people
        self.participants: ParticipantsPanel = ParticipantsPanel(self)
        self.participants.remembered = lambda i: (people.volume_db(i), people.muted(i))
        self.participants.volumeChanged.connect(people.set_volume_db)
        self.participants.mutedHere.connect(people.set_muted)
        self.queues: QueuesPlot = QueuesPlot(self)
        self.transcript = TranscriptPane(self)
        self.turns = TurnsPanel(self)
        # Queues, transcript and turns share the lower right: each wants width, and at
        # 1024x640 there is room for one of them at a time (Ctrl+1..3, remembered).
        self.bottom = QTabWidget(self)
        self.bottom.setDocumentMode(True)
        self.bottom.addTab(self.queues, "Queues")
        self.bottom.addTab(self.transcript, "Transcript")
        self.bottom.addTab(self.turns, "Turns")
        self.bottom.setCurrentIndex(BOTTOM_TABS.index(self.prefs.value.bottom_tab))
        self.bottom.currentChanged.connect(
            lambda index: self.prefs.remember(bottom_tab=BOTTOM_TABS[index]))
        self._right = QSplitter(Qt.Orientation.Vertical, self)
        self._right.addWidget(self.participants)
        self._right.addWidget(self.bottom)
        self._right.setStretchFactor(0, 3)
        self._right.setStretchFactor(1, 2)
        self._right.setChildrenCollapsible(False)
        self._right.setSizes([420, 260])
        self._root = QSplitter(Qt.Orientation.Horizontal, self)
        self._root.addWidget(self._right)
        self._root.setChildrenCollapsible(False)
        self.output.populate()

    def _specs(self) -> tuple[ActionSpec, ...]:
        specs = [
            ActionSpec("refresh", "&Refresh devices", "F5", "List the audio devices again",
                       lambda: self.refresh_devices(refresh=True), menu="&File"),
            ActionSpec("mic_test", "Test &microphone", "Ctrl+T",
                       f"Record {TEST_SECONDS:.0f} s of your microphone as sent and play it "
                       "back (again: stop)", self.mic.toggle_mic_test, menu="&File"),
            ActionSpec("hear_myself", "&Hear myself", "Ctrl+H",
                       "Hear your microphone live on the output (headphones)",
                       self.mic.hear_myself.toggle, menu="&File"),
            ActionSpec("quit", "&Quit", "Ctrl+Q", "Quit", self.close, menu="&File",
                       app_wide=True),
            ActionSpec("shortcuts", "&Keyboard shortcuts", "F1", "This list",
                       self.show_shortcuts, menu="&Help"),
        ]
        if self._controller is not None:
            specs.insert(0, ActionSpec(
                "mute", "Mute me", "M", "Mute / unmute your microphone (the others see it)",
                self.mic.self_mute.toggle))
            specs += [
                ActionSpec("show_queues", "&Queues", "Ctrl+1", "Show the queue plot",
                           lambda: self.bottom.setCurrentWidget(self.queues), menu="Vie&w"),
                ActionSpec("show_transcript", "T&ranscript", "Ctrl+2",
                           "Show the transcript (the agent's words and yours)",
                           lambda: self.bottom.setCurrentWidget(self.transcript),
                           menu="Vie&w"),
                ActionSpec("show_turns", "T&urns", "Ctrl+3",
                           "Show how long the agent takes to answer, turn by turn",
                           lambda: self.bottom.setCurrentWidget(self.turns), menu="Vie&w"),
            ]
        return tuple(specs)

    def _build_actions(self) -> None:
        self.action_specs = self._specs()
        self.actions_by_name: dict[str, QAction] = build(self, self.action_specs)
        menus = {}
        for name in ("&File", "Vie&w", "&Help"):
            menus[name] = self.menuBar().addMenu(name)
        for spec in self.action_specs:
            if spec.menu:
                if spec.name == "quit":
                    menus[spec.menu].addSeparator()
                menus[spec.menu].addAction(self.actions_by_name[spec.name])
        theme_menu = menus["Vie&w"].addMenu("&Theme")
        self.theme_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for choice, text in (("system", "Follow the &system"), ("light", "&Light"),
                             ("dark", "&Dark")):
            action = QAction(text, self, checkable=True)
            action.setChecked(self.prefs.value.theme == choice)
            action.triggered.connect(lambda _=False, c=choice: self.set_theme(c))
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[choice] = action
        self.refresh_action = self.actions_by_name["refresh"]
        self.quit_action = self.actions_by_name["quit"]
        self.shortcuts_action = self.actions_by_name["shortcuts"]

    def _set_tab_order(self) -> None:
        """Top to bottom, left column first, then the participants: as the eye reads."""
        chain: list[QWidget] = []
        if self._controller is not None:
            chain += self.join_panel.tab_chain()
        chain += [self.mic.picker.combo, self.mic.refresh_button, self.mic.heard,
                  self.mic.sent, self.mic.gain.slider, self.mic.self_mute, self.mic.ptt,
                  self.mic.test_button, self.mic.hear_myself]
        if self.output is not None:
            chain += [self.output.picker.combo, self.output.test_tone]
        chain += list(self.processing.toggles.values())
        if self._controller is not None:
            chain.append(self.participants)
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _restore_geometry(self) -> None:
        value = self.prefs.value
        if value.window_geometry:
            self.restoreGeometry(QByteArray(value.window_geometry))
        else:
            self.resize(*DEFAULT_SIZE)
        if value.window_size and not (self.isMaximized() or self.isFullScreen()):
            width, height = (int(v) for v in value.window_size.split("x"))
            self.resize(width, height)  # the size left, whatever the screen was then
        if value.window_state:
            self.restoreState(QByteArray(value.window_state))
        if self._controller is not None and value.splitters:
            unpack_splitters(value.splitters, (self._root, self._right))
        fit_to_screen(self)

    def _apply(self, start: Settings) -> None:
        """Bring the engine to the start settings, touching only what differs."""
        current = self._engine.input_device
        if start.input_device and (current is None or current.name != start.input_device):
            self.mic.choose(start.input_device, remember=False)
        self.processing.apply(start.processing())
        self.mic.apply_gain(start.input_gain_db)

    # -- public API --------------------------------------------------------------------------
    def show_error(self, text: str, source: str = "general") -> None:
        """Show a problem where it belongs: under the input or output list, or the panel's."""
        if source == "input":
            self.mic.picker.show_error(text)
        elif source == "output" and self.output is not None:
            self.output.picker.show_error(text)
        else:
            self.processing.error.show_text(text)

    def refresh_devices(self, refresh: bool = True) -> None:
        """List the devices again (``refresh`` re-scans the system's devices)."""
        self.mic.refresh(refresh)
        if self.output is not None and refresh:
            self.output.populate()
        if refresh:
            self._lists_version = self._engine.device_lists_version

    def choose_input_device(self, spec: str, *, remember: bool = True) -> bool:
        return self.mic.choose(spec, remember=remember)

    def choose_output_device(self, spec: str, *, remember: bool = True) -> bool:
        return self.output.choose(spec, remember=remember) if self.output is not None else False

    def set_theme(self, choice: str) -> None:
        """Apply and remember a theme (``system``, ``light`` or ``dark``)."""
        from console.widgets.theme import Theme

        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        theme = app.findChild(Theme)
        if theme is None:
            theme = Theme(app)
        theme.apply(choice)
        self.theme_actions[theme.choice].setChecked(True)
        self.prefs.remember(theme=theme.choice)

    def join(self, spec: object) -> None:
        """Join what the panel says (in the background; the tick shows how it goes)."""
        from console.session.join import JoinSpec

        if self._controller is None or not isinstance(spec, JoinSpec):
            return
        self._controller.join(spec)
        self._poll_room()

    def leave(self) -> None:
        if self._controller is not None:
            self._controller.leave()

    def show_shortcuts(self) -> None:
        """The keys as they work now: declared actions, window keys, the Alt keys shown."""
        alt = sorted({(key, what) for key, what, _ in mnemonics.collect(self)})
        rows = "".join(f"<tr><td><b>{keys}</b></td><td>{what}</td></tr>"
                       for keys, what in help_rows(self.action_specs, KEYS, alt))
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts",
                          f"<table cellspacing='6'>{rows}</table>",
                          QMessageBox.StandardButton.Close, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.open()
        self._shortcuts_box = box

    # -- push-to-talk ------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Space held anywhere in the window talks, and never reaches a control.

        Only text fields keep Space (to type one); a button or a check box with the focus
        would otherwise be pressed by it (holding Space on Leave left the room)."""
        kind = event.type()
        if (kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride)
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Space
                and self.mic.ptt.isChecked() and self.isActiveWindow()
                and not _types_text(QApplication.focusWidget())):
            if kind != QEvent.Type.ShortcutOverride and not event.isAutoRepeat():
                self._set_talking(kind == QEvent.Type.KeyPress)
            return True
        return super().eventFilter(watched, event)

    def _set_talking(self, talking: bool) -> None:
        if talking != self.mic.talking and self._controller is not None:
            self.mic.talking = talking
            self._controller.session.set_talking(talking)
            self.mic.poll()  # "talking" as the key goes down, not up to 100 ms later

    def changeEvent(self, event: QEvent) -> None:
        # Space released in another window never reaches us: stop talking on leaving.
        if event.type() == QEvent.Type.ActivationChange and not self.isActiveWindow():
            self._set_talking(False)
        elif event.type() == QEvent.Type.WindowStateChange and self.isVisible():
            # Minimised: where the window system does not hide the window (offscreen, some
            # X11 set-ups) the state change is the only word of it.
            self._in_sight(not self.isMinimized())
        super().changeEvent(event)

    def _in_sight(self, shown: bool) -> None:
        """Out of sight nothing is drawn, and the engine may close its devices while
        nothing else needs them (``console/engine/rest.py``); back in sight they open
        before the first tick reads them."""
        self._engine.set_resting(not shown)
        if shown:
            self._timer.start()
        else:
            self._timer.stop()

    def _on_self_mute(self, muted: bool) -> None:
        if self._controller is not None:
            self._controller.session.set_self_muted(muted)
        self.mic.poll()  # the banner says so now, not at the next full read

    def _on_ptt(self, on: bool) -> None:
        if self._controller is not None:
            self._set_talking(False)
            self._controller.session.set_push_to_talk(on)
        self.mic.poll()
        # The key filter sees every event of the application: only while it is needed.
        app = QApplication.instance()
        if app is not None:
            if on:
                app.installEventFilter(self)
            else:
                app.removeEventFilter(self)

    # -- the display tick --------------------------------------------------------------------
    def _tick(self) -> None:
        """The timer's tick. Only the meters move at 30 Hz: the microphone's, and in a room
        each participant's strip (its speaking dot and agent state too). The rest (state
        lines, the status bar, the panels, the queue plot, the transcript) is read at 10 Hz:
        out of a room that halved what a waiting console costs, in one it took the window's
        thread from 3.3 to 1.9 % of a core (``bench idle``, docs/BENCHMARKS.md). What a key
        or a click changes is shown at once, not at the next full read."""
        self._ticks += 1
        if self._ticks % FULL_POLL_EVERY == 0:
            self.poll()
        elif self.mic.in_room:
            self._poll_meters()
        else:
            self.mic.poll_meters()

    def _poll_meters(self) -> None:
        """The ticks between full reads in a room: the meters and the strips."""
        self.mic.poll_meters()
        controller = self._controller
        if controller is not None:
            self._show_strips(controller.poll().participants)

    def _show_strips(self, participants: tuple[ParticipantView, ...]
                     ) -> dict[str, ChannelStats]:
        """Each participant's strip from the session's view and its channels' meters; the
        channels read, by key."""
        channels = {c.key: c for c in self._engine.channel_stats()}
        self.participants.update_from(participants, channels)
        return channels

    def poll(self) -> None:
        """One display tick: every panel reads its snapshots and updates its widgets."""
        self._poll_room()  # first: the microphone's badge says whether we are in a room
        self.mic.poll()
        self.processing.poll()
        self.status.poll()
        self._poll_devices()

    def _poll_room(self) -> None:
        controller = self._controller
        if controller is None:
            return
        snap = controller.poll()
        view = controller.view(snap)
        self.join_panel.show_connection(view)
        self.mic.in_room = view.in_room
        self.mic.reconnecting = view.reconnecting
        self._settle_room(snap.state.in_room)
        channels = self._show_strips(snap.participants)
        self.queues.agent_events = snap.agent_events
        if self.queues.due():  # 5 samples a second: the rest of the ticks read nothing here
            output = self._engine.output_stats() if self._engine.output_device else None
            if output is not None and output.dozing:
                output = None  # nothing plays, nothing is queued: no curve
            self.queues.add_sample(list(channels.values()), output,
                                   legend_names(snap.participants))
        self.status.show_room(view, snap)
        shown = self.bottom.currentWidget()  # a hidden tab is not redrawn
        if shown is self.transcript:
            self.transcript.show_snapshot(controller.session.transcript())
        elif shown is self.turns:
            self.turns.show_snapshot(controller.session.turns())

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

    def _poll_devices(self) -> None:
        """The engine re-read the device lists (a device came or went): show them again.

        The engine's microphone keeper watches the system and reopens devices; the window
        only lists what it found, without re-reading (that would reopen the streams again)."""
        version = self._engine.device_lists_version
        if version != self._lists_version:
            self._lists_version = version
            self.refresh_devices(refresh=False)
            if self.output is not None:
                self.output.populate()
            self.statusBar().showMessage("Audio devices changed: the lists are up to date.",
                                         5000)

    def _save_people(self, people: ParticipantPrefs) -> None:
        self.prefs.remember(volumes=people.volumes(), muted_here=people.muted_identities())

    # -- events ------------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        self._in_sight(not self.isMinimized())
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._in_sight(False)  # hidden, or minimised (a spontaneous hide)
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        changes: dict[str, object] = {"window_geometry": self.saveGeometry().data(),
                                      "window_state": self.saveState().data()}
        if not (self.isMaximized() or self.isFullScreen()):
            changes["window_size"] = f"{self.width()}x{self.height()}"
        if self._controller is not None:
            changes["splitters"] = pack_splitters((self._root, self._right))
        with contextlib.suppress(Exception):  # a full disk must not keep the window open
            self.prefs.remember(**changes)
        super().closeEvent(event)


def _types_text(widget: QWidget | None) -> bool:
    """A field where Space is typed (an editable list's text counts)."""
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, QLineEdit | QTextEdit | QPlainTextEdit | QAbstractSpinBox)

