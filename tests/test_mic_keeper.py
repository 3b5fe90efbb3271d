"""The microphone keeper's decisions, step by step on a stand-in stream and a test clock.

The stream here only answers what the keeper reads (device, open, failed, failures); which
devices exist and which open is the test's. What a real unplug does on real streams is in
``test_mic_unplug.py``.
"""

from __future__ import annotations

import threading

from console.engine.device_stream import STALL_S
from console.engine.devices import AudioDevice, DeviceError, DeviceNotFoundError
from console.engine.mic_keeper import WATCH_S, MicKeeper
from console.engine.mic_state import MicAction, MicState, MicStatus


def dev(name: str) -> AudioDevice:
    return AudioDevice(index=0, name=name, hostapi="Test", max_input_channels=1,
                       max_output_channels=0, default_samplerate=48000.0,
                       is_default_input=False, is_default_output=False)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stream:
    """What the keeper reads of a DeviceStream; ``unplug`` is PortAudio ending it."""

    def __init__(self, clock: Clock) -> None:
        self.device: AudioDevice | None = None
        self.error: str | None = None
        self.failures = 0
        self.is_open = False
        self._clock = clock

    @property
    def failed(self) -> bool:
        return self.error is not None

    def alive(self, now: float) -> bool:
        return self.is_open and self.error is None

    def report(self, now: float) -> str | None:
        return self.error

    def unplug(self) -> None:
        self.error = f"input {self.device.name if self.device else '?'!r} stopped (unplugged?)"
        self.failures += 1


class Card:
    """The devices present, and a keeper wired to them (as AudioEngine wires the real one)."""

    def __init__(self, *present: str, default: str = "mic_default", fallback: bool = True,
                 watch: object | None = None) -> None:
        self.clock = Clock()
        self.stream = Stream(self.clock)
        self.present = set(present)
        self.default = default
        self.opened: list[str] = []
        self.refreshes = 0
        self.keeper = MicKeeper(self.stream, open_=self.open, close=self.close,  # type: ignore[arg-type]
                                default_input=lambda: dev(self.default), refresh=self.refresh,
                                lock=threading.RLock(), fallback=fallback,
                                watch=watch, clock=self.clock)  # type: ignore[arg-type]

    def open(self, spec: str | int | None) -> AudioDevice:
        name = self.default if spec is None else str(spec)
        if name not in self.present:
            raise DeviceNotFoundError(f"no input device named {name!r}")
        self.opened.append(name)
        self.stream.device, self.stream.error, self.stream.is_open = dev(name), None, True
        return dev(name)

    def close(self) -> None:
        self.stream.device, self.stream.is_open = None, False

    def refresh(self) -> None:
        self.refreshes += 1

    def choose(self, spec: str | None) -> None:
        self.keeper.chose(spec, self.open(spec))

    def after(self, seconds: float) -> None:
        self.clock.now += seconds
        self.keeper.step()

    def relisted(self) -> None:
        """The device lists were re-read (the watch saw a change, or F5): try again."""
        self.keeper.retry_soon()
        self.after(0.1)

    @property
    def state(self) -> MicState:
        return self.keeper.state(self.clock.now)


def test_an_unplugged_choice_falls_back_to_the_default_and_wins_again_when_back() -> None:
    card = Card("headset", "mic_default")
    card.choose("headset")
    assert card.state.status is MicStatus.LIVE and card.state.message == ""
    card.present.discard("headset")
    card.stream.unplug()
    # Before the keeper looks, the dead stream already reads as no device.
    assert card.state.status is MicStatus.NO_DEVICE and card.state.device is None
    card.after(0.1)
    s = card.state
    assert (s.status, s.device, s.missing, s.unplugged, s.action) == (
        MicStatus.LIVE, "mic_default", "headset", True, MicAction.FELL_BACK)
    assert s.chosen == "headset" and s.since is not None
    assert "'headset' was unplugged" in s.message and "'mic_default'" in s.message
    card.relisted()  # still gone: stays on the fallback, no reopening of it
    assert card.opened == ["headset", "mic_default"]
    card.present.add("headset")
    card.relisted()
    s = card.state
    assert (s.device, s.missing, s.action, s.message) == ("headset", None, MicAction.NONE, "")


def test_without_fallback_it_waits_on_silence_and_reopens_the_choice() -> None:
    card = Card("headset", "mic_default", fallback=False)
    card.choose("headset")
    card.present.discard("headset")
    card.stream.unplug()
    card.after(0.1)
    s = card.state
    assert (s.status, s.device, s.action) == (MicStatus.NO_DEVICE, None, MicAction.WAITING)
    assert "waiting for it to come back" in s.message
    card.present.add("headset")
    card.relisted()
    assert card.state.device == "headset" and card.state.action is MicAction.NONE


def test_when_the_default_is_what_went_it_waits_for_it() -> None:
    card = Card("mic_default")
    card.choose(None)  # the user's choice: whatever the default input is
    assert card.state.chosen is None
    card.present.clear()
    card.stream.unplug()
    card.after(0.1)
    assert card.state.action is MicAction.WAITING and card.state.missing == "mic_default"
    card.present.add("mic_default")
    card.relisted()
    assert card.state.device == "mic_default" and card.state.missing is None


def test_a_fallback_that_goes_too_leaves_it_waiting_and_it_tries_both_again() -> None:
    card = Card("headset", "mic_default")
    card.choose("headset")
    card.present.discard("headset")
    card.stream.unplug()
    card.after(0.1)
    assert card.state.action is MicAction.FELL_BACK
    card.present.discard("mic_default")
    card.stream.unplug()
    card.after(0.1)
    s = card.state
    assert (s.status, s.action, s.missing) == (MicStatus.NO_DEVICE, MicAction.WAITING, "headset")
    card.present.add("mic_default")  # the default returns first: used again
    card.relisted()
    assert card.state.action is MicAction.FELL_BACK and card.state.device == "mic_default"


def test_a_choice_missing_at_start_is_stood_in_for_and_reopened_when_back() -> None:
    card = Card("mic_default")
    assert card.keeper.unavailable("headset")  # an input is open
    card.after(0.1)
    s = card.state
    assert (s.status, s.device, s.action, s.missing, s.chosen, s.unplugged) == (
        MicStatus.LIVE, "mic_default", MicAction.FELL_BACK, "headset", "headset", False)
    assert "'headset' is not available: using the default input 'mic_default'" in s.message
    card.present.add("headset")
    card.relisted()
    s = card.state
    assert (s.device, s.action, s.missing, s.chosen) == ("headset", MicAction.NONE, None,
                                                         "headset")


def test_without_fallback_a_choice_missing_at_start_is_waited_for_not_replaced() -> None:
    card = Card("mic_default", fallback=False)
    assert not card.keeper.unavailable("headset")
    card.after(0.1)
    s = card.state
    assert (s.status, s.action, s.missing, s.unplugged) == (
        MicStatus.NO_DEVICE, MicAction.WAITING, "headset", False)
    assert "'headset' is not available" in s.message
    assert card.opened == []  # no fallback: the caller decides what to open instead
    card.present.add("headset")
    card.relisted()
    assert card.state.device == "headset" and card.state.action is MicAction.NONE


def test_a_new_choice_ends_the_wait() -> None:
    card = Card("headset", "mic_b", "mic_default")
    card.choose("headset")
    card.present.discard("headset")
    card.stream.unplug()
    card.after(0.1)
    card.choose("mic_b")
    assert card.state.device == "mic_b" and card.state.missing is None
    card.present.add("headset")
    card.relisted()
    assert card.state.device == "mic_b", "the old choice must not come back over a new one"


def test_a_failed_choice_that_closed_the_input_reopens_the_one_before() -> None:
    card = Card("headset", "mic_default")
    card.choose("headset")
    card.close()  # the new device's stream was created, the old closed, the start failed
    card.keeper.choice_failed()
    assert card.state.device == "headset" and card.state.missing is None


def test_the_device_watch_re_reads_the_lists_and_retries_at_once() -> None:
    class Watch:
        changed = False

        def poll(self) -> bool:
            return self.changed

    watch = Watch()
    card = Card("headset", "mic_default", watch=watch)
    card.choose("headset")
    card.present.discard("headset")
    card.stream.unplug()
    card.after(0.1)    # fell back
    card.after(WATCH_S)  # the watch sees nothing: no re-reading
    assert card.refreshes == 0 and card.state.action is MicAction.FELL_BACK
    card.present.add("headset")
    watch.changed = True
    card.after(WATCH_S)  # the watch sees the change: re-read, and the headset tried at once
    assert card.refreshes == 1
    assert card.state.device == "headset"


def test_a_stalled_stream_is_reported_but_kept() -> None:
    card = Card("headset")
    card.choose("headset")
    card.stream.alive = lambda now: False  # type: ignore[method-assign]
    card.after(STALL_S + 0.1)
    s = card.state
    assert (s.status, s.device, s.action) == (MicStatus.STALLED, "headset", MicAction.NONE)


def test_a_failing_open_is_a_device_error_the_keeper_survives() -> None:
    card = Card("headset", "mic_default")
    card.choose("headset")

    def broken(spec: str | int | None) -> AudioDevice:
        raise DeviceError("cannot open input: Device unavailable [PaErrorCode -9985]")

    card.keeper._open = broken  # type: ignore[method-assign]
    card.present.discard("headset")
    card.stream.unplug()
    card.after(0.1)
    assert card.state.action is MicAction.WAITING
    card.relisted()
    assert card.state.action is MicAction.WAITING


def test_an_engine_not_started_reads_off_and_silent() -> None:
    from console.engine.audio_engine import AudioEngine
    from console.engine.capture import IDLE_METERS
    from console.engine.mic_state import OFF

    engine = AudioEngine()
    assert engine.mic_state() == OFF and not engine.mic_state().live
    assert engine.mic_meters() == IDLE_METERS
    assert engine.device_lists_version == 0


def test_a_missing_input_is_not_opened_on_a_timer_only_after_a_re_listing() -> None:
    """Opening a sound server's missing source every second hung PortAudio's ALSA thread."""
    card = Card("headset", "mic_default", fallback=False)
    card.choose("headset")
    card.present.discard("headset")
    card.stream.unplug()
    card.after(0.1)
    tries = 0

    def counting(spec: str | int | None) -> AudioDevice:
        nonlocal tries
        tries += 1
        return card.open(spec)

    card.keeper._open = counting  # type: ignore[method-assign]
    for _ in range(120):  # a minute
        card.after(0.5)
    assert tries == 0
    card.present.add("headset")
    card.relisted()
    assert tries == 1 and card.state.device == "headset"
