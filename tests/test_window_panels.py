"""The window a person keeps open (issue 14), on the fake engine and controller: fast.

Each test here failed before the window was rebuilt into panels: a token on screen and a
window 3,111 px wide, Space pressing the focused button under push-to-talk, Alt keys that
collide, an RTT shown after leaving, a layout that moves when echo cancellation is
toggled, "131 dB", settings forgotten at restart, Enter in the room field doing nothing,
a queue plot whose range jumps. The fakes (tests/fakes.py) stand beside the real tests
(test_main_window.py and test_room_window.py on the virtual sound card and the sandbox).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from console import settings
from console.engine.echo_metrics import EchoStats
from console.session.model import ConnState, SessionSnapshot
from console.widgets import mnemonics
from console.widgets.main_window import MainWindow
from console.widgets.processing_panel import echo_text
from console.widgets.queues import SAMPLE_S, SteppedRange
from tests.fakes import FakeController, FakeEngine, channel, connected, failed, participant
from tests.window_fixtures import MakeWindow

pytestmark = pytest.mark.usefixtures("no_environment_or_keyring")

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJzdWIiOiJ5b3UiLCJ2aWRlbyI6e30" * 12
       + ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU")


@pytest.fixture(autouse=True)
def _system_theme_after() -> Iterator[None]:
    """A theme is the application's: put the system's back for the tests that follow."""
    yield
    from console.widgets.theme import Theme

    app = QApplication.instance()
    theme = app.findChild(Theme) if app is not None else None
    if theme is not None:
        theme.apply("system")




def key(widget: QWidget, kind: QEvent.Type, auto: bool = False) -> None:
    """A Space press or release sent as a keyboard would: to the focused widget, through
    the application (its event filters see it first)."""
    QApplication.sendEvent(widget, QKeyEvent(kind, Qt.Key.Key_Space,
                                             Qt.KeyboardModifier.NoModifier, " ", auto))


# -- 1: a refused token on screen -------------------------------------------------------------
def test_a_refused_token_is_never_shown_and_never_widens_the_window(
        make_window: MakeWindow) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller)
    width = window.minimumSizeHint().width()
    window.join_panel.join_button.click()
    controller.script(failed(f"the server refused the token: invalid token: {JWT}"))
    window.poll()
    panel = window.join_panel
    shown = panel.error_text() + panel.state.text() + panel.error.toolTip()
    assert "refused the token" in panel.error_text()
    assert "eyJ" not in shown and JWT[40:80] not in shown
    assert window.minimumSizeHint().width() <= max(width, 700)
    assert window.sizeHint().width() < 1600


# -- 2: Space under push-to-talk --------------------------------------------------------------
def test_space_under_push_to_talk_talks_and_never_presses_the_focused_control(
        make_window: MakeWindow) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller, show=True)
    controller.script(connected("demo", "me", participant("alice")))
    window.poll()
    window.mic.ptt.click()
    leave = window.join_panel.leave_button
    assert leave.isEnabled()
    for target in (leave, window.participants.strips["alice"].mute_here, window.mic.self_mute):
        target.setFocus()
        before = target.isChecked() if target.isCheckable() else None
        key(target, QEvent.Type.KeyPress)
        key(target, QEvent.Type.KeyPress, auto=True)
        window.poll()
        assert window.mic.badge.text() == "PUSH TO TALK - held"
        key(target, QEvent.Type.KeyRelease)
        if before is not None:
            assert target.isChecked() == before, target.accessibleName()
    assert controller.leaves == 0  # holding Space on Leave left the room
    talks = controller.session.named("set_talking")
    assert talks == [(True,), (False,)] * 3
    # In a text field Space is typed, not talked.
    window.join_panel.identity.setEnabled(True)
    window.join_panel.identity.setFocus()
    key(window.join_panel.identity, QEvent.Type.KeyPress)
    assert len(controller.session.named("set_talking")) == 6


def test_leaving_the_window_while_space_is_held_stops_talking(make_window: MakeWindow,
                                                              qtbot: QtBot) -> None:
    """The release then goes to another window: without this the mic stayed open."""
    controller = FakeController()
    window = make_window(FakeEngine(), controller, show=True)
    window.mic.ptt.click()
    key(window.mic.ptt, QEvent.Type.KeyPress)
    assert controller.session.named("set_talking")[-1] == (True,)
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=2000)
    assert controller.session.named("set_talking")[-1] == (False,)


# -- 4: Alt keys ------------------------------------------------------------------------------
def test_no_alt_key_is_offered_twice_in_any_mode(make_window: MakeWindow) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller, show=True)
    panel = window.join_panel
    modes = {}
    panel.sandbox_mode.setChecked(True)
    modes["local"] = mnemonics.duplicates(window)
    panel.server_mode.setChecked(True)
    modes["server"] = mnemonics.duplicates(window)
    keys_server = {k for k, _, _ in mnemonics.collect(window)}
    controller.script(connected("demo", "me", participant("alice")))
    window.poll()
    modes["joined"] = mnemonics.duplicates(window)
    window.mic.ptt.click()
    modes["push to talk"] = mnemonics.duplicates(window)
    assert modes == {name: {} for name in modes}
    assert {"J", "B", "V", "R", "T", "K", "C", "O", "D", "I", "A", "M", "P", "U", "Y", "E",
            "N", "G", "S", "F", "W", "H"} <= keys_server


def test_the_f1_list_names_the_keys_that_work_now(make_window: MakeWindow,
                                                  qtbot: QtBot) -> None:
    window = make_window(FakeEngine(), FakeController(), show=True)
    window.actions_by_name["shortcuts"].trigger()
    text = window._shortcuts_box.text()
    window._shortcuts_box.close()
    for keys in ("F5", "Ctrl+Q", "F1", "Alt+J", "Alt+E", "Alt+S", "Space (held)"):
        assert f"<b>{keys}</b>" in text
    assert "Alt+L</b><td>Local" not in text  # the sandbox's key is B now
    assert text.count("<b>Alt+H</b>") == 1


def test_every_control_is_a_tab_stop_in_reading_order_and_the_meter_shows_focus(
        make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(), FakeController(), show=True)
    order = []
    widget = window.join_panel.sandbox_mode
    for _ in range(40):
        order.append(widget)
        widget = widget.nextInFocusChain()
        while not (widget.focusPolicy() & Qt.FocusPolicy.TabFocus) or not widget.isVisible():
            widget = widget.nextInFocusChain()
        if widget is window.join_panel.sandbox_mode:
            break
    names = [w.accessibleName() or w.objectName() or type(w).__name__ for w in order]
    mic, output = order.index(window.mic.picker.combo), order.index(window.output.picker.combo)
    join = order.index(window.join_panel.join_button)
    toggles = order.index(window.processing.toggles["echo_cancellation"])
    assert join < mic < output < toggles, names
    meter = window.mic.heard
    meter.setFocus()
    image = meter.grab().toImage()
    highlight = meter.palette().color(meter.palette().ColorRole.Highlight)
    assert image.pixelColor(1, image.height() // 2).rgb() == highlight.rgb()


# -- 5: one state, one error ------------------------------------------------------------------
def test_one_error_at_a_time_and_no_rtt_once_the_room_is_gone(make_window: MakeWindow) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller)
    panel = window.join_panel
    panel.join_button.click()
    controller.script(failed("first failure"))
    window.poll()
    panel.join_button.click()
    controller.script(failed("second failure"))
    window.poll()
    window.poll()
    assert panel.error_text() == "second failure"
    assert "first" not in panel.state.text() + panel.error_text()
    panel.join_button.click()
    controller.script(connected("demo", "me", rtt_ms=42.0))
    window.poll()
    assert "RTT 42 ms" in window.status.room.text()
    controller.script(SessionSnapshot(state=ConnState.DISCONNECTED, room="demo", rtt_ms=42.0))
    window.poll()
    assert "RTT" not in window.status.room.text()
    assert "RTT" not in panel.state.text()


# -- 8: no layout change on toggles -----------------------------------------------------------
def test_toggling_echo_cancellation_moves_nothing(make_window: MakeWindow) -> None:
    engine = FakeEngine()
    controller = FakeController()
    window = make_window(engine, controller, show=True)
    controller.script(connected("demo", "me", participant("alice")))
    engine.channels = [channel("alice", -20.0)]
    engine.echo = EchoStats(erle_db=131.0, echo_delay_ms=48.0, delay_confidence=0.9,
                            far_active=True, windows=(131.0,))
    for _ in range(3):  # the strip is new: let its layout settle first
        window.poll()
        QApplication.processEvents()

    def geometry() -> list[object]:
        strip = window.participants.strips["alice"]
        return [window.left_scroll.width(), window.processing.geometry(),
                window.processing.echo_label.geometry(), strip.meter.geometry(),
                strip.volume_label.geometry(), window.mic.geometry()]

    before = geometry()
    for _ in range(2):
        window.processing.toggles["echo_cancellation"].click()
        window.poll()
        QApplication.processEvents()
        assert geometry() == before


# -- 9: readable numbers ----------------------------------------------------------------------
@pytest.mark.parametrize(("erle", "delay", "confidence", "text"), [
    (131.0, 48.0, 0.9, "ERLE > 60 dB · delay 48 ms"),
    (23.4, math.nan, 0.0, "ERLE 23 dB"),
    (math.nan, 40.0, 0.0, "ERLE —"),
    (60.0, 12.0, 0.5, "ERLE 60 dB · delay 12 ms"),
])
def test_echo_figures_read_as_a_person_would_say_them(erle: float, delay: float,
                                                      confidence: float, text: str) -> None:
    stats = EchoStats(erle_db=erle, echo_delay_ms=delay, delay_confidence=confidence,
                      far_active=True, windows=())
    assert echo_text(stats, True) == text
    assert echo_text(stats, False) == ""


def test_the_microphone_state_is_said_in_one_large_word(make_window: MakeWindow) -> None:
    engine = FakeEngine()
    controller = FakeController()
    window = make_window(engine, controller)
    badge = window.mic.badge
    assert badge.text() == "NOT IN A ROOM"
    controller.script(connected("demo", "me"))
    window.poll()
    assert badge.text() == "LIVE"
    window.mic.self_mute.click()
    window.poll()
    assert badge.text() == "MUTED"
    window.mic.self_mute.click()
    window.mic.ptt.click()
    window.poll()
    assert badge.text() == "PUSH TO TALK"
    assert badge.font().pointSizeF() > window.mic.self_mute.font().pointSizeF() * 1.3
    # The SDK restores a dropped connection: nobody hears us meanwhile, and it says so.
    controller.script(SessionSnapshot(state=ConnState.RECONNECTING, room="demo",
                                      identity="me"))
    window.poll()
    assert badge.text() == "RECONNECTING"
    assert "nobody hears you" in badge.toolTip()
    controller.script(connected("demo", "me"))
    window.poll()
    assert badge.text() == "PUSH TO TALK"


def test_both_meters_are_shown_and_labelled(make_window: MakeWindow) -> None:
    from console.engine.meter import MeterSnapshot

    engine = FakeEngine()
    window = make_window(engine, FakeController())
    heard = MeterSnapshot(peak_db=-6.0, hold_db=-6.0, rms_db=-10.0, clipped=False, frames=1)
    sent = MeterSnapshot(peak_db=-80.0, hold_db=-80.0, rms_db=-84.0, clipped=False, frames=1)
    engine.heard, engine.meter = heard, sent
    window.poll()
    assert window.mic.heard.rms_db == -10.0 and window.mic.sent.rms_db == -84.0
    assert "-10.0" in window.mic.heard_readout.text()
    assert "-84.0" in window.mic.sent_readout.text()
    labels = {label.text(): label.toolTip() for label in window.mic.findChildren(QLabel)}
    assert "before processing" in labels["Heard"]
    assert "echo cancellation" in labels["Sent"]


def test_an_unplugged_microphone_says_what_was_done_and_the_meters_rest(
        make_window: MakeWindow) -> None:
    from console.engine.meter import MeterSnapshot

    engine = FakeEngine()
    window = make_window(engine, FakeController())
    engine.heard = MeterSnapshot(peak_db=-6.0, hold_db=-6.0, rms_db=-10.0, clipped=False,
                                 frames=1)
    window.poll()
    assert window.mic.banner.isHidden()
    engine.unplug()
    window.poll()
    assert not window.mic.banner.isHidden()
    assert "fake_mic_a" in window.mic.banner.text() and "waiting" in window.mic.banner.text()
    assert window.mic.badge.text() == "NO DEVICE"
    assert window.mic.heard.rms_db < -90
    engine.replug()
    window.poll()
    assert window.mic.banner.isHidden()
    assert window.mic.picker.combo.currentData() == "fake_mic_a"


# -- 10: remembered, Enter, quality, queue range ----------------------------------------------
def test_mode_room_key_and_local_mute_are_remembered(make_window: MakeWindow,
                                                    ini: Path) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller)
    panel = window.join_panel
    panel.server_mode.setChecked(True)
    panel.url.setText("ws://127.0.0.1:7880")
    panel.api_key.setText("devkey")
    panel.api_secret.setText("secret-not-for-the-file")
    panel.room.setEditText("standup")
    panel.join_button.click()
    controller.script(connected("standup", "me", participant("alice")))
    window.poll()
    window.participants.strips["alice"].mute_here.click()
    window.participants.strips["alice"].volume.setValue(
        window.participants.strips["alice"].volume.minimum())
    window.close()
    text = ini.read_text()
    assert "secret-not-for-the-file" not in text

    again = FakeController(controller.participant_prefs.__class__(
        settings.load(settings.open_store(ini)).volumes,
        settings.load(settings.open_store(ini)).muted_here))
    window2 = make_window(FakeEngine(), again)
    panel2 = window2.join_panel
    assert panel2.server_mode.isChecked()
    assert panel2.room.currentText() == "standup"
    assert panel2.api_key.text() == "devkey" and panel2.api_secret.text() == ""
    assert again.participant_prefs.muted("alice")
    assert again.participant_prefs.volume_db("alice") == -math.inf
    assert '\\"off\\"' in text  # off is stored as off, not as -100 dB
    again.script(connected("standup", "me", participant("alice")))
    window2.poll()
    strip = window2.participants.strips["alice"]
    assert strip.mute_here.isChecked() and strip.volume_label.text() == "off"


def test_enter_in_the_room_field_joins(make_window: MakeWindow) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller)
    edit = window.join_panel.room.lineEdit()
    assert edit is not None
    edit.setText("standup")
    edit.returnPressed.emit()
    assert [j.room for j in controller.joins] == ["standup"]


def test_connection_quality_is_drawn_as_bars(make_window: MakeWindow) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller)
    controller.script(connected("demo", "me", participant("a", quality="excellent"),
                                participant("b", quality="poor")))
    window.poll()
    strips = window.participants.strips
    assert strips["a"].quality.lit() == 3 and strips["b"].quality.lit() == 1
    assert "poor" in strips["b"].quality.toolTip()
    # The track's own figures: a silent sender with DTX sends a few packets a second.
    controller.script(connected("demo", "me", participant("a", quality="excellent"),
                                participant("b", quality="poor", loss=(98, 2),
                                            packets_per_s=4.6)))
    window.poll()
    tip = strips["b"].quality.toolTip()
    assert "poor" in tip and "5 packets/s" in tip and "loss 2.0 %" in tip, tip


def test_an_agents_strip_says_its_state_and_how_long_it_has_held_it(
        make_window: MakeWindow) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller)
    since = time.monotonic() - 1.5
    controller.script(connected("demo", "me", participant("bot", agent=True),
                                participant("sam")))
    window.poll()
    badge = window.participants.strips["bot"].badge
    assert badge.text() == "agent"  # an agent that publishes no state
    assert window.participants.strips["sam"].badge.isHidden()
    controller.script(connected("demo", "me", participant("bot", agent=True,
                                                          agent_state="thinking",
                                                          state_since=since)))
    window.poll()
    state, held, unit = badge.text().split()
    assert (state, unit) == ("thinking", "s") and 1.5 <= float(held) < 3.0, badge.text()
    assert "thinking" in badge.toolTip()
    colour = badge.styleSheet()
    controller.script(connected("demo", "me", participant("bot", agent=True,
                                                          agent_state="speaking",
                                                          state_since=time.monotonic())))
    window.poll()
    assert badge.text().startswith("speaking 0.") and badge.styleSheet() != colour
    # The widest state and time fit the strip's tag slot: the meters stay aligned.
    badge.show_state("initializing", 59.9)
    assert badge.sizeHint().width() <= badge.parentWidget().width()


def test_the_queue_plot_range_steps_up_at_once_and_down_after_a_quiet_spell() -> None:
    steps = SteppedRange()
    assert steps.update(35.0, 0.0) == 50.0
    assert steps.update(170.0, 1.0) == 200.0      # a burst: up at once
    assert steps.update(35.0, 2.0) == 200.0       # back down: not yet
    assert steps.update(40.0, 6.0) == 200.0
    assert steps.update(38.0, 10.5) == 100.0      # after 8 s quiet: one step down
    assert steps.update(38.0, 19.0) == 50.0
    assert steps.update(60.0, 19.5) == 100.0


def test_the_queue_plots_legend_uses_the_names_the_strips_show(
        make_window: MakeWindow) -> None:
    engine = FakeEngine()
    controller = FakeController()
    window = make_window(engine, controller, show=True)
    engine.channels = [channel("agent-7f3"), channel("u1"), channel("u2")]
    controller.script(connected("demo", "me", participant("agent-7f3", name="Support agent"),
                                participant("u1", name="Sam"), participant("u2", name="Sam")))
    time.sleep(SAMPLE_S)  # the plot samples 5 times a second
    window.poll()
    assert window.participants.strips["agent-7f3"].name.text() == "Support agent"
    # Two people called Sam are told apart by their identities.
    assert set(window.queues.series) >= {"Support agent", "Sam (u1)", "Sam (u2)"}
    assert not {"agent-7f3", "u1", "u2"} & set(window.queues.series)


# -- layout remembered, appearance ------------------------------------------------------------
def test_splitter_positions_and_the_theme_are_remembered(make_window: MakeWindow,
                                                         ini: Path) -> None:
    window = make_window(FakeEngine(), FakeController(), show=True)
    window.resize(760, 560)  # the offscreen screen is 800x600
    QApplication.processEvents()
    window._root.setSizes([400, 340])
    window._right.setSizes([200, 260])
    QApplication.processEvents()
    wanted = (window._root.sizes(), window._right.sizes())
    window.theme_actions["dark"].trigger()
    assert QApplication.instance().palette().color(  # type: ignore[union-attr]
        QApplication.instance().palette().ColorRole.Window).lightness() < 128  # type: ignore[union-attr]
    window.close()
    again = make_window(FakeEngine(), FakeController(), show=True)
    QApplication.processEvents()
    assert (again._root.sizes(), again._right.sizes()) == wanted
    assert again.theme_actions["dark"].isChecked()
    again.theme_actions["light"].trigger()
    assert settings.load(settings.open_store(ini)).theme == "light"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_empty_meter_and_its_clip_box_are_visible_in_both_themes(
        make_window: MakeWindow, theme: str) -> None:
    """On dark, the trough and the clip box were drawn in colours close to the window's."""
    window = make_window(FakeEngine(), FakeController(), show=True)
    window.set_theme(theme)
    QApplication.processEvents()
    meter = window.mic.heard
    image = meter.grab().toImage()
    window_color = meter.palette().color(meter.palette().ColorRole.Window)
    bar, clip = meter.bar_rect, meter.clip_rect
    frame_left = image.pixelColor(bar.left() - 1, bar.center().y())
    clip_edge = image.pixelColor(clip.left() - 1, clip.center().y())
    for seen in (frame_left, clip_edge):
        assert abs(seen.lightness() - window_color.lightness()) >= 40, (theme, seen.name())


def test_every_remembered_setting_has_exactly_one_owner() -> None:
    import dataclasses

    from console.widgets.join_panel import JoinPanel
    from console.widgets.mic_panel import MicrophonePanel
    from console.widgets.output_panel import OutputPanel
    from console.widgets.processing_panel import ProcessingPanel
    from console.widgets.status_panel import StatusPanel

    owners = (MainWindow, JoinPanel, MicrophonePanel, OutputPanel, ProcessingPanel,
              StatusPanel)
    claimed = [name for owner in owners for name in owner.SETTINGS]
    fields = [f.name for f in dataclasses.fields(settings.Settings)]
    assert sorted(claimed) == sorted(fields)  # each once, none left out


def test_new_device_lists_from_the_engine_are_shown_without_reopening(
        make_window: MakeWindow) -> None:
    """The engine watches the devices; the window lists what it found, at the next tick."""
    from tests.fakes import device

    engine = FakeEngine()
    window = make_window(engine, FakeController())
    engine.inputs.append(device("fake_usb_mic", 9, inputs=1))
    window.poll()
    assert "fake_usb_mic" not in window.mic.picker.names()
    refreshes = engine.refreshes
    engine.lists_version += 1
    window.poll()
    assert "fake_usb_mic" in window.mic.picker.names()
    assert engine.refreshes == refreshes  # listed, not re-scanned (that reopens streams)


def test_an_output_that_went_away_is_said_beside_its_list_until_it_is_back(
        make_window: MakeWindow) -> None:
    """The engine plays on the default meanwhile (tests/test_pulse_devices.py, real); the
    window says so under the output list at the next re-listing, and stops when it is back."""
    engine = FakeEngine()
    window = make_window(engine, FakeController())
    line = window.output.picker.error
    assert line.plain_text() == "" and not line.isVisibleTo(window)
    engine.output_notice = "USB Headset went away: playing on Speakers until it is back."
    engine.lists_version += 1
    window.poll()
    assert line.plain_text() == engine.output_notice and line.isVisibleTo(window)
    engine.output_notice = None
    engine.lists_version += 1
    window.poll()
    assert not line.isVisibleTo(window)


def test_the_microphone_is_checked_from_the_panel_without_a_room(
        make_window: MakeWindow) -> None:
    """Fake engine (the real one: tests/test_mic_test.py): the button and Ctrl+T start and
    stop a test, the line says what happens; Hear myself says its latency."""
    from console.engine.mic_test import MicTestState, Phase

    engine = FakeEngine()
    window = make_window(engine, None)
    mic = window.mic
    mic.test_button.click()
    assert engine.mic_tests_started == 1
    window.poll()
    assert mic.check_status.plain_text() == "Recording: speak now (5 s left)"
    assert mic.test_button.text() == "Stop test"
    engine.mic_test = MicTestState(Phase.PLAYING, 0.5, 5.0, -23.2)
    window.poll()
    assert mic.check_status.plain_text() == "Playing back what was recorded (-23 dBFS)"
    window.actions_by_name["mic_test"].trigger()  # Ctrl+T: stops it
    assert engine.mic_test is None and engine.mic_tests_started == 1
    engine.mic_test = MicTestState(Phase.IDLE, 1.0, 5.0, -23.2)
    window.poll()
    assert mic.check_status.plain_text() == "Last test: recorded at -23 dBFS"
    assert mic.test_button.text() == "Test microphone"
    window.actions_by_name["hear_myself"].trigger()  # Ctrl+H
    assert engine.hearing_myself and mic.hear_myself.isChecked()
    window.poll()
    assert mic.check_status.plain_text() == "Hearing yourself, 48 ms late (use headphones)"
    # a long line wraps: it never widens the panel (seen clipped at 1024x640)
    assert mic.check_status.minimumSizeHint().width() <= 80  # (a plain label: ~280 px)
    mic.hear_myself.click()
    assert not engine.hearing_myself


def test_a_server_device_shows_what_the_server_says_of_it(make_window: MakeWindow) -> None:
    """Rate and channels of the open device; a Bluetooth headset's profile, and a warning
    when its hands-free profile makes it narrow band (listed again as the server changes
    it: the entry of the latest listing is shown, not the one from when it opened)."""
    import dataclasses

    from console.engine.devices import AudioDevice

    headset = AudioDevice(index=0, name="bluez_output.00_11", hostapi="PulseAudio",
                          max_input_channels=0, max_output_channels=2,
                          default_samplerate=48000.0, is_default_input=False,
                          is_default_output=True, backend="pulse",
                          description="WH-1000XM4", bus="bluetooth", profile="a2dp-sink")
    engine = FakeEngine()
    engine.outputs[:] = [headset]
    window = make_window(engine, FakeController())
    assert window.output is not None
    info = window.output.picker.info
    assert window.output.picker.combo.currentText() == "WH-1000XM4 (default)"
    assert info.text() == "48 kHz, 2 channels; Bluetooth, profile a2dp-sink"
    narrow = dataclasses.replace(headset, profile="headset-head-unit",
                                 default_samplerate=16000.0, max_output_channels=1)
    engine.outputs[:] = [narrow]
    engine.lists_version += 1
    window.poll()
    assert info.text().startswith("16 kHz, 1 channel; Bluetooth, profile headset-head-unit. "
                                  "Narrow band"), info.text()
    # PortAudio's devices say nothing more than their name
    engine.outputs[:] = [dataclasses.replace(headset, backend="portaudio")]
    engine.lists_version += 1
    window.poll()
    assert info.text() == "" and not info.isVisibleTo(window)


def test_the_transcript_tab_shows_the_rooms_words_and_is_remembered(
        make_window: MakeWindow, ini: Path) -> None:
    from console.session.transcript import Speaker

    controller = FakeController()
    window = make_window(FakeEngine(), controller, show=True)
    assert window.bottom.currentWidget() is window.queues  # the default
    model = controller.session.transcript_model
    token = model.open("SG_1", Speaker("console-me", local=True))
    model.write(token, "is anyone there", 1.0)
    window.poll()
    assert window.transcript.text.toPlainText() == ""  # hidden: not redrawn
    window.actions_by_name["show_transcript"].trigger()
    assert window.bottom.currentWidget() is window.transcript
    window.poll()
    assert window.transcript.text.toPlainText() == "you: is anyone there …"
    assert settings.load(settings.open_store(ini)).bottom_tab == "transcript"
    window.close()
    again = make_window(FakeEngine(), FakeController(), show=True)
    assert again.bottom.currentWidget() is again.transcript
    again.actions_by_name["show_queues"].trigger()
    assert again.bottom.currentWidget() is again.queues
