"""The window in a room: join the local sandbox, see the strips, mute one, leave; errors."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest

from console import gc_pauses
from console.gc_pauses import ROOM_SETTLE_S

pytestmark = [pytest.mark.audio, pytest.mark.filterwarnings("ignore::UserWarning")]


def _room_window(engine, qtbot, tmp_path, monkeypatch, voices: int):
    """A window on fresh settings, output on lkc_speaker_a, its sandbox with ``voices``."""
    from console import settings
    from console.session.controller import RoomController
    from console.widgets.main_window import MainWindow

    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    store = settings.open_store(tmp_path / "console.ini")
    store.setValue("audio/output_device", "lkc_speaker_a")
    controller = RoomController(engine, sandbox_voices=voices)
    win = MainWindow(engine, store, controller=controller)
    qtbot.addWidget(win)
    win.show()
    return win, controller, store


@pytest.fixture
def window(engine, qtbot, tmp_path, monkeypatch):
    win, controller, _ = _room_window(engine, qtbot, tmp_path, monkeypatch, 3)
    yield win
    win.close()
    controller.close()


def _monitor_rms_dbfs(seconds: float = 0.5) -> float:
    """What lkc_speaker_a plays, heard on its monitor lkc_mic_a."""
    import sounddevice as sd

    x = sd.rec(int(48000 * seconds), samplerate=48000, channels=1, dtype="int16",
               device="lkc_mic_a", blocking=True)[:, 0].astype(np.float64)
    rms = float(np.sqrt(np.mean(x ** 2)))
    return 20 * math.log10(rms / 32768) if rms > 0 else -120.0


def test_join_the_sandbox_see_strips_mute_one_and_leave(window, engine, qtbot,
                                                        monkeypatch) -> None:
    released: list[int] = []
    release = gc_pauses.release
    monkeypatch.setattr(gc_pauses, "release", lambda: released.append(1) or release())
    panel = window.join_panel
    assert panel.sandbox_mode.isChecked()  # no LIVEKIT_URL: the local sandbox
    assert engine.output_device is not None and engine.output_device.name == "lkc_speaker_a"
    qtbot.mouseClick(panel.join_button, qtbot_button())
    qtbot.waitUntil(lambda: len(window.participants.strips) == 3, timeout=15000)
    assert set(window.participants.strips) == {"tone-440", "speech-loud", "clipper"}
    assert panel.state.text().startswith("in demo") and not panel.join_button.isEnabled()
    qtbot.waitUntil(lambda: window.participants.strips["tone-440"].meter.rms_db > -25,
                    timeout=5000)
    # Only the tone plays once the other two are muted here; then mute the tone too.
    for who in ("speech-loud", "clipper"):
        window.participants.strips[who].mute_here.setChecked(True)
    qtbot.wait(600)
    before = _monitor_rms_dbfs()
    assert before > -30, before
    window.participants.strips["tone-440"].mute_here.setChecked(True)
    qtbot.wait(300)
    after = _monitor_rms_dbfs()
    assert after < before - 40, (before, after)
    # the strip's meter is pre-fader: it still shows the tone
    assert window.participants.strips["tone-440"].meter.rms_db > -25
    # echo cancellation toggles live during the call
    box = window.processing.toggles["echo_cancellation"]
    box.setChecked(True)
    assert engine.processing.echo_cancellation
    # A few seconds in, what the room built is kept out of full collections...
    qtbot.waitUntil(lambda: window._joined_at == 0.0, timeout=int(ROOM_SETTLE_S * 1000) + 3000)
    assert gc.get_freeze_count() > 0 and not released
    qtbot.mouseClick(panel.leave_button, qtbot_button())
    qtbot.waitUntil(lambda: not window.participants.strips, timeout=10000)
    qtbot.waitUntil(lambda: panel.join_button.isEnabled(), timeout=5000)
    assert engine.channel_stats() == []
    # ...and given back to the collector once it is gone (then the rest frozen again).
    qtbot.waitUntil(lambda: window._joined_at is None, timeout=2000)
    assert released == [1]


def test_a_bad_token_shows_its_message_in_place(window, qtbot) -> None:
    panel = window.join_panel
    panel.server_mode.setChecked(True)
    panel.url.setText("ws://127.0.0.1:9")
    panel.token.setText("not-a-token")
    qtbot.mouseClick(panel.join_button, qtbot_button())
    qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=5000)
    assert panel.error.text() == "the token is not a valid JWT (copy it again, whole)"
    assert panel.join_button.isEnabled()
    assert panel.token.echoMode() == panel.token.EchoMode.Password


def test_the_url_is_remembered_and_secrets_are_not(window, qtbot, tmp_path) -> None:
    panel = window.join_panel
    panel.server_mode.setChecked(True)
    panel.url.setText("ws://127.0.0.1:9/?access_token=SECRET-IN-URL")
    panel.api_key.setText("key")
    panel.api_secret.setText("SECRET-VALUE")
    panel.room.setEditText("standup")
    qtbot.mouseClick(panel.join_button, qtbot_button())
    qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=15000)
    assert "ws://127.0.0.1:9 refused the connection" in panel.error.text()
    text = (tmp_path / "console.ini").read_text()
    assert "SECRET" not in text
    assert "ws://127.0.0.1:9" in text and "standup" in text


def test_test_tone_plays_on_the_chosen_output_from_its_shortcut(window, engine, qtbot) -> None:
    from PySide6.QtCore import Qt

    assert _monitor_rms_dbfs(0.3) < -80  # nobody plays yet
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.AltModifier)
    # a mnemonic animates the click: the button is released (clicked) ~100 ms later
    qtbot.waitUntil(lambda: engine.test_tone_playing, timeout=1000)
    qtbot.wait(150)  # the 1 s tone reaches the monitor ~50 ms later
    level = _monitor_rms_dbfs(0.5)
    assert level == pytest.approx(-18.0 - 3.01, abs=1.0), level  # plain RMS of the sine
    qtbot.waitUntil(lambda: not engine.test_tone_playing, timeout=3000)


def test_input_gain_slider_acts_live_and_is_remembered(window, engine, qtbot, tmp_path) -> None:
    from PySide6.QtCore import Qt

    from console import settings
    from console.widgets.main_window import MainWindow

    slider = window.mic.gain.slider
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    assert slider.hasFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert engine.input_gain_db == 7.0
    assert window.mic.gain.value.text() == "+7 dB"
    again = MainWindow(engine, settings.open_store(tmp_path / "console.ini"))
    qtbot.addWidget(again)
    assert again.mic.gain.db == 7.0
    qtbot.keyClick(slider, Qt.Key.Key_0)
    assert engine.input_gain_db == 0.0 and window.mic.gain.value.text() == "0 dB"


def test_push_to_talk_opens_the_mic_only_while_space_is_held(window, qtbot) -> None:
    from PySide6.QtCore import Qt

    session = window._controller.session
    engine = window._engine
    snap = session.snapshot
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    window.mic.sent.setFocus()  # Space on a button or a text field keeps its usual meaning
    # The gate acts at once; the snapshot follows on the media loop (its only writer).
    window.mic.ptt.setChecked(True)
    assert not engine.mic_gate_open
    qtbot.waitUntil(lambda: snap().push_to_talk and not snap().talking, timeout=1000)
    qtbot.keyPress(window.mic.sent, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: snap().talking and engine.mic_gate_open, timeout=1000)
    qtbot.keyRelease(window.mic.sent, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not snap().talking and not engine.mic_gate_open, timeout=1000)
    window.mic.ptt.setChecked(False)  # off: the microphone is open, Space is the meter's again
    assert engine.mic_gate_open
    qtbot.keyPress(window.mic.sent, Qt.Key.Key_Space)
    qtbot.keyRelease(window.mic.sent, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: snap().talking and not snap().push_to_talk, timeout=1000)
    assert engine.mic_gate_open


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_a_device_that_appears_is_listed_without_f5_and_playback_goes_on(window, engine,
                                                                         qtbot) -> None:
    """ALSA's configuration gains a microphone (as a plugged-in headset adds a card)."""
    from pathlib import Path

    rc = Path("~/.asoundrc").expanduser()  # the virtual card's (the session fixture's HOME)
    before = rc.read_text()

    def listed(combo) -> set[str]:
        return {combo.itemData(i) for i in range(combo.count())}

    assert "lkc_mic_extra" not in listed(window.mic.picker.combo)
    played = engine.output_stats().frames_played
    try:
        with rc.open("a") as f:
            f.write('pcm.lkc_mic_extra { type asym capture.pcm { type pulse device '
                    '"lkc_mic_spare" } hint { show on description "extra" } }\n')
        qtbot.waitUntil(lambda: "lkc_mic_extra" in listed(window.mic.picker.combo), timeout=5000)
        assert "Audio devices changed" in window.statusBar().currentMessage()
        # The output was reopened around PortAudio's re-initialisation and plays on.
        out = engine.output_stats()
        assert out.device == "lkc_speaker_a" and out.device_error is None
        qtbot.waitUntil(lambda: engine.output_stats().frames_played > played + 50,
                        timeout=3000)
        assert engine.input_device is not None and engine.input_device.name == "lkc_mic_b"
        assert window.mic.picker.combo.currentData() == "lkc_mic_b"
        assert "lkc_speaker_a" in listed(window.output.picker.combo)
    finally:
        rc.write_text(before)
    qtbot.waitUntil(lambda: "lkc_mic_extra" not in listed(window.mic.picker.combo), timeout=5000)


def _gains(engine, identity: str) -> list[float]:
    return [c.gain_db for c in engine.channel_stats() if c.key.startswith(f"{identity}/")]


def test_status_bar_strips_echo_figures_help_and_volumes_in_a_full_room(
        engine, qtbot, tmp_path, monkeypatch) -> None:
    """All eight demo voices: what the status bar, the strips and the help dialog show, and
    a participant's volume applied live, remembered, and applied again on the next join."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from console import settings

    window, controller, store = _room_window(engine, qtbot, tmp_path, monkeypatch, 8)
    try:
        panel, strips = window.join_panel, window.participants.strips
        qtbot.mouseClick(panel.join_button, qtbot_button())
        qtbot.waitUntil(lambda: len(strips) == 8, timeout=30000)
        # The status bar: the room, its round-trip time and the worst loss; our CPU.
        qtbot.waitUntil(lambda: "RTT" in window.status.room.text(), timeout=10000)
        status = window.status.room.text()
        assert "loss" in status and window.join_panel.state.text().startswith("in demo"), status
        assert window.status.cpu.text().startswith("CPU ") and window.status.cpu.text()[-1] == "%"
        # The strips: only the agent wears the badge; the blinker's own mutes show and
        # clear; every strip gets a connection quality from the server.
        assert [k for k, s in strips.items() if s.badge.isVisibleTo(window)] == ["agent"]
        seen: set[bool] = set()

        def blinked() -> bool:
            seen.add(strips["blinker"].their_mute.isVisibleTo(window))
            return seen == {True, False}

        qtbot.waitUntil(blinked, timeout=8000)
        assert not strips["tone-440"].their_mute.isVisibleTo(window)
        qtbot.waitUntil(lambda: all(s.quality.quality != "unknown" for s in strips.values()),
                        timeout=10000)
        # Echo figures show only while echo cancellation is on.
        aec = window.processing.toggles["echo_cancellation"]
        for on in (False, True, False):
            aec.setChecked(on)
            assert engine.processing.echo_cancellation is on
            label = window.processing.echo_label
            qtbot.waitUntil(lambda on=on, label=label: label.text().startswith("ERLE") is on,
                            timeout=3000)
        # F1 lists every shortcut.
        qtbot.keyClick(window, Qt.Key.Key_F1)
        qtbot.waitUntil(lambda: isinstance(getattr(window, "_shortcuts_box", None),
                                           QMessageBox), timeout=2000)
        listed = window._shortcuts_box.text()
        assert all(f"<b>{spec.shortcut}</b>" in listed and spec.help in listed
                   for spec in window.action_specs if spec.shortcut)
        assert "<b>Alt+L</b>" in listed and "<b>Space (held)</b>" in listed  # Leave, in a room
        window._shortcuts_box.close()
        # A volume acts on the participant's channel at once and is remembered...
        strips["tone-440"].volume.setValue(-12)
        assert _gains(engine, "tone-440") == [-12.0]
        assert settings.load(store).volumes == {"tone-440": -12.0}
        qtbot.mouseClick(panel.leave_button, qtbot_button())
        qtbot.waitUntil(lambda: not strips, timeout=10000)
        qtbot.waitUntil(lambda: panel.join_button.isEnabled(), timeout=5000)
        # ...and applied again when they are met next time.
        qtbot.mouseClick(panel.join_button, qtbot_button())
        qtbot.waitUntil(lambda: len(strips) == 8 and _gains(engine, "tone-440") != [],
                        timeout=30000)
        assert strips["tone-440"].volume.value() == -12
        assert _gains(engine, "tone-440") == [-12.0]
        # Each participant's channel opens as its track is subscribed: wait for this one's.
        qtbot.waitUntil(lambda: _gains(engine, "clipper") != [], timeout=5000)
        assert _gains(engine, "clipper") == [0.0]
    finally:
        window.close()
        controller.close()
