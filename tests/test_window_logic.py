"""The main window's logic on a fake engine and a fake room controller: fast, no sound card.

What the window lists, shows, calls and remembers, driven through its widgets. The fakes
(tests/fakes.py) stand beside the real-device and real-room tests (test_main_window.py,
test_room_window.py), never instead of them. The window is not shown unless a test needs
focus: its display tick then runs only when a test calls ``poll()``, so every step is
deterministic. QSettings live in a temporary INI file per test; the keyring is off.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QLabel
from pytestqt.qtbot import QtBot

from console import settings
from console.engine.echo_metrics import EchoStats
from console.engine.meter import FLOOR_DB, MeterSnapshot
from console.session.join import JoinSpec
from console.session.model import ConnState, SessionSnapshot
from console.session.participant_prefs import ParticipantPrefs
from console.settings import Settings
from tests.fakes import (
    BROKEN_MIC,
    BROKEN_SPEAKER,
    FakeController,
    FakeEngine,
    channel,
    connected,
    device,
    failed,
    participant,
)
from tests.window_fixtures import MakeWindow

pytestmark = pytest.mark.usefixtures("no_environment_or_keyring")


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def controller() -> FakeController:
    return FakeController()



def remembered(ini: Path) -> Settings:
    return settings.load(settings.open_store(ini))


def shown(label: QLabel) -> bool:
    """Visible once the window is (the window itself may be hidden in these tests)."""
    return not label.isHidden()


def items(combo: QComboBox) -> list[tuple[str, str]]:
    return [(combo.itemData(i), combo.itemText(i)) for i in range(combo.count())]


# -- the display tick ------------------------------------------------------------------------
def test_only_the_meters_are_read_every_tick_in_a_room_or_out(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The console open all day: its meters move at 30 Hz, the rest of the window is read
    at 10 Hz, out of a room and in one. In a room the strips' meters move every tick too."""
    window = make_window(engine, controller)
    reads = {"mic_meters": 0, "mic_state": 0, "capture_stats": 0, "channel_stats": 0}
    for name in reads:
        real = getattr(engine, name)

        def counted(*args: object, _name: str = name, _real: object = real,
                    **kwargs: object) -> object:
            reads[_name] += 1
            return _real(*args, **kwargs)  # type: ignore[operator]
        monkeypatch.setattr(engine, name, counted)

    for _ in range(9):
        window._tick()
    assert reads == {"mic_meters": 9, "mic_state": 3, "capture_stats": 3, "channel_stats": 3}
    engine.heard = dataclasses.replace(engine.heard, rms_db=-12.0)
    window._tick()  # a tick between full reads: the meter moves all the same
    assert window.mic.heard.rms_db == -12.0

    controller.script(connected("standup", "me", participant("alice")))
    engine.channels = [channel("alice", -30.0)]
    window.poll()
    assert window.mic.in_room
    for name in reads:
        reads[name] = 0
    for _ in range(6):
        window._tick()
    assert reads == {"mic_meters": 6, "mic_state": 2, "capture_stats": 2, "channel_stats": 6}
    # Between full reads a participant's meter follows, and a new one gets its strip.
    while window._ticks % 3 == 2:
        window._tick()
    engine.channels = [channel("alice", -20.0), channel("bob", -25.0)]
    controller.script(connected("standup", "me", participant("alice"), participant("bob")))
    window._tick()
    assert window._ticks % 3 != 0  # not a full read
    assert window.participants.strips["alice"].meter.rms_db == -20.0
    assert window.participants.strips["bob"].meter.rms_db == -25.0


def test_a_key_or_a_click_on_the_microphone_shows_at_once(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController) -> None:
    """With the panels read at 10 Hz, muting (M), push-to-talk and talking (Space) would
    show up to 100 ms late: each redraws the microphone's banner as it happens."""
    window = make_window(engine, controller)
    controller.script(connected("standup", "me"))
    window.poll()
    before = window.mic.badge.text()
    window.mic.self_mute.setChecked(True)  # no tick in between
    muted = window.mic.badge.text()
    assert muted != before and "MUTED" in muted.upper(), (before, muted)
    window.mic.self_mute.setChecked(False)
    window.mic.ptt.setChecked(True)
    assert window.mic.badge.text() != muted
    held = window.mic.badge.text()
    window._set_talking(True)
    assert window.mic.badge.text() != held


# -- joining ----------------------------------------------------------------------------------
def test_joining_shows_connecting_then_the_room_its_people_and_leaving(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController,
        ini: Path) -> None:
    window = make_window(engine, controller)
    panel = window.join_panel
    assert panel.state.text() == "not in a room"
    assert panel.join_button.isEnabled() and not panel.leave_button.isEnabled()

    panel.room.setEditText("standup")
    panel.identity.setText("me")
    panel.join_button.click()
    assert controller.joins == [JoinSpec(room="standup", identity="me")]
    # connecting: the button is busy, the fields are locked, nothing is wrong yet
    assert panel.state.text() == "joining standup…"
    assert not panel.join_button.isEnabled() and panel.leave_button.isEnabled()
    assert not panel.room.isEnabled() and not panel.identity.isEnabled()
    assert not shown(panel.error)
    panel.join_button.click()  # a second click while busy joins nothing more
    assert len(controller.joins) == 1
    stored = remembered(ini)
    assert stored.recent_rooms[0] == "standup" and stored.identity == "me"

    controller.script(connected("standup", "me", participant("alice"),
                                participant("bob", loss=(90, 10)), rtt_ms=42.0))
    engine.channels = [channel("alice", -20.0)]  # alice talks, bob is silent
    window.poll()
    assert panel.state.text() == "in standup as me"
    assert not panel.join_button.isEnabled() and panel.leave_button.isEnabled()
    assert set(window.participants.strips) == {"alice", "bob"}
    status = window.status.room.text()
    assert "RTT 42 ms" in status
    assert "loss 10.0 %" in status
    assert window.participants.strips["alice"].meter.rms_db == -20.0
    assert window.participants.strips["bob"].meter.rms_db == FLOOR_DB

    controller.script(connected("standup", "me", participant("alice")))  # bob left
    window.poll()
    assert set(window.participants.strips) == {"alice"}

    panel.leave_button.click()
    assert controller.leaves == 1
    window.poll()
    assert panel.state.text() == "not in a room"
    assert window.status.room.text() == ""  # no RTT of a room already left
    assert panel.join_button.isEnabled() and not panel.leave_button.isEnabled()
    assert panel.room.isEnabled()
    assert window.participants.strips == {}


def test_a_failed_join_shows_why_and_the_next_join_clears_it(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController) -> None:
    window = make_window(engine, controller)
    panel = window.join_panel
    panel.join_button.click()
    assert controller.joins == [JoinSpec(room="demo")]  # the sandbox's room by default
    controller.script(failed("token expired 5 minutes ago"))
    window.poll()
    assert shown(panel.error) and panel.error.text() == "token expired 5 minutes ago"
    assert panel.state.text() == "not in a room"
    assert panel.join_button.isEnabled() and not panel.leave_button.isEnabled()

    panel.join_button.click()
    assert len(controller.joins) == 2
    assert not shown(panel.error)
    assert panel.state.text() == "joining demo…"
    window.poll()  # still connecting: the old error does not come back
    assert not shown(panel.error)


def test_a_failure_without_a_session_state_is_shown_too(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController) -> None:
    """The sandbox did not start: the controller's error, the session still idle."""
    window = make_window(engine, controller)
    window.join_panel.join_button.click()
    controller.script(SessionSnapshot(state=ConnState.IDLE))
    controller.error = "the local sandbox did not start: port 7880 is taken"
    window.poll()
    assert shown(window.join_panel.error)
    assert "port 7880 is taken" in window.join_panel.error.text()
    assert window.join_panel.join_button.isEnabled()


# -- processing -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["echo_cancellation", "noise_suppression",
                                  "auto_gain_control", "high_pass_filter"])
def test_each_processing_toggle_reaches_the_engine_and_is_remembered(
        make_window: MakeWindow, engine: FakeEngine, ini: Path, name: str) -> None:
    window = make_window(engine)
    box = window.processing.toggles[name]
    assert box.isChecked() and getattr(engine.processing, name) is True
    box.click()
    assert getattr(engine.processing, name) is False
    others = [n for n in window.processing.toggles if n != name]
    assert all(getattr(engine.processing, n) is True for n in others)
    assert getattr(remembered(ini), name) is False
    box.click()
    assert getattr(engine.processing, name) is True
    assert getattr(remembered(ini), name) is True


def test_a_refused_processing_change_is_shown_and_the_box_springs_back(
        make_window: MakeWindow, engine: FakeEngine, ini: Path) -> None:
    window = make_window(engine)
    engine.processing_error = "the APM refused"
    window.processing.toggles["noise_suppression"].click()
    assert engine.processing.noise_suppression
    assert window.processing.toggles["noise_suppression"].isChecked()
    assert shown(window.processing.error)
    assert window.processing.error.text() == "Cannot change processing: the APM refused"
    assert remembered(ini).noise_suppression


# -- devices ----------------------------------------------------------------------------------
def test_device_lists_show_each_direction_with_its_default_and_the_open_one(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController) -> None:
    window = make_window(engine, controller)
    assert items(window.mic.picker.combo) == [
        ("fake_mic_a", "fake_mic_a (Fake) (default)"), ("fake_mic_b", "fake_mic_b (Fake)"),
        (BROKEN_MIC, f"{BROKEN_MIC} (Fake)")]
    assert window.mic.picker.combo.currentData() == "fake_mic_a"
    assert items(window.output.picker.combo) == [
        ("fake_speaker_a", "fake_speaker_a (Fake) (default)"),
        ("fake_speaker_b", "fake_speaker_b (Fake)"), (BROKEN_SPEAKER, f"{BROKEN_SPEAKER} (Fake)")]
    # nothing remembered: the default output is opened, and not remembered as a choice
    assert engine.output_device is not None and engine.output_device.name == "fake_speaker_a"
    assert window.output.picker.combo.currentData() == "fake_speaker_a"
    assert not shown(window.mic.picker.error)


def test_refresh_lists_both_directions_again(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController) -> None:
    window = make_window(engine, controller)
    engine.inputs.append(device("fake_usb_mic", 9, inputs=1))
    engine.outputs.append(device("fake_usb_headset", 10, outputs=2))
    window.refresh_action.trigger()  # F5
    assert engine.refreshes >= 1
    assert "fake_usb_mic" in [name for name, _ in items(window.mic.picker.combo)]
    assert "fake_usb_headset" in [name for name, _ in items(window.output.picker.combo)]
    assert window.mic.picker.combo.currentData() == "fake_mic_a"  # the open one stays chosen
    assert window.output.picker.combo.currentData() == "fake_speaker_a"

    engine.list_error = "PortAudio is gone"
    window.refresh_devices()
    assert shown(window.mic.picker.error)
    assert window.mic.picker.error.text() == "Cannot list input devices: PortAudio is gone"


def test_a_failing_input_choice_is_shown_and_a_good_one_clears_it(
        make_window: MakeWindow, engine: FakeEngine, ini: Path) -> None:
    window = make_window(engine)
    combo = window.mic.picker.combo
    combo.setCurrentIndex(combo.findData(BROKEN_MIC))
    assert shown(window.mic.picker.error)
    assert BROKEN_MIC in window.mic.picker.error.text()
    assert "Device unavailable" in window.mic.picker.error.text()
    assert engine.input_device is not None and engine.input_device.name == "fake_mic_a"
    assert combo.currentData() == "fake_mic_a"  # the picker shows what is really open
    assert remembered(ini).input_device is None

    combo.setCurrentIndex(combo.findData("fake_mic_b"))
    assert not shown(window.mic.picker.error)
    assert engine.input_device is not None and engine.input_device.name == "fake_mic_b"
    assert remembered(ini).input_device == "fake_mic_b"
    assert remembered(ini).input_label == ""  # PortAudio's devices have no description

    # a sound server's device is remembered with what the desktop calls it (the words
    # for it, should it be missing at the next start)
    engine.inputs.append(dataclasses.replace(engine.inputs[0], name="usb_mic", index=9,
                                             backend="pulse", description="USB Mic"))
    window.mic.refresh(refresh=False)
    combo.setCurrentIndex(combo.findData("usb_mic"))
    assert remembered(ini).input_device == "usb_mic"
    assert remembered(ini).input_label == "USB Mic"


def test_a_failing_output_choice_is_shown_and_a_good_one_clears_it(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController,
        ini: Path) -> None:
    window = make_window(engine, controller)
    combo = window.output.picker.combo
    combo.setCurrentIndex(combo.findData(BROKEN_SPEAKER))
    assert shown(window.output.picker.error)
    assert BROKEN_SPEAKER in window.output.picker.error.text()
    assert engine.output_device is not None and engine.output_device.name == "fake_speaker_a"
    assert combo.currentData() == "fake_speaker_a"
    assert remembered(ini).output_device is None

    combo.setCurrentIndex(combo.findData("fake_speaker_b"))
    assert engine.output_device is not None and engine.output_device.name == "fake_speaker_b"
    assert remembered(ini).output_device == "fake_speaker_b"
    assert not shown(window.output.picker.error), window.output.picker.error.text()


def test_a_good_output_choice_does_not_hide_an_input_problem(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController) -> None:
    window = make_window(engine, controller)
    window.mic.picker.combo.setCurrentIndex(window.mic.picker.combo.findData(BROKEN_MIC))
    window.output.picker.combo.setCurrentIndex(window.output.picker.combo.findData("fake_speaker_b"))
    assert shown(window.mic.picker.error)
    assert BROKEN_MIC in window.mic.picker.error.text()


def test_the_test_tone_needs_an_open_output(make_window: MakeWindow,
                                            controller: FakeController) -> None:
    silent = FakeEngine(outputs=[])
    window = make_window(silent, controller)
    window.output.test_tone.click()
    assert silent.tones == []
    error = window.output.picker.error
    assert shown(error) and "No output device is open" in error.text()

    engine = FakeEngine()
    window = make_window(engine, FakeController())
    window.output.test_tone.click()
    assert engine.tones == [(440.0, -18.0, 1.0)]


# -- readings ---------------------------------------------------------------------------------
def test_each_tick_shows_the_engines_meter_status_and_echo_figures(
        make_window: MakeWindow, engine: FakeEngine) -> None:
    window = make_window(engine)
    engine.meter = MeterSnapshot(peak_db=-6.0, hold_db=-3.0, rms_db=-12.0, clipped=True,
                                 frames=10)
    engine.echo = EchoStats(erle_db=18.2, echo_delay_ms=42.0, delay_confidence=0.9,
                            far_active=True, windows=(18.2,))
    window.poll()
    assert window.mic.sent_readout.text() == "Peak -3.0   RMS -12.0 dBFS"  # the held peak
    assert window.mic.sent.clipped
    assert window.status.capture.text().startswith("capturing from fake_mic_a  |")
    # a sound server's device is named as the pickers name it, not by its server name
    engine._input = dataclasses.replace(engine._input, backend="pulse",
                                        description="USB Headset Microphone")
    window.poll()
    assert window.status.capture.text().startswith("capturing from USB Headset Microphone  |")
    assert window.processing.echo_label.text() == "ERLE 18 dB · delay 42 ms"

    window.mic.sent.reset_clip()  # what a click on the clip box does
    assert engine.clip_resets == 1
    window.poll()  # the engine's meter was reset too: the latch stays off
    assert not window.mic.sent.clipped

    window.processing.toggles["echo_cancellation"].click()  # no figures while it is off
    window.poll()
    assert window.processing.echo_label.text() == ""
    engine.echo = dataclasses.replace(engine.echo, erle_db=math.nan)  # far end silent
    window.processing.toggles["echo_cancellation"].click()
    window.poll()
    assert window.processing.echo_label.text() == "ERLE — · delay 42 ms"

    engine.capture = dataclasses.replace(engine.capture_stats(), device_error="fake_mic_a is gone",
                                         frames_dropped={"ring_full": 3})
    window.poll()
    assert window.status.capture.text().startswith("fake_mic_a is gone  |  dropped 3 frames")


def test_the_gain_slider_reaches_the_engine_and_is_remembered(
        make_window: MakeWindow, engine: FakeEngine, ini: Path) -> None:
    window = make_window(engine)
    window.mic.gain.slider.setValue(7)
    assert engine.input_gain_db == 7.0
    assert remembered(ini).input_gain_db == 7.0


# -- remembered settings ----------------------------------------------------------------------
def test_choices_are_restored_by_a_new_window_from_the_same_settings(
        make_window: MakeWindow, ini: Path) -> None:
    engine, controller = FakeEngine(), FakeController()
    first = make_window(engine, controller)
    first.mic.picker.combo.setCurrentIndex(first.mic.picker.combo.findData("fake_mic_b"))
    first.output.picker.combo.setCurrentIndex(
        first.output.picker.combo.findData("fake_speaker_b"))
    first.processing.toggles["noise_suppression"].click()
    first.processing.toggles["high_pass_filter"].click()
    first.mic.gain.slider.setValue(6)
    first.join_panel.join_button.click()
    controller.script(connected("demo", "me", participant("bob")))
    first.poll()
    first.participants.strips["bob"].volume.setValue(-6)
    assert controller.prefs_changed == [("bob", -6.0, False)]  # what the session is told
    first.close()
    stored = remembered(ini)
    assert (stored.input_device, stored.output_device) == ("fake_mic_b", "fake_speaker_b")
    assert not stored.noise_suppression and not stored.high_pass_filter
    assert stored.input_gain_db == 6.0 and stored.volumes == {"bob": -6.0}

    # A fresh engine (first mic, everything on, 0 dB) in a new window gets them back; the
    # participants' preferences go to the session when it is built (here: the fake's).
    engine2 = FakeEngine()
    controller2 = FakeController(ParticipantPrefs(stored.volumes, stored.muted_here))
    second = make_window(engine2, controller2)
    assert engine2.input_device is not None and engine2.input_device.name == "fake_mic_b"
    assert engine2.output_device is not None and engine2.output_device.name == "fake_speaker_b"
    assert not engine2.processing.noise_suppression and not engine2.processing.high_pass_filter
    assert engine2.processing.echo_cancellation and engine2.processing.auto_gain_control
    assert engine2.input_gain_db == 6.0 and second.mic.gain.db == 6.0
    assert second.mic.picker.combo.currentData() == "fake_mic_b"
    assert second.output.picker.combo.currentData() == "fake_speaker_b"
    assert not second.processing.toggles["noise_suppression"].isChecked()
    assert second.processing.toggles["echo_cancellation"].isChecked()
    # bob's volume is applied when he is next seen; carol (never changed) is left alone
    second.join_panel.join_button.click()
    controller2.script(connected("demo", "me", participant("bob"), participant("carol")))
    second.poll()
    assert controller2.participant_prefs.volume_db("bob") == -6.0
    assert controller2.prefs_changed == []  # shown, not set again: nothing to tell
    assert second.participants.strips["bob"].volume.value() == -6
    assert second.participants.strips["carol"].volume.value() == 0


def test_start_overrides_apply_but_are_not_remembered(
        make_window: MakeWindow, engine: FakeEngine, ini: Path) -> None:
    settings.save(Settings(input_device="fake_mic_b"), settings.open_store(ini))
    window = make_window(engine, initial=Settings(echo_cancellation=False))
    assert not engine.processing.echo_cancellation
    assert not window.processing.toggles["echo_cancellation"].isChecked()
    window.close()
    assert remembered(ini).echo_cancellation
    assert remembered(ini).input_device == "fake_mic_b"


def test_a_remembered_device_that_is_gone_is_reported_and_kept(
        make_window: MakeWindow, engine: FakeEngine, ini: Path) -> None:
    settings.save(Settings(input_device="fake_gone_mic"), settings.open_store(ini))
    window = make_window(engine)
    assert shown(window.mic.picker.error) and "fake_gone_mic" in window.mic.picker.error.text()
    assert engine.input_device is not None and engine.input_device.name == "fake_mic_a"
    assert remembered(ini).input_device == "fake_gone_mic"


# -- me: mute, push-to-talk, the others' controls ---------------------------------------------
def test_self_mute_and_push_to_talk_call_the_session(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController,
        qtbot: QtBot) -> None:
    window = make_window(engine, controller, show=True)
    session = controller.session
    window.mic.self_mute.click()
    window.mic.self_mute.click()
    assert session.named("set_self_muted") == [(True,), (False,)]
    window.mic.sent.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.mic.sent, timeout=1000)
    qtbot.keyClick(window, Qt.Key.Key_M)  # the shortcut
    assert session.named("set_self_muted")[-1] == (True,)
    assert window.mic.self_mute.isChecked()

    qtbot.keyPress(window.mic.sent, Qt.Key.Key_Space)  # push-to-talk off: Space does nothing
    qtbot.keyRelease(window.mic.sent, Qt.Key.Key_Space)
    assert session.named("set_talking") == []

    window.mic.ptt.click()
    assert session.named("set_push_to_talk") == [(True,)]
    window.mic.sent.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.mic.sent, timeout=1000)
    qtbot.keyPress(window.mic.sent, Qt.Key.Key_Space)
    assert session.named("set_talking") == [(True,)]
    qtbot.keyRelease(window.mic.sent, Qt.Key.Key_Space)
    assert session.named("set_talking") == [(True,), (False,)]

    window.join_panel.identity.setFocus()  # typing a space is not talking
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.join_panel.identity,
                    timeout=1000)
    qtbot.keyPress(window.join_panel.identity, Qt.Key.Key_Space)
    qtbot.keyRelease(window.join_panel.identity, Qt.Key.Key_Space)
    assert session.named("set_talking") == [(True,), (False,)]

    window.mic.ptt.click()
    assert session.named("set_push_to_talk") == [(True,), (False,)]
    window.mic.sent.setFocus()
    qtbot.keyPress(window.mic.sent, Qt.Key.Key_Space)
    qtbot.keyRelease(window.mic.sent, Qt.Key.Key_Space)
    assert session.named("set_talking") == [(True,), (False,)]


def test_muting_a_participant_here_and_their_volume_reach_their_one_owner(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController,
        ini: Path) -> None:
    window = make_window(engine, controller)
    window.join_panel.join_button.click()
    controller.script(connected("demo", "me", participant("alice"), participant("bob")))
    window.poll()
    strip = window.participants.strips["alice"]
    strip.mute_here.click()
    assert controller.prefs_changed == [("alice", 0.0, True)]
    assert remembered(ini).muted_here == ("alice",)
    strip.volume.setValue(strip.volume.minimum())  # the bottom end is off
    assert controller.prefs_changed[-1] == ("alice", -math.inf, True)
    assert remembered(ini).volumes == {"alice": -math.inf}  # off, not -100 dB
    assert "\\\"off\\\"" in ini.read_text()  # stored as the word
    strip.volume.setValue(0)  # back to unity: forgotten
    strip.mute_here.click()
    assert remembered(ini).volumes == {} and remembered(ini).muted_here == ()


def test_the_agent_to_dispatch_is_joined_with_and_remembered(
        make_window: MakeWindow, engine: FakeEngine, controller: FakeController,
        ini: Path) -> None:
    window = make_window(engine, controller)
    panel = window.join_panel
    panel.agent.setText("  support-bot ")
    panel.identity.setText("me")
    panel.join_button.click()
    assert controller.joins[-1].agent == "support-bot"
    assert not panel.agent.isEnabled()  # locked while joining, like the other fields
    assert remembered(ini).agent_name == "support-bot"
    window.close()
    again = make_window(engine, FakeController())
    assert again.join_panel.agent.text() == "support-bot"
    again.join_panel.agent.clear()
    assert again.join_panel.spec().agent is None
