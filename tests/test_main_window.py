"""MainWindow driving the REAL AudioEngine on the private virtual sound card.

Every test requests the ``sound_card`` fixture (through ``engine``) before anything imports
sounddevice. QSettings are isolated in a temporary INI file per test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from console import settings
from console.settings import Settings

pytestmark = pytest.mark.audio

TICK_MS = 100  # generous bound for "within a timer tick" (33 ms) on 2 shared cores
MNEMONIC_MS = 600  # a mnemonic "animates" the click: Qt releases the button 100 ms later


@pytest.fixture
def engine(sound_card):
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine

    eng = AudioEngine(input_device="lkc_mic_a", processing=ProcessingConfig())
    eng.start()
    try:
        yield eng
    finally:
        eng.stop()


@pytest.fixture
def ini(tmp_path):
    return tmp_path / "livekit-console.ini"


@pytest.fixture
def make_window(qtbot, engine, ini):
    from console.widgets.main_window import MainWindow

    def make(initial: Settings | None = None, show: bool = True) -> MainWindow:
        window = MainWindow(engine, settings.open_store(ini), initial=initial)
        qtbot.addWidget(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
            window.activateWindow()
            qtbot.waitUntil(window.isActiveWindow, timeout=2000)
        return window

    return make


def combo_names(window) -> list[str]:
    combo = window.mic.picker.combo
    return [combo.itemData(i) for i in range(combo.count())]


def test_window_lists_the_devices_and_shows_the_open_one(make_window, engine, qtbot):
    window = make_window()
    names = combo_names(window)
    assert {"lkc_mic_a", "lkc_mic_b", "lkc_mic_spare"} <= set(names)
    assert "lkc_speaker_a" not in names  # outputs only
    assert window.mic.picker.combo.currentData() == "lkc_mic_a"
    assert window.mic.picker.combo.currentText() == "lkc_mic_a (ALSA)"
    assert not window.mic.picker.error.isVisible()
    # the single display timer fills the status line from capture_stats()
    wait_text(qtbot, window.status.capture, "capturing from lkc_mic_a")
    assert "dropped" in window.status.capture.text() and "queue" in window.status.capture.text()


def wait_text(qtbot, label, fragment: str, timeout_ms: int = 3000) -> None:
    qtbot.waitUntil(lambda: fragment in label.text(), timeout=timeout_ms)


def test_checkboxes_change_processing_live(make_window, engine, qtbot, ini):
    window = make_window()
    for name, box in window.processing.toggles.items():
        assert box.isChecked() is getattr(engine.processing, name) is True
    qtbot.mouseClick(window.processing.toggles["echo_cancellation"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not engine.processing.echo_cancellation, timeout=TICK_MS)
    assert engine.processing.noise_suppression  # the others untouched
    qtbot.mouseClick(window.processing.toggles["high_pass_filter"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not engine.processing.high_pass_filter, timeout=TICK_MS)
    # the media thread adopts the new module at the next 10 ms frame
    qtbot.waitUntil(lambda: engine.capture_stats().apm_switches >= 1, timeout=1000)
    remembered = settings.load(settings.open_store(ini))
    assert not remembered.echo_cancellation and not remembered.high_pass_filter
    assert remembered.noise_suppression


def test_selecting_mic_b_switches_and_the_meter_follows_it(make_window, engine, qtbot):
    import sounddevice as sd

    window = make_window()
    # processing off: the meter sees the raw loopback
    for box in window.processing.toggles.values():
        box.setChecked(False)
    assert not engine.processing.any
    window.mic.picker.combo.setCurrentIndex(window.mic.picker.combo.findData("lkc_mic_b"))
    assert engine.input_device is not None and engine.input_device.name == "lkc_mic_b"
    assert not window.mic.picker.error.isVisible()

    # A -20 dBFS sine on speaker B is what mic B records: the window's meter must show it.
    t = np.arange(48000) / 48000
    tone = (0.1 * np.sin(2 * math.pi * 1000 * t)).astype(np.float32)
    sd.play(tone, 48000, device="lkc_speaker_b", loop=True)
    try:
        qtbot.waitUntil(lambda: abs(window.mic.sent.rms_db - -20.0) < 1.5, timeout=5000)
        qtbot.waitUntil(lambda: "RMS -2" in window.mic.sent_readout.text()
                        or "RMS -19" in window.mic.sent_readout.text(), timeout=1000)
    finally:
        sd.stop()
    qtbot.waitUntil(lambda: window.mic.sent.rms_db < -60.0, timeout=3000)
    wait_text(qtbot, window.status.capture, "capturing from lkc_mic_b")


def test_unknown_device_error_is_shown_in_place(make_window, engine):
    window = make_window()
    assert window.choose_input_device("lkc_no_such_mic") is False
    assert window.mic.picker.error.isVisible()
    assert "lkc_no_such_mic" in window.mic.picker.error.text()
    assert "Traceback" not in window.mic.picker.error.text()
    assert engine.input_device is not None and engine.input_device.name == "lkc_mic_a"
    assert window.mic.picker.combo.currentData() == "lkc_mic_a"
    # a good choice clears the message
    assert window.choose_input_device("lkc_mic_b") is True
    assert not window.mic.picker.error.isVisible()
    window.show_error("cannot open input 'x': busy", "input")
    assert window.mic.picker.error.isVisible() and "busy" in window.mic.picker.error.text()


def test_a_remembered_device_that_is_gone_is_reported_not_raised(make_window, engine, ini):
    settings.save(Settings(input_device="lkc_gone_mic"), settings.open_store(ini))
    window = make_window()
    assert window.mic.picker.error.isVisible()
    assert "lkc_gone_mic" in window.mic.picker.error.text()
    assert engine.input_device is not None and engine.input_device.name == "lkc_mic_a"
    # the remembered choice is kept for when the device comes back
    assert settings.load(settings.open_store(ini)).input_device == "lkc_gone_mic"


def test_settings_are_remembered_across_two_windows(make_window, engine, qtbot, ini):
    from console.engine.apm import ProcessingConfig

    first = make_window()
    first.mic.picker.combo.setCurrentIndex(first.mic.picker.combo.findData("lkc_mic_b"))
    qtbot.mouseClick(first.processing.toggles["noise_suppression"], Qt.MouseButton.LeftButton)
    first.resize(720, 430)
    qtbot.waitUntil(lambda: first.width() == 720, timeout=1000)
    first.close()
    stored = settings.load(settings.open_store(ini))
    assert stored.input_device == "lkc_mic_b"
    assert not stored.noise_suppression and stored.window_geometry

    # Bring the engine back to other values; a new window applies what was remembered.
    engine.set_input_device("lkc_mic_a")
    engine.set_processing(ProcessingConfig())
    second = make_window()
    assert engine.input_device is not None and engine.input_device.name == "lkc_mic_b"
    assert not engine.processing.noise_suppression and engine.processing.echo_cancellation
    assert second.mic.picker.combo.currentData() == "lkc_mic_b"
    assert not second.processing.toggles["noise_suppression"].isChecked()
    assert second.processing.toggles["echo_cancellation"].isChecked()
    assert (second.width(), second.height()) == (720, 430)


def test_start_overrides_apply_but_are_not_remembered(make_window, engine, ini):
    settings.save(Settings(input_device="lkc_mic_a"), settings.open_store(ini))
    window = make_window(initial=Settings(echo_cancellation=False))
    assert not engine.processing.echo_cancellation
    assert not window.processing.toggles["echo_cancellation"].isChecked()
    window.close()
    assert settings.load(settings.open_store(ini)).echo_cancellation


def test_keyboard_tab_order_mnemonics_and_quit(make_window, engine, qtbot, ini):
    window = make_window()
    mic = window.mic
    expected = [mic.picker.combo, mic.refresh_button, mic.heard, mic.sent, mic.gain.slider,
                mic.test_button, mic.hear_myself, *window.processing.toggles.values()]
    window.mic.picker.combo.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.mic.picker.combo, timeout=1000)
    visited = [QApplication.focusWidget()]
    for _ in range(len(expected) - 1):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        visited.append(QApplication.focusWidget())
    assert visited == expected
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)  # and round again
    assert QApplication.focusWidget() is window.mic.picker.combo

    # labels have buddies: Alt+A focuses the gain, Alt+I the device picker
    qtbot.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    assert QApplication.focusWidget() is window.mic.gain.slider
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.AltModifier)
    assert QApplication.focusWidget() is window.mic.picker.combo

    # Alt+E toggles echo cancellation, in the engine too
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: not engine.processing.echo_cancellation, timeout=MNEMONIC_MS)
    assert not window.processing.toggles["echo_cancellation"].isChecked()
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: engine.processing.echo_cancellation, timeout=MNEMONIC_MS)

    # Ctrl+Q closes the window (the app quits with its last window) and saves the geometry
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=1000)
    assert settings.load(settings.open_store(ini)).window_geometry


def test_clip_latches_from_real_audio_and_resets_in_the_engine(make_window, engine, qtbot):
    import sounddevice as sd

    window = make_window()
    for box in window.processing.toggles.values():
        box.setChecked(False)
    # a full-scale square on speaker A reaches full scale on mic A: the real meter latches
    square = np.where(np.arange(4800) % 96 < 48, 1.0, -1.0).astype(np.float32)
    sd.play(square, 48000, device="lkc_speaker_a")
    try:
        qtbot.waitUntil(lambda: window.mic.sent.clipped, timeout=5000)
        assert engine.mic_meter().clipped
    finally:
        sd.wait()
    qtbot.waitUntil(lambda: engine.mic_meter().rms_db < -60.0, timeout=3000)
    qtbot.mouseClick(window.mic.sent, Qt.MouseButton.LeftButton,
                     pos=window.mic.sent.clip_rect.center())
    assert not engine.mic_meter().clipped
    assert not window.mic.sent.clipped
    qtbot.wait(200)  # a few display ticks later it stays reset
    assert not window.mic.sent.clipped


def test_f5_relists_devices_and_capture_keeps_running(make_window, engine, qtbot):
    window = make_window()
    window.mic.picker.combo.clear()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert "lkc_mic_b" in combo_names(window)
    assert window.mic.picker.combo.currentData() == "lkc_mic_a"
    qtbot.wait(800)
    stats = engine.capture_stats()
    assert stats.device_error is None and not stats.stalled
    assert window.choose_input_device("lkc_mic_b"), window.mic.picker.error.text()


RUN_APP_SCRIPT = """
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from console.virtual_audio import VirtualSoundCard
card = VirtualSoundCard(); card.start(); card.apply()
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from console import settings
from console.app import run_app
from console.settings import Settings
from console.widgets.main_window import MainWindow
seen = {}
def inspect_and_quit():
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    if windows:
        w = windows[0]
        seen.update(error=w.mic.picker.error.text(), banner=w.mic.banner.text(),
                    device=w.mic.picker.combo.currentData(),
                    echo=w.processing.toggles["echo_cancellation"].isChecked(),
                    visible=w.isVisible())
    QApplication.quit()
try:
    QApplication(sys.argv[:1])
    app = QApplication.instance()
    app.setOrganizationName(settings.ORGANIZATION); app.setApplicationName(settings.APPLICATION)
    settings.save(Settings(input_device="lkc_gone_mic", input_label="Gone USB Microphone"))
    QTimer.singleShot(1500, inspect_and_quit)
    seen["code"] = run_app(processing_overrides={"echo_cancellation": False})
    remembered = settings.load()
    seen["remembered"] = [remembered.input_device, remembered.echo_cancellation]
    try:
        run_app(processing_overrides={"echo": False})
    except ValueError as exc:
        seen["bad_override"] = str(exc)
finally:
    card.stop()
print(json.dumps(seen))
"""


def test_run_app_falls_back_from_a_remembered_device_that_is_gone(tmp_path):
    """run_app on the real engine: remembered device gone -> the default input stands in,
    said in place, and the remembered choice is kept (the engine reopens it when back).

    In a process of its own: after run_app has run its qasync loop in a process, Qt's
    timers in that process stop firing for later tests.
    """
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "PULSE_"))}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", RUN_APP_SCRIPT], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0
    assert seen["visible"] is True
    # The banner says what stands in for it until it is back; no error under the picker.
    # (the sound server's lists, the app's default: its default input by description)
    # named as the desktop called it when it was chosen (remembered with it)
    assert "'Gone USB Microphone' is not available" in seen["banner"] and \
        "'Virtual Mic A (hears Speaker A)' until it is back" in seen["banner"], seen["banner"]
    assert seen["error"] == ""
    assert seen["device"] == "lkc_mic_a"
    assert seen["echo"] is False
    # the override is not remembered; the gone device still is
    assert seen["remembered"] == ["lkc_gone_mic", True]
    assert "unknown processing option" in seen["bad_override"]
