"""Unplugging the open microphone on the virtual card (real streams, a real module unload):
the engine falls back to the default input or waits on silence, says so in ``mic_state``,
the meters stop showing the lost device.

The facts behind it (docs/ARCHITECTURE.md): with ``rescue-streams = no`` an unloaded source
ends its stream (``finished_callback``) and PortAudio's list does not change. The tests that
re-list the devices play their tones from a child process (``playing_apart``): re-initialising
PortAudio ends every stream of the process, and a test's own stream torn down that way left
PortAudio's ALSA thread spinning (gigabytes of "capture.ready" on stderr, an abort that never
returned).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from console.engine.meter import SILENT
from console.engine.mic_state import MicAction, MicStatus
from tests.audio_helpers import playing, playing_apart, sine, wait_until

pytestmark = pytest.mark.audio

SPARE = "lkc_mic_spare"  # hears speaker B; unloading it leaves mic A and B alone


@pytest.fixture
def make_engine(sound_card: object) -> Iterator[Callable[..., object]]:
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine

    made: list[AudioEngine] = []
    before = {t.ident for t in threading.enumerate()}

    def make(device: str, **options: object) -> AudioEngine:
        engine = AudioEngine(input_device=device, processing=ProcessingConfig.off(),
                             **options)  # type: ignore[arg-type]
        made.append(engine)
        engine.start()
        return engine

    yield make
    for engine in made:
        engine.stop()
    assert wait_until(lambda: not [t for t in threading.enumerate()
                                   if t.ident not in before
                                   and t.name in ("media", "mic-keeper")], 2.0)


class Spare:
    """The spare microphone: call it to unplug it, ``plug()`` puts it back."""

    def __init__(self, card: object) -> None:
        self.card = card
        self.unplugged = False

    def __call__(self) -> None:
        self.card.unload_mic(SPARE)  # type: ignore[attr-defined]
        self.unplugged = True

    def plug(self) -> None:
        self.card.load_mic(SPARE)  # type: ignore[attr-defined]
        self.unplugged = False


@pytest.fixture
def spare(sound_card: object) -> Iterator[Spare]:
    """Unplug the spare microphone (call it); it is plugged back in at the end if need be."""
    spare = Spare(sound_card)
    yield spare
    if spare.unplugged:  # after the engine stopped (request this fixture before make_engine)
        spare.plug()


def test_an_unplugged_mic_falls_back_to_the_default_input(
        spare, make_engine) -> None:
    from console.engine import devices

    default = devices.find_device(None, "input").name  # the pulse default: mic A
    assert default != SPARE
    engine = make_engine(SPARE)
    with playing("lkc_speaker_b", sine(-20.0, 500.0)):
        assert wait_until(lambda: engine.mic_meter().rms_db > -21.0, 3.0)
        spare()
        t0 = time.monotonic()
        # The default input is open in its place, with no error left: not the spare's tone.
        assert wait_until(lambda: engine.capture_stats().device == default
                          and engine.capture_stats().device_error is None, 2.0)
        fell_back = time.monotonic() - t0
        assert wait_until(lambda: engine.mic_meter().rms_db < -80.0, 1.0)
        state = engine.mic_state()
        assert (state.status, state.device, state.missing, state.unplugged, state.action) == (
            MicStatus.LIVE, default, SPARE, True, MicAction.FELL_BACK), state
        assert state.chosen == SPARE and state.since is not None
        assert f"{SPARE!r} was unplugged" in state.message and repr(default) in state.message
        assert fell_back < 0.5
        # What is open now is live: it hears its own speaker.
        with playing("lkc_speaker_a", sine(-30.0, 900.0)):
            assert wait_until(lambda: engine.mic_meters().heard.rms_db > -31.0, 3.0)


def test_without_fallback_the_meters_go_still_and_silent_and_it_waits(
        spare, make_engine) -> None:
    engine = make_engine(SPARE, input_fallback=False)
    source = engine.source
    with playing("lkc_speaker_b", sine(-20.0, 500.0)):
        assert wait_until(lambda: engine.mic_meters().heard.rms_db > -21.0, 3.0)
        spare()
        assert wait_until(lambda: engine.capture_stats().device_error is not None, 2.0)
        time.sleep(0.05)  # the chain notices on its next 10 ms tick
        # No fading numbers: both meters read silence and stay still (no device, no frames).
        first = engine.mic_meters()
        delivered = engine.capture_stats().frames_delivered
        time.sleep(0.5)
        later = engine.mic_meters()
        assert first.heard == first.sent == SILENT
        assert later == first
        assert engine.capture_stats().frames_delivered - delivered >= 35  # silence goes on
        state = engine.mic_state()
        assert (state.status, state.device, state.missing, state.unplugged, state.action) == (
            MicStatus.NO_DEVICE, None, SPARE, True, MicAction.WAITING), state
        assert not state.live and "waiting for it to come back" in state.message
        assert SPARE in (state.error or "")
    assert engine.source is source, "the published track's source survives it all"


def test_a_new_choice_while_waiting_ends_the_wait(spare, make_engine) -> None:
    engine = make_engine(SPARE, input_fallback=False)
    spare()
    assert wait_until(lambda: engine.mic_state().action is MicAction.WAITING, 2.0)
    engine.set_input_device("lkc_mic_a")
    state = engine.mic_state()
    assert (state.device, state.chosen, state.missing, state.action) == (
        "lkc_mic_a", "lkc_mic_a", None, MicAction.NONE)
    time.sleep(0.5)
    assert engine.capture_stats().device == "lkc_mic_a"


def test_a_mic_missing_at_start_is_stood_in_for_by_the_default(spare, make_engine) -> None:
    from console.engine import devices

    spare()
    engine = make_engine(SPARE)  # no error: the default input is open in its place
    state = engine.mic_state()
    default = devices.find_device(None, "input").name
    assert (state.device, state.chosen, state.missing, state.action) == (
        default, SPARE, SPARE, MicAction.FELL_BACK), state
    assert wait_until(lambda: engine.mic_state().status is MicStatus.LIVE, 2.0)


def test_without_fallback_a_mic_missing_at_start_is_waited_for(sound_card, spare) -> None:
    from console.engine.audio_engine import AudioEngine
    from console.engine.devices import DeviceError

    spare()
    engine = AudioEngine(input_device=SPARE, input_fallback=False)
    try:
        with pytest.raises(DeviceError):
            engine.start()
        state = engine.mic_state()
        assert (state.status, state.missing, state.unplugged, state.action) == (
            MicStatus.NO_DEVICE, SPARE, False, MicAction.WAITING), state
        assert f"{SPARE!r} is not available" in state.message
    finally:
        engine.stop()
    assert engine.mic_state().status is MicStatus.OFF


@pytest.mark.parametrize("fallback", [True, False])
def test_the_chosen_mic_is_reopened_when_it_is_back_and_the_lists_are_read(
        spare, make_engine, fallback: bool) -> None:
    engine = make_engine(SPARE, input_fallback=fallback)
    with playing_apart("lkc_speaker_b", -20.0, 500.0):
        assert wait_until(lambda: engine.mic_meters().heard.rms_db > -21.0, 3.0)
        spare()
        waiting = MicAction.FELL_BACK if fallback else MicAction.WAITING
        assert wait_until(lambda: engine.mic_state().action is waiting, 2.0)
        # Re-read while it is still missing: nothing changes, nothing hangs.
        engine.refresh_devices()
        time.sleep(0.3)
        assert engine.mic_state().missing == SPARE
        spare.plug()
        t0 = time.monotonic()
        engine.refresh_devices()  # what the device watch (or F5) does
        # The user's choice wins again and hears its speaker; the note is gone.
        assert wait_until(lambda: engine.capture_stats().device == SPARE
                          and engine.mic_meters().heard.rms_db > -21.0, 3.0), engine.mic_state()
        back = time.monotonic() - t0
        state = engine.mic_state()
        assert (state.status, state.device, state.missing, state.action) == (
            MicStatus.LIVE, SPARE, None, MicAction.NONE), state
        assert back < 1.5
