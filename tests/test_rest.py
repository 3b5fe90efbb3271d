"""Resting (issue 18): the devices closed while the window is out of sight and nothing
needs them, reopened as they were.

Real parts: the engine on the sound server's devices of the virtual card (its libpulse
streams), the virtual "USB headset" unplugged while resting, a real window offscreen.
The virtual microphone A hears speaker A, so a tone played proves both directions work
again after waking.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.audio_helpers import pulse_engine, wait_until

pytestmark = pytest.mark.audio

HEADSET = "usb_headset_rest"


@pytest.fixture
def engine(sound_card: Any) -> Iterator[Any]:
    with pulse_engine(sound_card, publishing=False) as eng:
        yield eng


def _stream_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name in ("pulse-in", "pulse-out")}


def _counters(engine: Any) -> tuple[int, int]:
    return engine.capture_stats(False).frames_captured, engine.output_stats().frames_mixed


def _hears_the_tone(engine: Any) -> bool:
    engine.play_test_tone(440.0, -18.0, 2.0)
    return wait_until(lambda: engine.mic_meters().heard.rms_db > -24.0, 2.0)


def test_out_of_sight_the_devices_close_the_loops_sleep_and_all_comes_back(
        engine: Any) -> None:
    assert _hears_the_tone(engine)
    engine.mixer.stop_cue()
    assert wait_until(lambda: not engine.test_tone_playing, 1.0)
    assert _stream_threads() == {"pulse-in", "pulse-out"}

    engine.set_resting(True)
    assert engine.resting
    assert engine.input_device is None and engine.output_device is None
    assert wait_until(lambda: not _stream_threads(), 1.0)  # both libpulse streams ended
    before = _counters(engine)
    time.sleep(0.5)
    # Nothing captured, and the mixer did not tick on the engine's own clock either
    # (awake with no device it mixes 100 frames a second).
    assert _counters(engine) == before
    assert engine.mic_meters().heard.rms_db < -90.0  # the meter shows silence, not the last

    engine.set_resting(False)
    assert not engine.resting
    assert engine.input_device is not None and engine.input_device.name == "lkc_mic_a"
    assert engine.output_device is not None and engine.output_device.name == "lkc_speaker_a"
    assert engine.mic_state().status.name == "LIVE"
    assert _hears_the_tone(engine)


def test_nothing_rests_while_something_needs_the_devices(engine: Any) -> None:
    engine.set_publishing(True)  # a room takes the microphone
    engine.set_resting(True)
    assert not engine.resting and engine.input_device is not None
    engine.set_publishing(False)  # left the room while out of sight: now it rests
    assert engine.resting

    engine.start_mic_test(0.5)  # anything that needs the devices wakes them first
    assert not engine.resting and engine.input_device is not None
    engine.set_resting(True)
    assert not engine.resting  # the test is recording
    engine.cancel_mic_test()

    engine.set_hear_myself(True)
    engine.set_resting(True)
    assert not engine.resting
    engine.set_hear_myself(False)

    engine.set_resting(True)
    assert engine.resting
    assert _hears_the_tone(engine)  # a tone wakes them and is heard
    assert not engine.resting
    engine.mixer.stop_cue()
    engine.set_resting(True)  # and the engine stops while resting (the fixture)
    assert engine.resting


def test_devices_unplugged_while_resting_fall_back_on_waking_and_say_so(
        sound_card: Any, engine: Any) -> None:
    plugged = sound_card.plug_headset(HEADSET, "USB Headset Rest")
    try:
        assert wait_until(lambda: HEADSET + "_mic" in {d.name for d in engine.input_devices()},
                          1.0)
        engine.set_input_device(HEADSET + "_mic")
        engine.start_output(HEADSET)
        engine.set_resting(True)
        assert engine.resting
    finally:
        sound_card.unplug(plugged)
    time.sleep(0.3)  # the server's events arrive while resting: nothing is opened
    assert engine.resting and engine.input_device is None and engine.output_device is None

    engine.set_resting(False)
    assert engine.output_device is not None and engine.output_device.name == "lkc_speaker_a"
    assert "went away" in (engine.output_stats().notice or "")
    # (the keeper's record follows the fallback's opening: both waited for together)
    assert wait_until(lambda: (s := engine.mic_state()).device == "lkc_mic_a"
                      and s.missing == HEADSET + "_mic" and s.action.name == "FELL_BACK", 2.0)
    assert _hears_the_tone(engine)


def test_the_window_out_of_sight_lets_the_engine_rest(
        qtbot: Any, tmp_path: Any, engine: Any) -> None:
    from console import settings
    from console.widgets.main_window import MainWindow
    from tests.fakes import FakeController  # no room here: its join panel is not used

    window = MainWindow(engine, settings.open_store(str(tmp_path / "c.ini")),
                        controller=FakeController())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert not engine.resting
    window.hide()
    assert engine.resting
    window.show()
    assert not engine.resting and engine.input_device is not None
    window.showMinimized()
    assert wait_until(lambda: (qtbot.wait(10), engine.resting)[1], 2.0)
    window.showNormal()
    assert wait_until(lambda: (qtbot.wait(10), not engine.resting)[1], 2.0)
    assert engine.output_device is not None and engine.output_device.name == "lkc_speaker_a"


def test_a_finished_mic_test_and_a_watched_microphone_do_not_keep_it_awake(engine: Any) -> None:
    """Seen by hand: after a mic test, or after a room with an agent (whose turn detector
    stays on the microphone), a minimised window kept both devices open (4.3 % of a core
    instead of 0.8). The test's figure is kept, the detector waits for the next room, and
    meanwhile the microphone is only metered: nothing is processed or sent for them."""
    engine.watch_mic_voice(True)  # what a room with an agent leaves on
    engine.start_mic_test(0.3)
    assert wait_until(lambda: engine.mic_test_state().phase.name == "IDLE", 5.0)
    assert not math.isnan(engine.mic_test_state().level_dbfs)  # the last test's figure stays
    before = engine.capture_stats(False)
    time.sleep(0.3)
    after = engine.capture_stats(False)
    assert after.frames_captured - before.frames_captured >= 20
    assert after.frames_delivered == before.frames_delivered  # nothing goes to livekit
    engine.set_resting(True)
    assert engine.resting
    assert wait_until(lambda: not _stream_threads(), 1.0)
    engine.set_publishing(True)  # the next room: awake, and the detector sees what is sent
    assert not engine.resting
    assert wait_until(lambda: engine.capture_stats(False).frames_delivered
                      > after.frames_delivered + 20, 2.0)


def test_out_of_sight_it_rests_once_a_tone_or_hear_myself_ends(engine: Any) -> None:
    """Minimised while a tone (or a mic test's playback) plays, or while hearing oneself,
    the engine rests as soon as that ends, not at the next minimise."""
    engine.play_test_tone(440.0, -18.0, 0.4)
    engine.set_resting(True)
    assert not engine.resting  # the tone plays on
    assert wait_until(lambda: engine.resting, 2.0)
    assert wait_until(lambda: not _stream_threads(), 1.0)

    engine.set_resting(False)
    engine.set_hear_myself(True)
    engine.set_resting(True)
    assert not engine.resting
    engine.set_hear_myself(False)
    assert engine.resting
    engine.set_resting(False)  # shown again: awake, and no late rest follows
    time.sleep(0.7)
    assert not engine.resting and _stream_threads() == {"pulse-in", "pulse-out"}


# -- the output dozing while nothing plays (shown or not) ---------------------------------------
def _dozed(engine: Any) -> bool:
    """(A sink just loaded, as the headset, asks for its first audio up to ~1.5 s late.)"""
    from console.engine.output import DOZE_AFTER_S
    return wait_until(lambda: engine.output.dozing, DOZE_AFTER_S + 4.0)


def test_an_output_with_nothing_to_play_closes_and_a_tone_reopens_it(engine: Any) -> None:
    """Shown but out of a room, nothing playing: after a few seconds the output's stream
    closes (its thread and the server's stop waking for silence, the card may suspend),
    the window still names the device, and a tone plays on it again at once."""
    assert _hears_the_tone(engine)
    engine.mixer.stop_cue()
    assert _dozed(engine)
    assert wait_until(lambda: _stream_threads() == {"pulse-in"}, 1.0)  # the mic stays open
    assert engine.output_device is not None and engine.output_device.name == "lkc_speaker_a"
    assert engine.output_stats().device == "lkc_speaker_a"
    assert engine.output_stats().device_error is None
    assert engine.mic_state().status.name == "LIVE"

    assert _hears_the_tone(engine)
    assert not engine.output.dozing and _stream_threads() == {"pulse-in", "pulse-out"}
    assert engine.output.dozes == 1


def test_a_room_wakes_a_dozing_output_and_it_stays_open_there(engine: Any) -> None:
    """In a room the echo canceller's reference keeps its timeline, and the room's first
    words must not wait for a sound card to resume: joining opens the output at once."""
    from console.engine.output import DOZE_AFTER_S
    assert _dozed(engine)
    engine.set_publishing(True)  # a room takes the microphone
    assert wait_until(lambda: not engine.output.dozing and "pulse-out" in _stream_threads(),
                      0.5)
    time.sleep(DOZE_AFTER_S + 1.5)
    assert not engine.output.dozing and "pulse-out" in _stream_threads()


def test_an_output_unplugged_while_dozing_falls_back_and_says_so(
        sound_card: Any, engine: Any) -> None:
    plugged = sound_card.plug_headset(HEADSET, "USB Headset Rest")
    try:
        assert wait_until(lambda: HEADSET in {d.name for d in engine.output_devices()}, 1.0)
        engine.start_output(HEADSET)
        assert _dozed(engine)
        assert engine.output_device is not None and engine.output_device.name == HEADSET
    finally:
        sound_card.unplug(plugged)
    assert wait_until(lambda: (d := engine.output_device) is not None
                      and d.name == "lkc_speaker_a", 2.0)
    assert "went away" in (engine.output_stats().notice or "")
    assert _hears_the_tone(engine)
