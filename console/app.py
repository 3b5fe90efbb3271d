"""Start the window: QApplication, the qasync loop, the audio engine, the remembered settings.

Heavy modules (Qt, qasync, livekit, sounddevice) are imported inside :func:`run_app`, so
importing this module is cheap (the CLI imports it for every command).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING

from console import gc_pauses
from console import settings as settings_mod
from console.gui_collect import TICK_MS, GuiCollector
from console.settings import ORGANIZATION, PROCESSING_OPTIONS, Settings

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication, QWidget

    from console.engine.audio_engine import AudioEngine

DISPLAY_NAME = "LiveKit Console"

log = logging.getLogger(__name__)


def run_app(
    *, input_device: str | None = None, processing_overrides: dict[str, bool] | None = None,
    backend: str = "auto",
) -> int:
    """Show the console window until the application quits; returns the exit status (0).

    ``input_device`` and ``processing_overrides`` (ProcessingConfig field -> bool) win over
    the remembered settings for this run; they are not remembered unless changed in the UI.
    Audio device problems are shown in the window, never raised.
    """
    overrides = _checked_overrides(processing_overrides)
    import qasync

    from console.widgets.main_window import MainWindow

    app = _application()
    _log_qt(app)
    store = settings_mod.open_store()
    effective = settings_mod.load(store).replace(**overrides)
    explicit = input_device is not None
    if explicit:
        effective = effective.replace(input_device=input_device)
    engine, notice = _start_engine(effective, explicit_device=explicit, backend=backend)
    if notice:
        log.warning("audio: %s", notice)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window: MainWindow | None = None
    from console.session.controller import RoomController
    from console.session.participant_prefs import ParticipantPrefs

    people = ParticipantPrefs(effective.volumes, effective.muted_here)
    controller = RoomController(engine, participant_prefs=people)
    try:
        # The engine already runs with the effective settings: the window only shows them.
        window = MainWindow(engine, store, initial=effective.replace(input_device=None),
                            controller=controller)
        if notice:
            window.show_error(notice, "input")
        probe = os.environ.get(STARTUP_PROBE_ENV)
        if probe:
            _report_first_paint(window, app, float(probe))
        window.show()
        gc_pauses.settle()  # no room plays yet: the one full collection costs nothing heard
        quitting: asyncio.Future[None] = loop.create_future()

        def _on_quit() -> None:
            if not quitting.done():
                quitting.set_result(None)

        app.aboutToQuit.connect(_on_quit)
        collector = GuiCollector()  # from here on, cycles are freed on this thread only
        collector.start()
        try:
            with _quit_on_signals(app, collector.tick), loop:
                loop.run_until_complete(quitting)
        finally:
            collector.stop()
    finally:
        if window is not None:
            window.close()  # saves the geometry when the app quit without closing it
        controller.close()  # leaves the room, stops the local sandbox
        engine.stop()
        asyncio.set_event_loop(None)
    return 0


STARTUP_PROBE_ENV = "LKC_STARTUP_PROBE"  # bench startup: the launcher's time.monotonic()


def _report_first_paint(window: QWidget, app: QApplication, started: float) -> None:
    """``bench startup``: print the seconds from launch to the first painted window, quit."""
    from PySide6.QtCore import QEvent, QObject

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not self.property("done"):
                self.setProperty("done", True)
                print(json.dumps({"first_paint_s": time.monotonic() - started,
                                  "pyqtgraph_loaded": "pyqtgraph" in sys.modules}),
                      flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    from PySide6.QtCore import QTimer

    watcher = FirstPaint(window)
    window.installEventFilter(watcher)


@contextlib.contextmanager
def _quit_on_signals(app: QApplication, on_wake: Callable[[], None]) -> Iterator[None]:
    """Ctrl+C and SIGTERM quit the app cleanly (engine stopped, settings saved).

    Python runs signal handlers only between bytecodes, so a light timer wakes the
    interpreter while Qt sleeps in its event loop; it calls ``on_wake`` too (the GUI
    thread's garbage collection: one timer, not two).
    """
    from PySide6.QtCore import QTimer

    def _quit(signum: int, frame: FrameType | None) -> None:
        app.quit()

    wake = QTimer()
    wake.setInterval(TICK_MS)
    wake.timeout.connect(on_wake)
    wake.start()
    previous = {sig: signal.signal(sig, _quit) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        wake.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _checked_overrides(overrides: dict[str, bool] | None) -> dict[str, bool]:
    unknown = sorted(set(overrides or {}) - set(PROCESSING_OPTIONS))
    if unknown:
        raise ValueError(f"unknown processing option(s): {', '.join(unknown)}; "
                         f"expected {', '.join(PROCESSING_OPTIONS)}")
    return {name: bool(value) for name, value in (overrides or {}).items()}


def _application() -> QApplication:
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    if existing is not None and not isinstance(existing, QApplication):
        raise RuntimeError("a non-GUI QCoreApplication already exists")
    app = existing if existing is not None else QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(settings_mod.APPLICATION)
    app.setApplicationDisplayName(DISPLAY_NAME)
    # The menu entry (resources/livekit-console.desktop): Wayland matches windows to it by this.
    app.setDesktopFileName("livekit-console")
    return app


def _log_qt(app: QApplication) -> None:
    import PySide6
    from PySide6.QtCore import qVersion

    log.info("Qt %s (PySide6 %s), platform %s", qVersion(), PySide6.__version__,
             app.platformName())


def _start_engine(effective: Settings, *, explicit_device: bool,
                  backend: str = "auto") -> tuple[AudioEngine, str]:
    """Start the engine; when no input opens, return it running on silence, with why.

    A remembered microphone that cannot be opened (unplugged, renamed) is stood in for by
    the default input until it is back (the engine's keeper reopens it then, and the mic
    panel's banner says so); an explicitly requested one is waited for, not replaced.
    """
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from console.engine.devices import DeviceError

    engine = AudioEngine(input_device=effective.input_device,
                         processing=ProcessingConfig(**effective.processing()),
                         input_fallback=not explicit_device, backend=backend)
    engine.set_publishing(False)  # until a room takes the microphone (it only meters)
    if effective.input_device and effective.input_label and not explicit_device:
        engine.know_label(effective.input_device, effective.input_label)
    try:
        engine.start()
    except DeviceError as exc:
        return engine, str(exc)
    except BaseException:
        engine.stop()
        raise
    return engine, ""
