"""The playback path on the virtual sound card: channels, mixer, output ring, echo reference.

Remote tracks are stood in for by local AudioSource -> LocalAudioTrack -> TrackTap (real
livekit objects, no Room), keyed by name: every unpublished local track reports TR_unknown.
Where a test needs blocks at chosen moments it feeds the channel a ``BlockQueue`` instead.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from console.engine.apm import ProcessingConfig
from console.engine.track_tap import TrackTap, open_taps
from tests.audio_helpers import playing, sine, steady_level, wait_until
from tests.track_helpers import FRAME, SR, BlockQueue, engine_with_tracks, local_track

pytestmark = pytest.mark.audio


@pytest.fixture
def engine(sound_card: object) -> Iterator[object]:
    with engine_with_tracks(input_device="lkc_mic_a", processing=ProcessingConfig.off(),
                            output_device="lkc_speaker_a") as eng:
        yield eng


def add_tone(engine, key: str, dbfs: float, hz: float, **kwargs: object):
    lt = engine.media.run(local_track(key, sine(dbfs, hz)))
    engine.test_tracks.append(lt)
    return lt, engine.add_track(key, lt.track, **kwargs)


def settled_mic_rms(engine, seconds: float = 0.6) -> float:
    """The loopback level once the new steady state has reached the mic (see steady_level)."""
    time.sleep(seconds)
    return steady_level(engine.chain)


@pytest.mark.parametrize("gain_db", [-12.0, -6.0, 0.0, 6.0, 12.0])
def test_gain_is_exact_on_the_loopback(engine, gain_db: float) -> None:
    _, channel = add_tone(engine, "alice", -24.0, 440.0)
    assert wait_until(lambda: engine.mic_meter().rms_db > -25.0, 3.0)
    channel.set_gain_db(gain_db)
    assert settled_mic_rms(engine) == pytest.approx(-24.0 + gain_db, abs=0.1)
    # The channel meter is pre-fader: it shows what the participant sends.
    assert engine.channel_stats()[0].meter.rms_db == pytest.approx(-24.0, abs=0.1)


def test_gain_is_capped_at_plus_12_db_and_mute_silences(engine) -> None:
    _, channel = add_tone(engine, "alice", -30.0, 440.0)
    assert wait_until(lambda: engine.mic_meter().rms_db > -31.0, 3.0)
    channel.set_gain_db(40.0)
    assert channel.gain_db == 12.0
    assert settled_mic_rms(engine) == pytest.approx(-18.0, abs=0.1)
    channel.set_muted(True)
    assert settled_mic_rms(engine) < -90.0
    channel.set_muted(False)
    channel.set_gain_db(-math.inf)
    assert settled_mic_rms(engine) < -90.0
    channel.set_gain_db(0.0)
    assert settled_mic_rms(engine) == pytest.approx(-30.0, abs=0.1)


def test_gain_changes_are_ramped_never_a_step() -> None:
    """A mute in the middle of a steady tone fades over one frame instead of stepping."""
    from console.engine.channel import Channel

    source = BlockQueue()
    channel = Channel("dc", source, target_ms=30)  # exactly the three frames pushed below
    source.push(np.full(FRAME * 3, 10000, np.int16))
    first = channel.pull(time.monotonic())
    channel.set_muted(True)
    second = channel.pull(time.monotonic())
    third = channel.pull(time.monotonic())
    channel.close()
    assert source.ended
    assert np.allclose(first, 10000.0)
    assert second[0] == pytest.approx(10000.0) and second[-1] < 10000.0 * 2.5 / FRAME
    assert np.all(np.diff(second) <= 0) and np.max(np.abs(np.diff(second))) < 10000.0 / 400
    assert np.allclose(third, 0.0)


def test_an_underrun_raises_the_jitter_target_up_to_its_cap() -> None:
    from console.engine.channel import MAX_TARGET_MS, TARGET_MS, Channel

    source = BlockQueue()
    channel = Channel("jitter", source)

    def starve_once() -> None:
        source.push(np.zeros(channel._target + FRAME, np.int16))
        while channel.pull(time.monotonic()) is not None:
            pass

    assert channel.stats().target_ms == TARGET_MS
    starve_once()
    assert channel.stats().underruns == 1
    assert channel.stats().target_ms == pytest.approx(TARGET_MS + 10.0, abs=0.05)
    for _ in range(12):
        starve_once()
    assert channel.stats().target_ms == pytest.approx(MAX_TARGET_MS, abs=0.05)


def test_running_dry_mid_frame_fades_out_and_resumes_with_a_fade_in_never_a_click() -> None:
    """A -6 dBFS 440 Hz tone runs dry part way into a frame, then comes back: from the last
    real sample to silence and from silence to the tone, no step is steeper than the tone's
    own steepest (a hard cut there would be a jump of thousands)."""
    from console.engine.channel import Channel

    tone = sine(-6.0, 440.0)
    amp = 10 ** (-6.0 / 20) * 32767
    slope = amp * 2 * math.pi * 440.0 / SR  # the tone's largest sample-to-sample step
    source = BlockQueue()
    channel = Channel("dry", source)
    pos = 0

    def push(n: int) -> None:
        nonlocal pos
        source.push(tone(pos, n))
        pos += n

    out: list[np.ndarray] = []

    def pull() -> np.ndarray | None:
        frame = channel.pull(time.monotonic())
        out.append(np.zeros(FRAME, np.float32) if frame is None else frame)
        return frame

    push(channel._target)
    assert pull() is not None  # primed: one frame played, two left
    # Leave the last real sample near the tone's peak, where a cut would be loudest.
    extra = next(k for k in range(100, FRAME) if abs(tone(pos + k - 1, 1)[0]) > 0.8 * amp)
    push(extra)
    while pull() is not None:
        pass
    assert channel.stats().underruns == 1
    dry = len(out)
    push(channel._target)  # the sender is back (with the raised target's worth)
    for _ in range(channel._target // FRAME):
        assert pull() is not None
    signal = np.concatenate(out)
    steps = np.abs(np.diff(signal))
    assert steps.max() < 1.1 * slope, (steps.max(), slope, int(steps.argmax()))
    assert np.all(out[dry - 1] == 0.0)  # a real gap, then the tone again at its level
    assert np.sqrt(np.mean(out[-1] ** 2)) == pytest.approx(amp / math.sqrt(2), rel=0.05)


def test_the_output_ring_running_dry_fades_out_and_back_in_never_a_click() -> None:
    """The device callback itself (the real one, without a device: PortAudio's status flags
    are stood in for by a plain object) when the ring runs dry mid-block and refills."""
    from types import SimpleNamespace

    from console.engine.mixer import Mixer
    from console.engine.output import OutputDevice

    tone = sine(-6.0, 440.0)
    amp = 10 ** (-6.0 / 20) * 32767
    slope = amp * 2 * math.pi * 440.0 / SR
    loop = asyncio.new_event_loop()
    try:
        out = OutputDevice(loop, Mixer())
        callback = out._make_callback(out._stream.gen)
        status = SimpleNamespace(output_underflow=False)
        played: list[np.ndarray] = []
        pos = 0

        def write(n: int) -> None:
            nonlocal pos
            assert out._ring.write(tone(pos, n), time.monotonic())
            pos += n

        def play(blocks: int) -> None:
            for _ in range(blocks):
                block = np.zeros((FRAME, 1), np.int16)
                callback(block, FRAME, None, status)
                played.append(block[:, 0].astype(np.float32))

        write(FRAME * 2)
        play(2)  # the first block fades in (playback starts), the second is the tone
        extra = next(k for k in range(100, FRAME) if abs(tone(pos + k - 1, 1)[0]) > 0.8 * amp)
        write(extra)
        play(2)  # dry part way into the first of these, nothing for the second
        assert out.stats().underruns == 2
        write(FRAME * 3)
        play(3)
    finally:
        loop.close()
    steps = np.abs(np.diff(np.concatenate(played)))
    assert steps.max() < 1.1 * slope, (steps.max(), slope, int(steps.argmax()))
    assert np.all(played[3] == 0.0)
    assert np.sqrt(np.mean(played[-1] ** 2)) == pytest.approx(amp / math.sqrt(2), rel=0.05)


def test_blocks_that_land_late_are_counted_by_how_late() -> None:
    """20 ms blocks due every 20 ms: one lands 20 ms late, one 40 ms late, the rest on time
    or early (a catch-up burst); the first block is never late."""
    from console.engine.channel import Channel

    channel = Channel("late", BlockQueue())
    block = np.zeros(FRAME * 2, np.int16)
    for arrived_ms in (1000.0, 1020.0, 1040.0, 1080.0, 1081.0, 1100.0, 1160.0, 1180.0, 1205.0):
        channel._accept_block(block, arrived_ms / 1000.0)
    stats = channel.stats()
    assert (stats.blocks_late_15ms, stats.blocks_late_30ms) == (2, 1)


def test_two_tracks_mix_to_their_sum(engine) -> None:
    add_tone(engine, "alice", -20.0, 440.0)
    add_tone(engine, "bob", -20.0, 1000.0)
    assert wait_until(lambda: len(engine.channel_stats()) == 2, 1.0)
    # Two uncorrelated sines of equal level sum to +3.01 dB.
    assert settled_mic_rms(engine, 1.0) == pytest.approx(-20.0 + 10 * math.log10(2), abs=0.1)
    captured: list[np.ndarray] = []
    engine.chain.add_tap(lambda s: captured.append(s.copy()))
    time.sleep(0.5)
    x = np.concatenate(captured)[-SR // 4:].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    peaks = sorted(freqs[np.argsort(spectrum)[-2:]])
    # Within 2 %: the channel's clock trim may be stretching by up to 1.25 % just now.
    assert peaks[0] == pytest.approx(440.0, rel=0.02) and peaks[1] == pytest.approx(1000.0,
                                                                                   rel=0.02)
    # None but after a freeze of the whole process (a loaded host), which the ring counts
    # apart: the mixing itself never runs dry.
    out = engine.output_stats()
    assert out.underruns - out.underruns_after_stall == 0, out


def test_loud_channels_are_limited_never_wrapped(engine) -> None:
    add_tone(engine, "alice", -1.0, 500.0)
    add_tone(engine, "bob", -1.0, 500.0)  # in phase or not, the sum passes full scale
    add_tone(engine, "carol", -1.0, 750.0)
    captured: list[np.ndarray] = []
    engine.chain.add_tap(lambda s: captured.append(s.copy()))
    assert wait_until(lambda: engine.output_stats().frames_limited > 50, 3.0)
    time.sleep(0.3)
    x = np.concatenate(captured)[-SR // 5:].astype(np.int32)
    # Wrapping would show as jumps of nearly the full range between neighbouring samples.
    assert np.max(np.abs(np.diff(x))) < 32768
    assert engine.mic_meter().peak_db <= 0.0
    assert engine.output_stats().frames_limited > 50


def test_a_channel_removed_mid_play_leaves_nothing_behind(engine) -> None:
    baseline = {t.get_name() for t in asyncio.all_tasks(engine.media.loop)}
    lt, channel = add_tone(engine, "alice", -20.0, 440.0)
    assert wait_until(lambda: engine.mic_meter().rms_db > -21.0, 3.0)
    tap = channel._source
    assert isinstance(tap, TrackTap) and open_taps() == 1
    assert engine.remove_track("alice") is True
    assert engine.remove_track("alice") is False
    assert engine.channel_stats() == []
    assert tap.ended and tap.queued == 0
    assert open_taps() == 0  # the native stream is closed and detached
    names = {t.get_name() for t in asyncio.all_tasks(engine.media.loop)}
    assert names - baseline == {"feed-alice"}  # only the stand-in sender is left
    assert settled_mic_rms(engine) < -90.0
    # The same key can be used again at once.
    engine.add_track("alice", lt.track)
    assert wait_until(lambda: engine.mic_meter().rms_db > -21.0, 3.0)


def test_output_device_switch_keeps_every_channel(engine) -> None:
    from console.engine.audio_engine import AudioEngine

    add_tone(engine, "alice", -20.0, 440.0)
    add_tone(engine, "bob", -26.0, 880.0)
    assert wait_until(lambda: engine.mic_meter().rms_db > -20.0, 3.0)
    listener = AudioEngine(input_device="lkc_mic_b", processing=ProcessingConfig.off())
    listener.start()
    try:
        assert settled_mic_rms(listener, 0.4) < -90.0
        engine.start_output("lkc_speaker_b")
        assert wait_until(lambda: listener.mic_meter().rms_db > -20.0, 3.0)
        assert settled_mic_rms(engine) < -90.0
        stats = {c.key: c for c in engine.channel_stats()}
        assert set(stats) == {"alice", "bob"}
        n = engine.output_stats().frames_played
        assert wait_until(lambda: engine.output_stats().frames_played > n + 50, 2.0)
        assert engine.output_stats().device == "lkc_speaker_b"
    finally:
        listener.stop()


@pytest.mark.parametrize("channels", [1, 2])
def test_mono_and_stereo_devices_play_the_mix_at_its_level(engine, channels: int) -> None:
    engine.start_output("lkc_speaker_a", channels=channels)
    add_tone(engine, "alice", -18.0, 440.0)
    assert wait_until(lambda: engine.mic_meter().rms_db > -19.0, 3.0)
    assert engine.output_stats().device_channels == channels
    # The loopback mic is the mono remap of the sink: it reads the mix at unity either way.
    assert settled_mic_rms(engine) == pytest.approx(-18.0, abs=0.1)


class SkewedSender(BlockQueue):
    """A test source standing in for a remote sender whose clock runs ``ratio`` times the
    device's.

    A fake producer, allowed here because no real part can run fast or slow: a local
    AudioSource paces itself on the same system clock as the PulseAudio device.
    """

    def __init__(self, ratio: float, dbfs: float = -20.0) -> None:
        super().__init__()
        self._period = FRAME / SR / ratio
        self._gen = sine(dbfs, 440.0)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sending (on the media loop)."""
        self._task = asyncio.get_running_loop().create_task(self._send(), name="skewed")

    async def _send(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        k = 0
        while True:
            self.push(self._gen(k * FRAME, FRAME))
            k += 1
            await asyncio.sleep(max(0.0, start + k * self._period - loop.time()))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        super().close()


@pytest.mark.parametrize("ratio", [1.01, 0.99])
def test_latency_stays_bounded_when_sender_and_device_clocks_drift(engine, ratio) -> None:
    from console.engine.channel import CATCH_UP_MS, MAX_TARGET_MS, Channel

    sender = SkewedSender(ratio)
    channel = Channel("skewed", sender)

    async def add() -> None:
        engine.mixer.add(channel)
        sender.start()

    async def remove() -> None:
        engine.mixer.remove("skewed")
        channel.close()

    stalls_before = engine.output_stats().host_stalls
    engine.media.run(add())
    depths: list[float] = []
    t_end = time.monotonic() + 8.0
    while time.monotonic() < t_end:
        depths.append(channel.stats().channel_queue_ms)
        time.sleep(0.05)
    stats = channel.stats()
    stalls = engine.output_stats().host_stalls - stalls_before
    engine.media.run(remove())
    # Uncorrected, 1 % is 10 ms more (or less) every second: 80 ms over the run. The trim
    # holds the queue near the channel's (adaptive) jitter target instead.
    q = len(depths) // 4
    late = float(np.median(depths[3 * q:]))
    assert max(depths[q:]) < MAX_TARGET_MS + CATCH_UP_MS
    if ratio > 1:
        # A fast sender's risk is latency: the queue stays near the target. (A slow one's
        # is running dry, counted below: on a loaded host its queue sat 20 ms under the
        # target once, with no underrun.)
        assert abs(late - stats.target_ms) < 20.0, (
            f"queue {late:.1f} ms, target {stats.target_ms}")
        assert stats.samples_dropped > 0.005 * SR * 6
        # Whole frames are cut only after a burst: a host freeze (seen by the output as a gap
        # in its callbacks) leaves a backlog of up to its length, cut at once.
        assert stats.frames_dropped <= 2 + 12 * stalls, (stats.frames_dropped, stalls)
    else:
        assert stats.samples_inserted > 0.005 * SR * 6
    assert stats.underruns <= 3


def test_played_audio_feeds_echo_cancellation_which_keeps_the_near_end(engine) -> None:
    """Far end through our output, near end straight on the speaker: AEC removes >= 30 dB
    of echo while the near-end tone passes within 3 dB."""
    rng = np.random.default_rng(7)
    noise = rng.standard_normal(SR * 2)
    spec = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(noise.size, 1 / SR)
    spec[(freqs > 800) & (freqs < 1250)] = 0  # leave room for the near-end tone
    spec[freqs > 6000] = 0
    far = np.fft.irfft(spec, noise.size)
    far = (far / np.sqrt(np.mean(far ** 2)) * 10 ** (-20 / 20) * 32767 / np.sqrt(2))

    def far_gen(start: int, n: int) -> np.ndarray:
        idx = (start + np.arange(n)) % far.size
        return far[idx].astype(np.int16)

    lt = engine.media.run(local_track("far", far_gen))
    engine.test_tracks.append(lt)
    captured: list[np.ndarray] = []
    lock = threading.Lock()

    def tap(s: np.ndarray) -> None:
        with lock:
            captured.append(s.copy())

    engine.chain.add_tap(tap)

    def tone_level(seconds: float) -> float:
        with lock:
            captured.clear()
        time.sleep(seconds)
        with lock:
            x = np.concatenate(captured).astype(np.float64)
        w = np.hanning(x.size)
        spectrum = np.fft.rfft(x * w)
        f = np.fft.rfftfreq(x.size, 1 / SR)
        band = (f > 980) & (f < 1020)
        # Band power, independent of the window length (Parseval with the window's energy).
        return 10 * math.log10(np.sum(np.abs(spectrum[band]) ** 2) / (x.size * np.sum(w ** 2))
                               + 1e-12)

    near = sine(-20.0, 1000.0)
    with playing("lkc_speaker_a", near):
        time.sleep(0.5)
        near_alone = tone_level(1.0)
    engine.set_processing(ProcessingConfig.off().replace(echo_cancellation=True))
    engine.add_track("far", lt.track)
    time.sleep(6.0)  # convergence on the far end alone
    erle = engine.echo_stats()
    # The median of the last three 1 s windows: a host stall (this shared VM freezes for
    # 15-65 ms every few seconds) makes the AEC re-adapt for one window.
    assert len(erle.windows) >= 3 and float(np.median(erle.windows[-3:])) >= 30.0, erle
    with playing("lkc_speaker_a", near):
        time.sleep(1.0)
        near_with_aec = tone_level(1.5)
    assert near_with_aec == pytest.approx(near_alone, abs=3.0)
    stats = engine.echo_stats()
    assert 0.0 < stats.echo_delay_ms < 200.0, stats


def test_relisting_the_devices_keeps_playing(engine) -> None:
    """Re-initialising PortAudio ends every stream: the output is reopened around it."""
    add_tone(engine, "alice", -20.0, 440.0)
    assert wait_until(lambda: engine.mic_meter().rms_db > -21.0, 3.0)
    engine.refresh_devices()
    out = engine.output_stats()
    assert out.device == "lkc_speaker_a" and out.device_error is None
    assert engine.input_device is not None and engine.input_device.name == "lkc_mic_a"
    assert settled_mic_rms(engine) == pytest.approx(-20.0, abs=0.1)


def test_the_media_loop_is_not_in_the_output_path(engine) -> None:
    """The device's callback mixes: a media loop held up (a burst of work on it, a busy
    machine) no longer leaves the output ring dry, where 60 ms did before the pull model."""
    add_tone(engine, "alice", -20.0, 440.0)
    assert wait_until(lambda: engine.mic_meter().rms_db > -21.0, 3.0)
    before = engine.output_stats()
    for _ in range(3):  # the media loop blocked for 60 ms (the GIL free: no host freeze)
        engine.media.loop.call_soon_threadsafe(time.sleep, 0.06)
        time.sleep(0.3)
    after = engine.output_stats()
    assert after.frames_played - before.frames_played >= 80
    assert after.underruns == before.underruns, after
    assert after.mix_errors == 0
    assert settled_mic_rms(engine) == pytest.approx(-20.0, abs=0.1)


def test_a_block_the_mixer_fails_on_is_a_gap_heard_counted_and_said_once(
        engine, monkeypatch, caplog) -> None:
    """A mixer that raises (a bug) never reaches the device's callback, which would stop
    the stream: the block is a gap, faded and counted as an underrun, the failure is logged
    once, and the voice plays on. Nothing playing, nothing is mixed and nothing counted."""
    time.sleep(0.3)
    quiet = engine.output_stats()
    time.sleep(0.3)
    assert engine.output_stats().underruns == quiet.underruns
    add_tone(engine, "alice", -20.0, 440.0)
    assert wait_until(lambda: engine.mic_meter().rms_db > -21.0, 3.0)
    mixer = engine.output.mixer
    real = mixer.mix
    fails = [3]

    def failing(now: float, *, after_stall: bool = False):
        if fails[0] > 0:
            fails[0] -= 1
            raise RuntimeError("a bug in the mixer")
        return real(now, after_stall=after_stall)

    monkeypatch.setattr(mixer, "mix", failing)
    assert wait_until(lambda: fails[0] == 0, 1.0)
    time.sleep(0.2)
    out = engine.output_stats()
    assert out.mix_errors == 3
    assert out.underruns > quiet.underruns
    said = [r for r in caplog.records if "mixer failed" in r.getMessage()]
    assert len(said) == 1, said
    assert settled_mic_rms(engine) == pytest.approx(-20.0, abs=0.1)


def test_with_no_output_device_and_nothing_to_play_the_mixer_sleeps(sound_card) -> None:
    """No device and nothing to play: the mixer has nothing to keep running, so it does not
    tick 100 times a second (``bench capture`` counted it as half the media thread). A cue
    wakes it at once, on the engine's clock; once the cue has played it sleeps again."""
    from console.engine.audio_engine import AudioEngine

    eng = AudioEngine(input_device="lkc_mic_a", processing=ProcessingConfig.off())
    eng.start()
    try:
        time.sleep(0.3)
        before = eng.output_stats().frames_mixed
        time.sleep(0.5)
        assert eng.output_stats().frames_mixed == before
        eng.play_test_tone(seconds=0.3)
        assert wait_until(lambda: eng.output_stats().frames_mixed - before >= 25, 1.0)
        assert wait_until(lambda: not eng.test_tone_playing, 2.0)
        time.sleep(0.1)
        after_cue = eng.output_stats().frames_mixed
        time.sleep(0.5)
        assert eng.output_stats().frames_mixed == after_cue
    finally:
        eng.stop()


def test_with_nothing_to_play_the_mixer_sleeps_and_a_tone_plays_at_once(engine) -> None:
    """A device open and nothing to play (the window waiting): the ring plays out its
    silence and the device's callback plays silence on its own, so the media loop is not
    woken 50 times a second to top it up (bench idle). A tone wakes the mixer at once, is
    heard, and neither its start nor its end counts as an underrun."""
    time.sleep(0.3)
    quiet = engine.output_stats()
    time.sleep(0.5)
    idle = engine.output_stats()
    assert idle.frames_mixed == quiet.frames_mixed  # nothing mixed ...
    assert idle.frames_played - quiet.frames_played >= 40  # ... while the device plays on
    engine.play_test_tone(440.0, -12.0, 0.6)
    assert wait_until(lambda: engine.mic_meter().rms_db > -18.0, 1.0)
    assert wait_until(lambda: not engine.test_tone_playing, 2.0)
    time.sleep(0.3)
    after = engine.output_stats()
    assert after.frames_mixed - idle.frames_mixed >= 55
    assert after.underruns == quiet.underruns
    time.sleep(0.4)
    assert engine.output_stats().frames_mixed == after.frames_mixed  # asleep again
