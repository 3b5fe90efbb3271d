"""The device-stream lifecycle: generations, the finished callback, stalls, errors.

Real sounddevice streams on the virtual card where a device matters; a stand-in stream
object (it only answers start/abort/close/latency) where the device is beside the point.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from console.engine import devices
from console.engine.device_stream import STALL_S, DeviceStream
from console.engine.format import FRAME, SAMPLE_RATE
from tests.audio_helpers import wait_until


def _input(stream: DeviceStream, calls: Counter[int],
           dev: devices.AudioDevice) -> Callable[[int, Callable[[], None]], Any]:
    """A factory of real input streams whose callbacks count by generation what they did."""

    def make(gen: int, finished: Callable[[], None]) -> Any:
        def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            if gen != stream.gen:
                calls[-gen] += 1  # ignored
                return
            calls[gen] += 1
            stream.last_callback = time.monotonic()

        return devices.sd().InputStream(device=dev.index, channels=1, samplerate=SAMPLE_RATE,
                                        dtype="int16", blocksize=FRAME, latency="low",
                                        callback=callback, finished_callback=finished)

    return make


@pytest.mark.audio
def test_a_switch_silences_the_old_stream_and_its_finish_is_no_error(sound_card) -> None:
    stream = DeviceStream("input", stopped="stopped delivering audio", silent="delivered audio")
    calls: Counter[int] = Counter()
    try:
        mic_a = devices.find_device("lkc_mic_a", "input")
        stream.open(mic_a, _input(stream, calls, mic_a))
        first = stream.gen
        assert wait_until(lambda: calls[first] > 5, 2.0)
        assert stream.alive(time.monotonic())
        mic_b = devices.find_device("lkc_mic_b", "input")
        # The old stream's finished callback fires now, on its way out.
        stream.open(mic_b, _input(stream, calls, mic_b))
        second = stream.gen
        assert second > first
        counted = calls[first]
        assert wait_until(lambda: calls[second] > 5, 2.0)
        assert calls[first] == counted  # nothing of the old stream counts after the switch
        assert stream.error is None and stream.report(time.monotonic()) is None
        assert stream.device is not None and stream.device.name == "lkc_mic_b"
    finally:
        stream.close()
    time.sleep(0.05)
    assert stream.error is None and stream.device is None
    assert not stream.alive(time.monotonic()) and not stream.stalled(time.monotonic())


@pytest.mark.audio
def test_an_unplugged_device_is_reported_by_its_finished_callback(sound_card) -> None:
    stream = DeviceStream("input", stopped="stopped delivering audio", silent="delivered audio")
    calls: Counter[int] = Counter()
    spare = devices.find_device("lkc_mic_spare", "input")
    try:
        stream.open(spare, _input(stream, calls, spare))
        assert wait_until(lambda: calls[stream.gen] > 5, 2.0)
        sound_card.unload_mic("lkc_mic_spare")
        assert wait_until(lambda: stream.error is not None, 2.0)
        assert stream.error == "input 'lkc_mic_spare' stopped delivering audio (unplugged?)"
        assert not stream.alive(time.monotonic()) and stream.stalled(time.monotonic())
        assert stream.report(time.monotonic()) == stream.error
    finally:
        stream.close()
        sound_card.load_mic("lkc_mic_spare")


class _Stand:
    """A stand-in stream: no device, no callbacks."""

    latency = 0.02

    def __init__(self, fail_start: bool = False) -> None:
        self.fail_start = fail_start
        self.closed = False

    def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("device busy")

    def abort(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _device(name: str) -> devices.AudioDevice:
    return devices.AudioDevice(0, name, "ALSA", 0, 2, 48000.0, False, False)


def test_a_stream_that_never_calls_back_stalls_after_stall_s() -> None:
    stream = DeviceStream("output", stopped="stopped playing", silent="asked for audio")
    assert not stream.alive(time.monotonic()) and stream.report(time.monotonic()) is None
    stream.open(_device("spk"), lambda gen, finished: _Stand())
    now = time.monotonic()
    assert stream.alive(now) and stream.latency_s == 0.02
    assert stream.stalled(now + STALL_S + 0.01)
    assert stream.report(now + STALL_S + 0.01) == "output 'spk' has not asked for audio for 0.5 s"
    stream.last_callback = now + STALL_S
    assert stream.alive(now + STALL_S + 0.01)


def test_a_finished_callback_of_a_replaced_stream_is_ignored() -> None:
    stream = DeviceStream("output", stopped="stopped playing", silent="asked for audio")
    finish: list[Callable[[], None]] = []

    def make(gen: int, finished: Callable[[], None]) -> _Stand:
        finish.append(finished)
        return _Stand()

    stream.open(_device("a"), make)
    stream.open(_device("b"), make)
    finish[0]()  # the first stream ends (we aborted it): not an error
    assert stream.error is None
    finish[1]()  # the current one ends by itself: its device went away
    assert stream.error == "output 'b' stopped playing (unplugged?)"


def test_open_and_start_failures_keep_the_wording() -> None:
    stream = DeviceStream("input", stopped="stopped delivering audio", silent="delivered audio")

    def broken(gen: int, finished: Callable[[], None]) -> _Stand:
        raise RuntimeError("no such card")

    with pytest.raises(devices.DeviceError, match=r"^cannot open input 'mic': no such card$"):
        stream.open(_device("mic"), broken)
    stand = _Stand(fail_start=True)
    with pytest.raises(devices.DeviceError, match=r"^cannot start input 'mic': device busy$"):
        stream.open(_device("mic"), lambda gen, finished: stand)
    assert stand.closed and stream.device is None
    assert stream.error == "cannot start input 'mic': device busy"


def test_a_switch_starts_the_new_stream_before_the_old_one_stops() -> None:
    """The hand-over is the only gap a switch makes: the new device's start-up is spent
    while the old one still plays; a new one that cannot start leaves the old playing."""
    stream = DeviceStream("output", stopped="stopped playing", silent="asked for audio")
    events: list[str] = []

    class Logged(_Stand):
        def __init__(self, name: str, fail_start: bool = False) -> None:
            super().__init__(fail_start)
            self.name = name

        def start(self) -> None:
            events.append(f"start {self.name} (gen now {stream.gen})")
            super().start()

        def abort(self) -> None:
            events.append(f"abort {self.name} (gen now {stream.gen})")

    stream.open(_device("a"), lambda gen, finished: Logged("a"))
    first = stream.gen
    stream.open(_device("b"), lambda gen, finished: Logged("b"),
                before_start=lambda: events.append("before_start"))
    assert events == [f"start a (gen now {first - 1})", f"start b (gen now {first})",
                      "before_start", f"abort a (gen now {first + 1})"]
    assert stream.gen == first + 1 and stream.device is not None
    with pytest.raises(devices.DeviceError, match=r"^cannot start output 'c': device busy$"):
        stream.open(_device("c"), lambda gen, finished: Logged("c", fail_start=True))
    assert stream.device.name == "b" and stream.error is None and stream.gen == first + 1
    assert stream.is_open


def test_reopen_of_a_vanished_device_says_so() -> None:
    stream = DeviceStream("output", stopped="stopped playing", silent="asked for audio")
    stream.open(_device("spk"), lambda gen, finished: _Stand())

    def gone(name: str) -> None:
        raise devices.DeviceNotFoundError(f"no output device named {name!r}")

    stream.close()
    stream.reopen("spk", gone)
    assert stream.device is None and stream.error == "no output device named 'spk'"
