"""The microphone path on the virtual sound card: real PortAudio streams, real livekit APM."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from console.engine.apm import ProcessingConfig
from console.engine.format import FRAME
from tests.audio_helpers import playing, sine, steady_level, wait_until

pytestmark = pytest.mark.audio


@pytest.fixture
def make_engine(sound_card: object) -> Iterator[Callable[..., object]]:
    from console.engine.audio_engine import AudioEngine

    made: list[AudioEngine] = []
    before = {t.ident for t in threading.enumerate()}

    def make(device: str, processing: ProcessingConfig | None = None,
             **options: bool) -> AudioEngine:
        engine = AudioEngine(input_device=device, processing=processing or ProcessingConfig.off(),
                             **options)
        made.append(engine)
        engine.start()
        return engine

    yield make
    for engine in made:
        engine.stop()
    # Nothing left running: no media thread survives stop().
    assert wait_until(lambda: not [t for t in threading.enumerate()
                                   if t.ident not in before and t.name == "media"], 2.0)


def test_tone_is_captured_on_its_own_mic_at_the_predicted_level(make_engine) -> None:
    mic_a = make_engine("lkc_mic_a")
    mic_b = make_engine("lkc_mic_b")
    with playing("lkc_speaker_a", sine(-12.0, 1000.0)):
        assert wait_until(lambda: mic_a.mic_meter().rms_db > -13.0, 3.0)
        time.sleep(0.5)  # a full 300 ms RMS window of steady tone
        a, b = mic_a.mic_meter(), mic_b.mic_meter()
    # AES17 RMS: a sine of amplitude -12 dBFS reads -12 dBFS.
    assert a.rms_db == pytest.approx(-12.0, abs=0.5)
    assert a.peak_db == pytest.approx(-12.0, abs=0.5)
    assert b.peak_db < -80.0, "speaker A must not reach mic B"
    assert mic_a.capture_stats().frames_dropped_total == 0


def test_apm_toggles_during_capture_lose_no_frame(make_engine) -> None:
    engine = make_engine("lkc_mic_a", ProcessingConfig())
    with playing("lkc_speaker_a", sine(-20.0, 440.0)):
        time.sleep(0.2)
        start = engine.capture_stats()
        configs = [ProcessingConfig(bool(i & 1), bool(i & 2), bool(i & 4), bool(i & 8))
                   for i in range(16)]
        for i in range(60):
            engine.set_processing(configs[(i * 7) % 16])
            time.sleep(0.025)
        engine.set_processing(ProcessingConfig.off())
        time.sleep(0.05)
        end = engine.capture_stats()
    # Settle the books: close the input and let the ring drain.
    engine.chain.close_device()
    assert wait_until(lambda: engine.chain.pending_frames() == 0, 1.0)
    time.sleep(0.05)
    books = engine.capture_stats()
    # No frame is lost to a switch. A freeze of the host (60 ms or more) can make the
    # outbox drop its backlog; that is counted apart, as "backlog", and is no switch's doing.
    for stats in (end, books):
        assert stats.frames_dropped["ring_full"] == 0 and stats.frames_dropped["apm_error"] == 0
    assert end.apm_switches - start.apm_switches >= 50
    assert end.frames_captured - start.frames_captured > 140
    assert books.samples_lost == 0
    assert books.frames_captured > 140
    assert engine.processing == ProcessingConfig.off()


def test_toggle_takes_effect_within_20_ms(make_engine) -> None:
    engine = make_engine("lkc_mic_a", ProcessingConfig.off())
    with playing("lkc_speaker_a", sine(-20.0, 440.0)):
        time.sleep(0.2)
        chain = engine.chain
        target = ProcessingConfig.off().replace(noise_suppression=True)
        t0 = time.monotonic()
        engine.set_processing(target)
        assert wait_until(lambda: chain.apm.active_config == target, 0.5, step=0.001)
        assert time.monotonic() - t0 < 0.02 + 0.015  # one frame period of slack for polling


def test_echo_cancellation_removes_the_played_tone(make_engine) -> None:
    engine = make_engine("lkc_mic_a", ProcessingConfig.off())
    chain = engine.chain
    with playing("lkc_speaker_a", sine(-12.0, 700.0), tap=chain.push_reverse):
        assert wait_until(lambda: engine.mic_meter().rms_db > -13.0, 3.0)
        echo_off = steady_level(chain)
        engine.set_processing(ProcessingConfig.off().replace(echo_cancellation=True))
        time.sleep(4.0)  # convergence
        levels = []
        for _ in range(10):
            time.sleep(0.1)
            levels.append(engine.mic_meter().rms_db)
    echo_on = max(levels)
    assert echo_off == pytest.approx(-12.0, abs=0.5)
    assert echo_off - echo_on >= 25.0, f"echo only fell from {echo_off:.1f} to {echo_on:.1f} dB"


def test_unplugged_device_is_reported_and_chain_runs_on_silence(make_engine, sound_card) -> None:
    # With no fallback to the default input (test_mic_unplug.py has the fallback).
    engine = make_engine("lkc_mic_spare", input_fallback=False)
    try:
        with playing("lkc_speaker_b", sine(-20.0, 500.0)):
            assert wait_until(lambda: engine.mic_meter().rms_db > -21.0, 3.0)
            sound_card.unload_mic("lkc_mic_spare")
            t0 = time.monotonic()
            assert wait_until(lambda: engine.capture_stats().device_error is not None, 2.0)
            detected = time.monotonic() - t0
            stats = engine.capture_stats()
            assert "lkc_mic_spare" in (stats.device_error or "")
            assert detected < 0.5
            silence0, delivered0 = stats.silence_frames, stats.frames_delivered
            time.sleep(0.5)
            later = engine.capture_stats()
        # The chain keeps producing frames (silence) at the real-time rate.
        assert later.silence_frames - silence0 >= 35
        assert later.frames_delivered - delivered0 >= 35
        assert engine.mic_meter().rms_db < -90.0
        task = engine.chain._task
        assert task is not None and not task.done(), "the frame pump must survive the unplug"
        # Another device can be chosen and the same AudioSource goes on.
        source = engine.source
        engine.set_input_device("lkc_mic_a")
        assert engine.source is source
        assert engine.capture_stats().device_error is None
    finally:
        sound_card.load_mic("lkc_mic_spare")


def test_silent_stall_is_reported_within_500_ms(make_engine, sound_card) -> None:
    engine = make_engine("lkc_mic_spare")
    assert wait_until(lambda: engine.capture_stats().frames_captured > 10, 2.0)
    # A suspended source stays present but delivers nothing: no callback, no error.
    sound_card.suspend_mic("lkc_mic_spare")
    try:
        t0 = time.monotonic()
        assert wait_until(lambda: engine.capture_stats().stalled, 1.5, step=0.01)
        assert time.monotonic() - t0 <= 0.5 + 0.1
        stats = engine.capture_stats()
        assert stats.since_last_callback_s is not None and stats.since_last_callback_s >= 0.5
        assert "has not delivered audio" in (stats.device_error or "")
    finally:
        sound_card.suspend_mic("lkc_mic_spare", False)


def test_switching_input_keeps_the_audio_source_and_follows_the_new_device(make_engine) -> None:
    engine = make_engine("lkc_mic_a")
    source = engine.source
    with playing("lkc_speaker_b", sine(-18.0, 800.0)):
        time.sleep(0.4)
        assert engine.mic_meter().rms_db < -80.0
        dev = engine.set_input_device("lkc_mic_b")
        assert dev.name == "lkc_mic_b"
        assert wait_until(lambda: engine.mic_meter().rms_db > -18.6, 2.0)
    assert engine.source is source
    assert engine.input_device is not None and engine.input_device.name == "lkc_mic_b"
    assert engine.capture_stats().frames_dropped_total == 0


def test_unknown_device_name_gets_a_clear_error(make_engine) -> None:
    from console.engine.devices import DeviceNotFoundError

    engine = make_engine("lkc_mic_a")
    with pytest.raises(DeviceNotFoundError) as info:
        engine.set_input_device("no such microphone")
    message = str(info.value)
    assert "no input device named 'no such microphone'" in message
    assert "lkc_mic_a" in message  # lists what exists
    # The running device is untouched.
    assert engine.input_device is not None and engine.input_device.name == "lkc_mic_a"
    n = engine.capture_stats().frames_captured
    assert wait_until(lambda: engine.capture_stats().frames_captured > n + 5, 1.0)


def test_push_reverse_feeds_only_while_echo_cancellation_runs(make_engine) -> None:
    engine = make_engine("lkc_mic_a", ProcessingConfig.off())
    chain = engine.chain
    chain.push_reverse(np.zeros(480 * 3, dtype=np.int16))
    assert wait_until(lambda: chain.reference.available() == 0, 1.0)
    assert engine.capture_stats().reverse_blocks_dropped == 0


def test_refreshing_the_device_list_keeps_capturing(make_engine) -> None:
    engine = make_engine("lkc_mic_b")
    source = engine.source
    names = [d.name for d in engine.input_devices(refresh=True)]
    assert "lkc_mic_a" in names
    n = engine.capture_stats().frames_captured
    assert wait_until(lambda: engine.capture_stats().frames_captured > n + 30, 1.5)
    stats = engine.capture_stats()
    assert stats.device_error is None and stats.device == "lkc_mic_b"
    assert engine.source is source


def test_with_no_room_taking_the_microphone_it_is_only_metered(make_engine) -> None:
    """Issue 18: while no room takes the microphone and nobody listens, a frame is only
    metered: nothing reaches the AudioSource, the processing does not run (the sent meter
    reads the raw tone; with noise suppression running, a steady tone is taken down), and
    nothing counts as lost. A room taking it brings both back at once."""
    engine = make_engine("lkc_mic_a", ProcessingConfig())
    engine.set_publishing(False)
    with playing("lkc_speaker_a", sine(-12.0, 1000.0)):
        assert wait_until(lambda: engine.mic_meter().rms_db > -13.0, 3.0)
        time.sleep(1.5)
        before = engine.capture_stats()
        time.sleep(1.0)
        idle = engine.capture_stats()
        raw = engine.mic_meter().rms_db
        engine.set_publishing(True)
        time.sleep(2.5)
        sending = engine.capture_stats()
        processed = engine.mic_meter().rms_db
    assert idle.frames_delivered == before.frames_delivered
    assert idle.frames_captured - before.frames_captured >= 80  # the device goes on
    # (read while the media thread runs: one frame may be in its hands, counted nowhere yet;
    # uncounted, the unsent frames would show here as ~100 lost a second)
    assert abs(idle.samples_lost) <= FRAME and abs(sending.samples_lost) <= FRAME
    assert raw == pytest.approx(-12.0, abs=0.5)
    assert sending.frames_delivered - idle.frames_delivered >= 200
    assert processed < raw - 3.0, (raw, processed)


def _audio_source_threads() -> int:
    """livekit's native AudioSource runs a thread of its own while it exists."""
    count = 0
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{tid}/comm") as f:
            count += f.read().startswith("AudioSourceCapt")
    return count


def test_the_audio_source_exists_only_while_a_room_takes_the_microphone(make_engine) -> None:
    """Issue 18: livekit's AudioSource wakes a thread every 10 ms for as long as it
    exists (0.4 % of a core for a console that only waits). It is made when a room takes
    the microphone and closed when the room lets go; a tap (a mic test, hear-myself) with
    no room gets processed frames that go nowhere, counted as unsent, never as lost."""
    engine = make_engine("lkc_mic_a", ProcessingConfig())
    engine.set_publishing(False)
    assert wait_until(lambda: _audio_source_threads() == 0, 2.0)
    with pytest.raises(RuntimeError, match="no room takes the microphone"):
        _ = engine.source
    start = engine.capture_stats()
    heard: list[int] = []
    engine.chain.add_tap(lambda pcm: heard.append(pcm.shape[0]))
    with playing("lkc_speaker_a", sine(-12.0, 1000.0)):
        assert wait_until(lambda: len(heard) > 50, 3.0)
        tested = engine.capture_stats()
        engine.set_publishing(True)
        source = engine.source
        assert _audio_source_threads() == 1
        assert wait_until(lambda: engine.capture_stats().frames_delivered > 50, 3.0)
        engine.set_publishing(False)
        assert wait_until(lambda: _audio_source_threads() == 0, 2.0)
        left = engine.capture_stats()
        time.sleep(0.5)
        later = engine.capture_stats()
        engine.set_publishing(True)
        assert engine.source is not source  # a new stay, a new source
        assert wait_until(lambda: engine.capture_stats().frames_delivered
                          > later.frames_delivered + 20, 3.0)
    assert set(heard) == {FRAME}
    assert tested.frames_delivered == start.frames_delivered
    assert later.frames_delivered == left.frames_delivered  # nothing sent between stays
    assert later.frames_captured - left.frames_captured >= 40
    for stats in (tested, left, later):
        assert abs(stats.samples_lost) <= FRAME, stats


def test_frames_refused_by_an_earlier_stays_source_stay_counted(make_engine) -> None:
    """The counts go on across stays: a source's refusals (set by hand here: a real one
    refuses only when livekit's runtime fails) are still in the stats after it closed."""
    engine = make_engine("lkc_mic_a")
    feed = engine.chain.feed
    assert feed is not None
    feed.errors = 2
    engine.set_publishing(False)
    assert engine.chain.feed is None
    assert engine.capture_stats().frames_dropped["source_error"] == 2
    engine.set_publishing(True)
    assert engine.capture_stats().frames_dropped["source_error"] == 2


def _full_scale_square(start: int, n: int) -> np.ndarray:
    t = np.arange(start, start + n)
    return np.where((t // 24) % 2 == 0, 32767, -32768).astype(np.int16)


def test_nothing_sent_never_latches_the_sent_meters_clip(make_engine) -> None:
    """Seen by hand: joining with a loud room on the speaker the microphone hears, the sent
    meter's clip box lit for the whole stay, from the moment before the room took the
    microphone (the sent meter shows the raw signal then). What is not sent cannot have
    clipped: the heard meter latches, the sent one shows the level only. Once sent, a
    clipped frame (processing off) latches it."""
    engine = make_engine("lkc_mic_a")
    engine.set_publishing(False)
    with playing("lkc_speaker_a", _full_scale_square):
        assert wait_until(lambda: engine.mic_meters().heard.clipped, 3.0)
        time.sleep(0.5)
        idle = engine.mic_meters()
        engine.set_publishing(True)
        assert wait_until(lambda: engine.mic_meters().sent.clipped, 3.0)
    assert idle.sent.peak_db > -0.5 and not idle.sent.clipped


def test_the_microphone_reaches_the_source_while_the_media_loop_is_stalled(make_engine) -> None:
    """Frames are processed and handed to the AudioSource on the device's callback thread:
    a media loop held up for 300 ms (the mixer, a slow channel) holds none of them back."""
    engine = make_engine("lkc_mic_a", ProcessingConfig())
    with playing("lkc_speaker_a", sine(-20.0, 440.0)):
        assert wait_until(lambda: engine.capture_stats().frames_delivered > 20, 3.0)
        stalled = threading.Event()

        def stall() -> None:
            stalled.set()
            time.sleep(0.3)

        engine.call_soon(stall)
        assert stalled.wait(1.0)
        before = engine.capture_stats()
        time.sleep(0.2)  # inside the stall
        during = engine.capture_stats()
        latencies = engine.capture_latencies_ms()
    assert during.frames_delivered - before.frames_delivered >= 15
    assert during.frames_dropped_total == 0
    # None waited for the loop: a frame held by it would be 100-300 ms late. (A frame that
    # finds livekit's queue full goes with the next device frame, 10 ms on: seen on CI.)
    assert float(np.max(latencies[-20:])) < 50.0
