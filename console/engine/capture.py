"""The microphone path: device callback -> ring -> 10 ms frames -> gain -> APM -> source.

Threads:
- The device's callback thread (PortAudio's, or ours for the sound server's devices) copies
  the block into a :class:`SampleRing`, then slices it into 10 ms frames, applies the input
  gain, runs the live-switchable APM and the meters, and hands each frame to the AudioSource
  through a :class:`~console.engine.source_feed.SourceFeed`, right there, as livekit's
  ``MediaDevices`` does. Handing every frame to the media loop instead cost a loop wake-up
  and two changes of the GIL per 10 ms: most of the path's CPU (``bench capture``).
- The media loop (:class:`CaptureChain.run`) only watches: while the device is gone or
  stalled it makes the silent frames itself, on its own clock, and it sends what had to
  wait for livekit's queue. A lock lets one thread at a time process a frame.

Two meters, because processing can change the level by tens of dB: ``heard`` reads what the
microphone delivers (after the input gain, before the APM), ``meter`` what is sent (after the
APM; with echo cancellation on, a room the microphone hears at -10 dBFS may be sent at -80).

A device that stops calling back (unplugged, stalled) is reported within 500 ms (see
``device_stream``) and the chain goes on producing silent frames on its own clock, so the
published track and the counters keep running; the meters read silence at once and stay
still (no device, nothing heard: a synthetic frame is not metered). Switching devices keeps
the ring and the AudioSource.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc

from console.engine import devices, file_input
from console.engine.apm import ProcessingConfig, SwitchableApm
from console.engine.device_stream import DeviceStream
from console.engine.echo_metrics import EchoMetrics
from console.engine.echo_reference import EchoReference
from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.input_gain import InputGain
from console.engine.meter import SILENT, LevelMeter, MeterSnapshot
from console.engine.outbox import Outbox
from console.engine.pulse_stream import PulseStream
from console.engine.ring import SampleRing
from console.engine.source_feed import SourceFeed
from console.engine.stream_clock import StreamClock
from console.engine.wakeup import Wakeup, cancel_and_wait
from console.os_thread_name import naming

_log = logging.getLogger(__name__)

STATUS_FLAGS = ("input_overflow", "input_underflow", "output_overflow", "output_underflow",
                "priming_output")

# While the chain only meters (no room, nobody listening), the sound server's stream hands
# over this many 10 ms blocks at a time.
IDLE_BLOCKS_PER_READ = 4
# How often the media loop looks whether the device still delivers (its silence then
# starts within this of the stall being seen, and catches up the frames missed meanwhile).
WATCH_S = 0.05
# The same while nobody takes the microphone: nothing waits for its silence, and the meters
# need only go still when it stalls (the media loop's wake-ups were a tenth of an idle
# console, ``bench idle``).
IDLE_WATCH_S = 0.25


@dataclass(frozen=True)
class CaptureStats:
    """Counters of the capture path, readable at any time from any thread."""

    device: str | None
    running: bool
    frames_captured: int
    frames_delivered: int
    frames_dropped: dict[str, int]
    status_flags: dict[str, int]
    since_last_callback_s: float | None
    stalled: bool
    device_error: str | None
    source_queue_ms: float
    apm_switches: int
    silence_frames: int = 0
    pending_frames: int = 0
    samples_lost: int = 0
    samples_caught_up: int = 0
    reverse_blocks_dropped: int = 0
    reference_waits: int = 0          # times a frame waited for its echo reference
    reference_timed: bool = False     # the reference is stamped with play times
    input_gain_db: float = 0.0
    input_gain_clipped: int = 0   # samples the input gain had to clip at full scale
    latency_ms_p50: float = math.nan
    latency_ms_p95: float = math.nan

    @property
    def frames_dropped_total(self) -> int:
        return sum(self.frames_dropped.values())

    @property
    def frames_lost(self) -> float:
        """Device audio that neither reached the AudioSource, nor waits, nor was counted as
        dropped, in frames (exact: counted in samples)."""
        return self.samples_lost / FRAME


@dataclass(frozen=True, slots=True)
class MicMeters:
    """Both microphone meters, read together (each is an immutable snapshot)."""

    heard: MeterSnapshot  # what the microphone delivers: after the input gain, before the APM
    sent: MeterSnapshot   # what is sent: after the APM, before the push-to-talk gate


IDLE_METERS = MicMeters(SILENT, SILENT)


@dataclass
class _Counters:
    samples_in: int = 0          # from the device callback
    ring_full: int = 0           # samples the ring refused
    delivered_samples: int = 0   # device samples handed to capture_frame
    silence_samples: int = 0     # synthetic silence handed to capture_frame
    unsent_samples: int = 0      # device samples metered only: nobody took the microphone
    apm_errors: int = 0
    source_errors: int = 0       # refused by AudioSources no longer fed (earlier stays)
    reference_waits: int = 0     # a frame waited for its echo reference (after a freeze)
    flags: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_FLAGS, 0))


class LatencyLog:
    """The last N frame latencies (frame ready -> capture_frame), in seconds."""

    def __init__(self, size: int = 60_000) -> None:
        self._values = np.full(size, np.nan)
        self._n = 0

    def add(self, value: float) -> None:
        self._values[self._n % self._values.shape[0]] = value
        self._n += 1

    def values(self) -> npt.NDArray[np.float64]:
        n = min(self._n, self._values.shape[0])
        v = self._values[:n]
        return np.asarray(v[~np.isnan(v)])

    def clear(self) -> None:
        self._n = 0

    def percentile_ms(self, q: float, last: int | None = None) -> float:
        """Percentile in ms over all kept values, or over the ``last`` N."""
        v = self.values() if last is None else self.recent(last)
        return float(np.percentile(v, q) * 1000.0) if v.size else math.nan

    def recent(self, count: int) -> npt.NDArray[np.float64]:
        size = self._values.shape[0]
        n = min(self._n, size, count)
        idx = (np.arange(self._n - n, self._n) % size) if n else np.arange(0)
        v = self._values[idx]
        return np.asarray(v[~np.isnan(v)])


class CaptureChain:
    """Microphone capture into one ``rtc.AudioSource`` that survives device switches."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        source: rtc.AudioSource | None,
        *,
        processing: ProcessingConfig | None = None,
        block_samples: int = FRAME,
    ) -> None:
        self._loop = loop
        self.apm = SwitchableApm(processing or ProcessingConfig())
        self.meter = LevelMeter(SAMPLE_RATE, FRAME)  # what is sent (after the APM)
        self.heard = LevelMeter(SAMPLE_RATE, FRAME)  # what the microphone hears (before it)
        self.gain = InputGain(FRAME)
        self.echo = EchoMetrics()
        self.latency = LatencyLog()
        self._block = block_samples
        self._ring = SampleRing(SAMPLE_RATE)  # 1 s
        self.reference = EchoReference()  # what the speaker played, for the APM
        self._capture_clock = StreamClock(SAMPLE_RATE)  # device timeline for the APM
        self._gate_open = True
        self._publishing = True  # a room takes what is sent (see set_publishing)
        # One frame is processed at a time: by the device's callback thread, or by the
        # media loop (silence while the device is gone, frames that waited for livekit).
        self._lock = threading.Lock()
        self._pcm = np.zeros(FRAME, dtype=np.int16)
        self._block_pcm = np.zeros(self._ring.capacity, dtype=np.int16)  # meter-only blocks
        self._failed = False  # a frame raised: said once in the log
        self._counters = _Counters()
        self._outbox = Outbox()
        self.feed: SourceFeed | None = None  # to the AudioSource, while there is one
        if source is not None:
            self.attach_source(source)
        self._taps: tuple[Callable[[npt.NDArray[np.int16]], None], ...] = ()
        self._sent_taps: tuple[Callable[[npt.NDArray[np.int16], float], None], ...] = ()
        self._wake = Wakeup(loop)
        self._stream = DeviceStream("input", stopped="stopped delivering audio",
                                    silent="delivered audio")
        self._render_delay_s = 0.0
        self._resting = False  # the device closed on purpose: no silence is made (rest)
        self._running = False
        self._task: asyncio.Task[None] | None = None

    # -- device side (any thread) -------------------------------------------------------------
    @property
    def device(self) -> devices.AudioDevice | None:
        return self._stream.device

    @property
    def stream(self) -> DeviceStream:
        """The input's stream lifecycle: what the engine's microphone keeper watches."""
        return self._stream

    def open(self, spec: str | int | None) -> devices.AudioDevice:
        """Open (or switch to) an input device; the AudioSource and the ring stay."""
        with self._stream.lock:
            dev = devices.find_device(spec, "input")

            def make(gen: int, finished: Callable[[], None]) -> Any:
                if dev.backend == "pulse":
                    return PulseStream("input", dev.name, samplerate=SAMPLE_RATE, channels=1,
                                       blocksize=self._block, callback=self._make_callback(gen),
                                       finished_callback=finished,
                                       blocks_per_read=self._blocks_per_read)
                return devices.sd().InputStream(
                    device=dev.index, channels=1, samplerate=SAMPLE_RATE, dtype="int16",
                    blocksize=self._block, latency="low",
                    callback=naming("portaudio-in", self._make_callback(gen)),
                    finished_callback=finished)

            self._stream.open(dev, make)
            self._capture_clock.reset()  # another stream: another sample clock
            return dev

    def open_file(self, path: Path, *, loop: bool = False) -> devices.AudioDevice:
        """A recording in place of the microphone (``file_input.py``), through the same
        callback, processing and AudioSource; raises DeviceError if it cannot be read."""
        samples = file_input.read_audio(path)
        dev = file_input.file_device(path)
        with self._stream.lock:
            self._stream.open(dev, lambda gen, _finished: file_input.FileInputStream(
                samples, self._make_callback(gen), loop=loop, blocksize=self._block))
            self._capture_clock.reset()
        return dev

    def refresh_devices(self) -> None:
        """Re-read PortAudio's device list, reopening the current input around it.

        Re-initialising PortAudio invalidates every open stream, so the input is closed
        first and reopened (by name) afterwards: a gap of a few milliseconds, no lost track.
        A recording in place of the microphone is no PortAudio stream: it plays on.
        """
        with self._stream.lock:
            current = self._stream.device
            if current is not None and current.hostapi == file_input.HOSTAPI:
                devices.refresh()
                return
            self._stream.close()
            devices.refresh()
            if current is not None:
                self._stream.reopen(current.name, self.open)

    def close_device(self) -> None:
        """Close the input; the chain goes on (on silence) until another is opened."""
        self._stream.close()

    def rest(self, on: bool) -> None:
        """Close the input and let the frame pump sleep (on), or let it run again (off:
        the caller reopens a device); any thread. Meanwhile no frame, not even silence,
        is made: nobody listens (see :mod:`console.engine.rest`)."""
        self._resting = bool(on)
        if on:
            self.close_device()
        self._wake.notify_threadsafe()

    def set_render_delay(self, seconds: float) -> None:
        """Output-side delay (for the APM's echo delay hint); set by the playback path."""
        self._render_delay_s = max(0.0, seconds)

    def attach_source(self, source: rtc.AudioSource) -> None:
        """What is sent goes to ``source`` from the next frame (any thread)."""
        feed = SourceFeed(source, self._loop, self._flush_waiting)
        with self._lock:
            old, self.feed = self.feed, feed
        if old is not None:
            old.close()

    def detach_source(self) -> None:
        """Nothing is sent any more (any thread): what waited for the AudioSource is
        dropped, counted as unsent. Idempotent."""
        with self._lock:
            feed, self.feed = self.feed, None
            self._counters.unsent_samples += self._outbox.clear()
            if feed is not None:
                self._counters.source_errors += feed.errors  # the counts go on across stays
        if feed is not None:
            feed.close()

    def set_publishing(self, on: bool) -> None:
        """Whether a room takes the microphone. While none does, and no tap listens (a
        mic test, hear-myself), a frame is only metered (the sent meter shows it raw): no
        APM and no AudioSource, which cost most of an idle console. Sent taps (the turn
        detector) see nothing meanwhile: nothing is sent."""
        self._publishing = bool(on)
        self._wake.notify_threadsafe()  # its watch tightens to WATCH_S at once

    def _blocks_per_read(self) -> int:
        """How many device blocks the sound server's stream hands over at once: one while
        anyone listens, :data:`IDLE_BLOCKS_PER_READ` while the chain only meters (the display
        reads the meters at 30 Hz; every wake-up of the stream's thread costs more than
        its frames' work, ``bench idle``)."""
        return 1 if self._listened() else IDLE_BLOCKS_PER_READ

    def _listened(self) -> bool:
        """Someone takes the processed frames: a room, or a tap (a mic test, hear-myself).
        What is sent is watched (sent taps) only while a room takes it."""
        return self._publishing or bool(self._taps)

    def set_gate(self, open_: bool) -> None:
        """Push-to-talk: while closed, silence is sent (the meter still shows the mic)."""
        self._gate_open = bool(open_)

    def set_processing(self, config: ProcessingConfig) -> None:
        self.apm.request(config)

    def meters(self) -> MicMeters:
        """What the microphone hears and what is sent; any thread."""
        return MicMeters(self.heard.snapshot(), self.meter.snapshot())

    def reset_clip(self) -> None:
        self.heard.reset_clip()
        self.meter.reset_clip()

    def add_tap(self, tap: Callable[[npt.NDArray[np.int16]], None]) -> None:
        """Call ``tap`` with every processed frame (what is sent), on the thread that
        processes it (the device's callback thread, or the media loop's on silence)."""
        self._taps = (*self._taps, tap)
        self._wake.notify_threadsafe()  # its watch tightens to WATCH_S at once

    def remove_tap(self, tap: Callable[[npt.NDArray[np.int16]], None]) -> None:
        self._taps = tuple(t for t in self._taps if t is not tap)

    def add_sent_tap(self, tap: Callable[[npt.NDArray[np.int16], float], None]) -> None:
        """Call ``tap(samples, ready)`` on the processing thread with every frame of device audio
        exactly as it is sent (after processing and the push-to-talk gate), while a room
        takes the microphone; ``ready`` is when the device delivered its last sample
        (``time.monotonic()``). The chain's own silence (no device) is not tapped."""
        self._sent_taps = (*self._sent_taps, tap)

    def remove_sent_tap(self, tap: Callable[[npt.NDArray[np.int16], float], None]) -> None:
        self._sent_taps = tuple(t for t in self._sent_taps if t is not tap)

    def reset_reverse_clock(self) -> None:
        """The output opened another stream: its blocks start a new timeline."""
        self.reference.reset()

    def push_reverse(self, samples: npt.NDArray[np.int16],
                     played_end: float | None = None) -> None:
        """Queue what is being played (mono int16) as the echo reference; ``played_end``:
        when its last sample will have left the speaker, if the output knows.

        Called by ONE producer thread (the output device's callback); the microphone's
        thread hands it to the active APM in 10 ms frames just before the frame it echoes in.
        """
        self.reference.push(samples, played_end)

    def _make_callback(self, gen: int) -> Callable[..., None]:
        ring = self._ring
        counters = self._counters
        flags = counters.flags
        monotonic = time.monotonic
        stream = self._stream

        def callback(indata: npt.NDArray[np.int16], frames: int, time_info: Any,
                     status: Any) -> None:
            if gen != stream.gen:
                return
            now = monotonic()
            stream.last_callback = now
            counters.samples_in += frames
            if status:
                for name in STATUS_FLAGS:
                    if getattr(status, name):
                        flags[name] += 1
            if not ring.write(indata[:, 0], now):
                counters.ring_full += frames
            self._drain()

        return callback

    def _drain(self) -> None:
        """Process every whole frame the device delivered (its callback thread). A frame
        whose echo reference has not come yet (the output is catching up after a freeze)
        stays for the next call, up to :data:`echo_reference.MAX_WAIT_S`."""
        ring = self._ring
        pcm = self._pcm
        with self._lock:
            if self._resting or not self._running:
                return
            try:
                if not self._listened():
                    self._meter_only()
                    return
                while ring.available() >= FRAME:
                    if self.reference.timed and self._cancels_echo() and self.reference.waiting(
                            self._capture_clock.peek(FRAME, ring.next_ready(FRAME, SAMPLE_RATE)),
                            time.monotonic()):
                        self._counters.reference_waits += 1
                        break
                    ready = ring.take(pcm, SAMPLE_RATE)
                    self._process(pcm, ready, silent=False)
            except Exception:
                # Never into the device's callback (PortAudio would stop the stream): the
                # frame is lost, counted as the APM's, and said once.
                self._counters.apm_errors += 1
                if not self._failed:
                    self._failed = True
                    _log.exception("the microphone path failed on a frame")

    def _meter_only(self) -> None:
        """Nobody takes the microphone: every whole frame waiting, metered as one block
        (under the lock). A wake-up brings :data:`IDLE_BLOCKS_PER_READ` frames, and
        metering them one by one, twice, was most of an idle console's audio work
        (``bench idle``); the sent meter shows the same raw signal, so it follows the
        heard one."""
        ring = self._ring
        n = ring.available() // FRAME * FRAME
        if n == 0:
            return
        block = self._block_pcm[:n]
        ready = ring.take(block, SAMPLE_RATE)
        self._counters.unsent_samples += n  # at once: the books stay square
        self.reference.discard(ready if math.isnan(ready)
                               else self._capture_clock.stamp(n, ready))
        self.heard.process(self.gain.apply(block))
        self.meter.follow(self.heard.snapshot())

    # -- media loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the frame pump on the media loop (call from the media loop)."""
        self._running = True
        self._task = self._loop.create_task(self.run(), name="capture-chain")

    async def aclose(self) -> None:
        """Close the input and end the frame pump (on the media loop)."""
        self._running = False
        self.close_device()
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def run(self) -> None:
        """Watch the device: while it is gone or stalled, make silent frames on the
        engine's clock, so the published track and the counters keep running."""
        pcm = np.zeros(FRAME, dtype=np.int16)
        next_silence = time.monotonic() + 0.01
        on_silence = False
        try:
            while self._running:
                if self._resting:
                    if not on_silence:
                        on_silence = True
                        self.heard.reset()
                        self.meter.reset()
                    await self._wake.wait(lambda: not self._resting, 1.0)
                    next_silence = time.monotonic() + 0.01
                    continue
                await self._wake.wait(lambda: False,
                                      WATCH_S if self._listened() else IDLE_WATCH_S)
                now = time.monotonic()
                if self._stream.alive(now):
                    on_silence = False
                    next_silence = now + 0.01
                    continue
                # The device is gone or stalled: keep the chain running on silence, and
                # let the meters say so at once instead of showing the last sound fade.
                with self._lock:
                    if not on_silence:
                        on_silence = True
                        self.heard.reset()
                        self.meter.reset()
                    while now >= next_silence and self._running and not self._resting:
                        pcm[:] = 0
                        self._process(pcm, math.nan, silent=True)
                        next_silence += 0.01
                if now - next_silence > 0.1:
                    next_silence = now + 0.01
        finally:
            self.detach_source()

    def _flush_waiting(self) -> None:
        """Send what waited for livekit's queue (media loop, when the feed says it can)."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        """Hand the outbox to the AudioSource, a frame at a time (under the lock): livekit's
        bounded queue answers late when it is full, and then frames wait here (and are
        caught up by the outbox) until the feed has the loop call this again."""
        outbox = self._outbox
        feed = self.feed
        if feed is None:
            return
        while outbox.frames() and feed.claim():
            item = outbox.next_frame()
            if item is None:  # cannot be (a whole frame waits), but never keep a claim
                feed.release()
                return
            if not math.isnan(item.ready):
                self.latency.add(time.monotonic() - item.ready)
            self._counters.delivered_samples += item.real
            self._counters.silence_samples += item.silent
            feed.send(item.samples)

    def _process(self, pcm: npt.NDArray[np.int16], ready: float, silent: bool) -> None:
        """Gain, meters, APM and taps for one frame, then on to the AudioSource (under the
        lock).

        A ``silent`` frame is the chain's own (no device): processed and sent, never metered.
        """
        # Pair it with the echo reference on the device's timeline, not by arrival: after a
        # freeze both streams arrive in bursts, in no useful order.
        listened = self._listened()
        if not listened and not silent:
            self._counters.unsent_samples += FRAME  # at once: the books stay square
        if not math.isnan(ready):
            self._feed_reverse(self._capture_clock.stamp(FRAME, ready), listened)
        else:
            self._feed_reverse(ready, listened)
        pcm = self.gain.apply(pcm)
        if not silent:
            self.heard.process(pcm)
        if not listened:
            if not silent:
                # Shown raw while nothing is sent, but nothing sent clipped: a loud
                # speaker heard in the moment before a room takes the microphone left the
                # sent meter's clip latch lit for the whole stay.
                self.meter.follow(self.heard.snapshot())
            return
        frame = rtc.AudioFrame(pcm.tobytes(), SAMPLE_RATE, 1, FRAME)
        if self.apm.cancelling_echo:
            delay = self._stream.latency_s + self._render_delay_s
            self.apm.set_stream_delay_ms(int(delay * 1000))
        try:
            self.apm.process_capture(frame)
        except RuntimeError:
            self._counters.apm_errors += 1
        samples = np.frombuffer(frame.data, dtype=np.int16)
        self.echo.on_mic(pcm, samples, self.apm.active_config.echo_cancellation)
        if not silent:
            self.meter.process(samples)
        for tap in self._taps:
            tap(samples)
        if not self._gate_open:
            samples = np.zeros_like(samples)  # push-to-talk released: send silence
        if not silent and self._publishing:
            for sent_tap in self._sent_taps:
                sent_tap(samples, ready)
        if self.feed is None:  # a test or hear-myself with no room: nothing is sent
            if not silent:
                self._counters.unsent_samples += FRAME
            return
        self._outbox.push(samples, ready, silent)
        self._flush()

    def _deaf(self) -> bool:
        """A recording in place of the microphone hears no speaker: with the reference fed,
        the canceller took what we play for echo in it and damped the user's speech over
        an agent's reply (the agent then missed being interrupted)."""
        device = self._stream.device
        return device is not None and device.hostapi == file_input.HOSTAPI

    def _cancels_echo(self) -> bool:
        """Whether the APM takes the echo reference for the next frame."""
        return self._listened() and not self._deaf() and self.apm.cancelling_echo

    def _feed_reverse(self, ready: float, listened: bool = True) -> None:
        """Hand the APM what was played up to the moment this microphone frame was captured
        (without ``listened``, only drop it: the APM does not run).

        Both streams are ordered by their own timestamps, so a backlog on either side (a
        stalled process catching up) never shifts the echo path the APM sees.
        """
        self.reference.feed(ready, self._reverse_frame if listened and not self._deaf()
                            else None)

    def _reverse_frame(self, pcm: npt.NDArray[np.int16]) -> None:
        self.echo.on_far(pcm)
        self.apm.process_reverse(rtc.AudioFrame(pcm.tobytes(), SAMPLE_RATE, 1, FRAME))

    # -- reading ------------------------------------------------------------------------------
    def stats(self, latency: bool = True) -> CaptureStats:
        """Counters and state; ``latency=False`` skips the percentiles (display ticks)."""
        now = time.monotonic()
        stream = self._stream
        last = stream.last_callback
        device = stream.device
        c = self._counters
        outbox = self._outbox
        feed = self.feed
        pending = self._ring.available() + outbox.real_pending
        lost = (c.samples_in - c.delivered_samples - c.ring_full - outbox.dropped_real
                - pending - c.unsent_samples)
        return CaptureStats(
            device=device.name if device is not None else None,
            running=self._running,
            frames_captured=c.samples_in // FRAME,
            frames_delivered=(c.delivered_samples + c.silence_samples) // FRAME,
            frames_dropped={"ring_full": c.ring_full // FRAME,
                            "backlog": outbox.dropped_real // FRAME,
                            "apm_error": c.apm_errors,
                            "source_error": c.source_errors + (
                                feed.errors if feed is not None else 0)},
            status_flags=dict(c.flags),
            since_last_callback_s=None if last is None else now - last,
            stalled=stream.stalled(now),
            device_error=stream.report(now),
            source_queue_ms=feed.queued_duration * 1000.0 if feed is not None else 0.0,
            apm_switches=self.apm.switches,
            silence_frames=c.silence_samples // FRAME,
            pending_frames=pending // FRAME,
            samples_lost=lost,
            samples_caught_up=outbox.packed,
            reverse_blocks_dropped=self.reference.dropped,
            reference_waits=c.reference_waits,
            reference_timed=self.reference.timed,
            input_gain_db=self.gain.db,
            input_gain_clipped=self.gain.samples_clipped,
            latency_ms_p50=self.latency.percentile_ms(50, last=500) if latency else math.nan,
            latency_ms_p95=self.latency.percentile_ms(95, last=500) if latency else math.nan,
        )

    def pending_frames(self) -> int:
        """Whole frames of device audio waiting (in the ring or the outbox)."""
        return (self._ring.available() + self._outbox.real_pending) // FRAME
