"""The playback path: the device's callback pulls the mixer -> sounddevice / libpulse stream.

Each time the device asks for a block, its callback mixes it right there (a pull model):
the channels' queues are the only buffer before the device's own, so nothing waits in
between, and no other thread has to wake up 100 times a second to keep the device fed.
The callback fades out on a mirror of what it played instead of cutting to zero when it
has nothing (see ``conceal``), duplicates mono to every device channel, and hands exactly
what was played to the echo reference. A small ring holds what one mix made beyond the
block asked for (a device asking in odd sizes).
When the device itself runs dry (this process stalled) PortAudio says so; that is counted
as ``device_underflows``. A gap between two device callbacks well beyond one block means the
whole process (or host) froze: it is counted as a host stall, and the channels are told for
the moments after one, so they do not mistake the freeze for network jitter.
With no device open (or a device that stopped) the mixer runs on the media loop, on its own
10 ms clock, so the channels keep draining and their counters stay honest. With nothing to
play for a few seconds (and the owner's leave) the stream closes and the device is kept, to
reopen when something plays: it "dozes" (see ``_doze_off``).

Before, the media loop topped up a 30 ms ring the callback read from; a late loop (a burst
of room events, a busy machine) was an underrun, so the ring's depth adapted. Pulling
removes the loop from the path: 30 ms less latency, and its wake-ups (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from console.engine import conceal, devices, play_time
from console.engine.device_stream import DeviceStream
from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.mixer import Mixer
from console.engine.pulse_stream import PulseStream
from console.engine.ring import SampleRing
from console.engine.wakeup import Wakeup, cancel_and_wait
from console.os_thread_name import naming

_log = logging.getLogger(__name__)

HOST_STALL_S = 0.03     # a callback gap this long (three blocks) is a freeze of the process
RECOVER_S = 0.3         # underruns this soon after a freeze are blamed on it

ReverseSink = Callable[[npt.NDArray[np.int16], "float | None"], None]  # see push_reverse
DeviceLatency = str | float  # PortAudio's "low" / "high", or seconds

IDLE_CHECK_S = 0.5  # with nothing to play the mixer sleeps; it looks this often all the same
PULL_CHECK_S = 0.1  # while the device pulls, the media loop looks this often (a stall, idle)
DOZE_AFTER_S = 3.0  # nothing played this long (and the owner allows it): the stream closes

def parse_latency(text: str) -> DeviceLatency:
    """``low``, ``high`` or milliseconds (``80``) -> what sounddevice takes."""
    if text in ("low", "high"):
        return text
    try:
        ms = float(text)
    except ValueError:
        raise ValueError(f"output latency must be low, high or milliseconds, not {text!r}") \
            from None
    if not 0 < ms <= 400:
        raise ValueError(f"output latency must be between 0 and 400 ms, not {ms:g}")
    return ms / 1000.0


@dataclass(frozen=True)
class OutputStats:
    device: str | None
    device_channels: int
    ring_ms: float
    device_latency_ms: float
    underruns: int
    overruns: int
    frames_played: int
    frames_mixed: int
    frames_limited: int
    samples_clipped: int
    device_error: str | None
    device_underflows: int = 0   # the device itself ran dry (PortAudio output underflow)
    host_stalls: int = 0         # callback gaps of 30 ms or more: this process froze
    host_stall_ms_max: float = 0.0
    underruns_after_stall: int = 0  # the part of ``underruns`` that followed a host stall
    notice: str | None = None    # the chosen output went away: where it plays meanwhile
    dozing: bool = False         # closed while nothing plays (reopened by the next frame)
    mix_errors: int = 0          # blocks the mixer failed to make (heard as a gap, logged once)


class OutputDevice:
    """Plays the mixer on one output device; the device can change while playing."""

    def __init__(self, loop: asyncio.AbstractEventLoop, mixer: Mixer, *,
                 reverse: ReverseSink | None = None,
                 on_render_delay: Callable[[float], None] | None = None,
                 device_latency: DeviceLatency = "low",
                 on_new_stream: Callable[[], None] | None = None,
                 on_idle: Callable[[], None] | None = None,
                 may_doze: Callable[[], bool] | None = None,
                 on_doze_failed: Callable[[devices.AudioDevice, int], None] | None = None
                 ) -> None:
        """``on_idle``: called on the media loop each time the mixer falls asleep with
        nothing left to play (a cue or the last channel ended). ``may_doze``: whether the
        stream may close after :data:`DOZE_AFTER_S` of nothing to play (asked on the media
        loop); it reopens on the same device when something comes to play, and if that
        device is gone ``on_doze_failed(device, channels)`` is called (on the media loop)."""
        self._loop = loop
        self._on_idle = on_idle
        self._may_doze = may_doze
        self._on_doze_failed = on_doze_failed
        # Dozing: the stream closed while nothing played, on this device (and channels).
        self._dozing: tuple[devices.AudioDevice, int] | None = None
        self.dozes = 0  # how many times it dozed off (for tests and benches)
        self._on_new_stream = on_new_stream
        self._device_latency = device_latency
        self.mixer = mixer
        # One mixer at a time: the device's callback, or the media loop while no device
        # plays (the two overlap for a moment when a device stalls or comes back).
        self._mix_lock = threading.Lock()
        self._busy = False  # the callback mixed something: the mixer was not idle
        self._mix_errors = 0
        self._stall_gap = HOST_STALL_S
        self._ring = SampleRing(SAMPLE_RATE // 2)
        self._reverse = reverse
        self._on_delay = on_render_delay
        self._stream = DeviceStream("output", stopped="stopped playing",
                                    silent="asked for audio")
        self._channels = 1
        self.notice: str | None = None  # set by the engine while the chosen output is away
        self._wake = Wakeup(loop)
        mixer.on_change = self._wake.notify_threadsafe
        self._underruns = 0
        self._overruns = 0
        self._device_underflows = 0
        self._host_stalls = 0
        self._host_stall_max = 0.0
        self._stall_until = -1.0
        self._underruns_stall = 0
        self._played = 0
        self._started_playing = False
        self._gap_heard = False  # the current gap cut into sound (see the callback)
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._scratch = np.zeros(SAMPLE_RATE // 10, dtype=np.int16)
        self._tail = np.zeros(conceal.FADE_IN_SAMPLES, dtype=np.int16)  # the last played
        self._dry = True  # the ring ran dry (or never played): the next audio fades in
        self._resting = False  # the device closed on purpose: the mixer sleeps (rest)

    # -- device (any thread) ------------------------------------------------------------------
    @property
    def device(self) -> devices.AudioDevice | None:
        """The device played on, or dozing on (see :meth:`_doze_off`)."""
        dozing = self._dozing
        return self._stream.device or (dozing[0] if dozing is not None else None)

    @property
    def dozing(self) -> bool:
        return self._dozing is not None

    def open(self, spec: str | int | None, channels: int | None = None) -> devices.AudioDevice:
        """Open (or switch to) an output device; channels and the ring stay.

        The mono mix goes to every device channel: stereo when the device has two or more,
        mono otherwise (or as many as ``channels`` asks for).
        """
        with self._stream.lock:
            self._dozing = None
            dev = devices.find_device(spec, "output")
            n = channels or (2 if dev.max_output_channels >= 2 else 1)

            def make(gen: int, finished: Callable[[], None]) -> Any:
                if dev.backend == "pulse":
                    return PulseStream("output", dev.name, samplerate=SAMPLE_RATE, channels=n,
                                       blocksize=FRAME, latency=self._device_latency,
                                       callback=self._make_callback(gen),
                                       finished_callback=finished,
                                       ready=lambda: self._stream.gen == gen)
                return devices.sd().OutputStream(
                    device=dev.index, channels=n, samplerate=SAMPLE_RATE, dtype="int16",
                    blocksize=FRAME, latency=self._device_latency,
                    callback=naming("portaudio-out", self._make_callback(gen)),
                    finished_callback=finished)

            self._stream.open(dev, make, before_start=self._on_new_stream)
            self._channels = n
            # A device with a large buffer asks for it in bursts of several blocks: a gap
            # of one burst is not a freeze.
            self._stall_gap = max(HOST_STALL_S, 1.5 * self._stream.latency_s)
        self._wake.notify_threadsafe()  # the mixer may be asleep (no device, nothing to play)
        return dev

    def reopen(self, device: devices.AudioDevice) -> None:
        """Open ``device`` again by name (after PortAudio re-read its list); if it is gone,
        say so in ``device_error`` and play on the engine's clock."""
        self._stream.reopen(device.name, lambda name: self.open(name, self._channels))

    def close_device(self) -> None:
        """Close the output; the mixer goes on, on the engine's own clock."""
        with self._stream.lock:
            self._dozing = None
            self._stream.close()

    def _doze_off(self) -> None:
        """Nothing has played for a while: close the stream, remember the device. A silent
        stream kept open all day wakes our thread and the sound server's a hundred times
        a second, and keeps the sound card from suspending (laptops)."""
        with self._stream.lock:
            dev = self._stream.device
            if dev is None or not self.mixer.idle:
                return
            self._stream.close()
            self._dozing = (dev, self._channels)
            self.dozes += 1

    def _doze_allowed(self) -> bool:
        return self._may_doze is not None and self._may_doze()

    def poke(self) -> None:
        """The owner's answer to ``may_doze`` changed: look again now (any thread)."""
        self._wake.notify_threadsafe()

    def _wake_up(self) -> None:
        """Something comes to play: reopen the device the stream dozed on."""
        with self._stream.lock:
            dozing, self._dozing = self._dozing, None
            if dozing is None:
                return
            dev, channels = dozing
            try:
                self.open(dev.name, channels)
                return
            except devices.DeviceError:
                pass
        if self._on_doze_failed is not None:
            self._on_doze_failed(dev, channels)

    def rest(self, on: bool) -> None:
        """Close the output and let the mixer sleep instead of ticking on the engine's
        clock (on), or let it run again (off: the caller reopens a device); any thread.
        Only while no channel plays (see :mod:`console.engine.rest`)."""
        self._resting = bool(on)
        if on:
            self.close_device()
        self._wake.notify_threadsafe()

    @property
    def stream_index(self) -> int | None:
        """Our stream's index on the sound server (pulse devices), for tests and benches."""
        return self._stream.server_stream

    def lose(self, message: str) -> None:
        """The device went away (the sound server said so): close it, say ``message``."""
        self._stream.lose(message)

    def _make_callback(self, gen: int) -> Callable[..., None]:
        ring = self._ring
        scratch = self._scratch
        tail = self._tail
        stream = self._stream
        reverse = self._reverse
        fill = self._fill

        def callback(outdata: npt.NDArray[np.int16], frames: int, time_info: Any,
                     status: Any) -> None:
            if gen != stream.gen:
                outdata.fill(0)
                return
            now = time.monotonic()
            last = stream.last_callback
            stream.last_callback = now
            if last is not None and now - last >= self._stall_gap:
                self._note_stall(now - last, now)
            if status.output_underflow:
                # The device ran dry (this process stalled) and played silence on its own.
                self._device_underflows += 1
            if ring.available() < frames:
                fill(frames, now)
            block = scratch[:frames]
            got = ring.read_into(block)
            if got < frames:
                if not self._dry:
                    # A gap in silence is not heard (the app's start, nobody talking): only
                    # one that cuts into sound counts, for all its blocks.
                    self._gap_heard = bool(block[:got].any() or tail.any())
                # Continue from what was played (unless that was already a fade-out).
                conceal.fade_out_into(block, got, None if self._dry else tail)
                self._dry = True
                if self._started_playing and self._gap_heard:
                    self._underruns += 1
                    if now < self._stall_until:
                        self._underruns_stall += 1
            else:
                if self._dry:
                    self._dry = False
                    conceal.fade_in(block)
                self._started_playing = True
            keep = min(frames, tail.shape[0])
            tail[:-keep or None] = tail[keep:]
            tail[-keep:] = block[-keep:]
            outdata[:] = block[:, None]
            self._played += frames
            if reverse is not None:
                reverse(block, play_time.block_end(frames, time_info))

        return callback

    def _fill(self, frames: int, now: float) -> None:
        """Mix until the ring holds ``frames`` (the device's callback). With nothing to
        play, nothing is mixed and the callback plays silence on its own; the first time,
        one frame of silence ends what played (so its end is no gap heard) and the media
        loop is told (``on_idle``, dozing)."""
        mixer = self.mixer
        ring = self._ring
        if mixer.idle:
            if not self._busy:
                return
            self._busy = False
            frames = ring.available() + 1  # one frame more: the mixer's silence
            self._wake.notify_threadsafe()
        else:
            self._busy = True
        with self._mix_lock:
            try:
                after_stall = now < self._stall_until
                while ring.available() < frames:
                    if not ring.write(mixer.mix(now, after_stall=after_stall), now):
                        self._overruns += 1  # a block larger than the ring: never, but
                        break                # never a loop that cannot end either
            except Exception:
                # Never into the device's callback (PortAudio would stop the stream): the
                # block is heard as a gap (concealed), counted, and said once.
                self._mix_errors += 1
                if self._mix_errors == 1:
                    _log.exception("the mixer failed on a block")

    def _note_stall(self, gap: float, now: float) -> None:
        self._host_stalls += 1
        self._host_stall_max = max(self._host_stall_max, gap)
        self._stall_until = now + RECOVER_S

    # -- media loop ---------------------------------------------------------------------------
    def start(self) -> None:
        self._running = True
        self._task = self._loop.create_task(self._run(), name="output-mixer")

    async def aclose(self) -> None:
        """Close the output and end the mixer's pump (on the media loop)."""
        self._running = False
        self.close_device()
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        """Keep what the device's callback does not: the mixer on the engine's clock while
        no device plays, the stream's doze while nothing does, and ``on_idle``."""
        next_tick = time.monotonic()
        asleep_at: float | None = None  # when the device last found nothing to play
        played = False  # something was mixed since the mixer last fell asleep
        while self._running:
            if self._resting:
                await self._wake.wait(lambda: not self._resting, 1.0)
                next_tick = time.monotonic()
                continue
            if self._dozing is not None and (not self.mixer.idle or not self._doze_allowed()):
                self._wake_up()  # a device open blocks ~10 ms: nothing plays meanwhile
                next_tick = time.monotonic()
                continue
            now = time.monotonic()
            if self._stream.alive(now):
                if self._on_delay is not None:
                    self._on_delay(self._stream.latency_s + self._ring.available() / SAMPLE_RATE)
                if self._busy or not self.mixer.idle:
                    # The device pulls the mixer: look again when it finds nothing to play
                    # (it says so), or a while later (the stream may stall meanwhile).
                    played, asleep_at = True, None
                    await self._wake.wait(lambda: not self._busy and self.mixer.idle,
                                          PULL_CHECK_S)
                else:
                    # Nothing to play: the device's callback plays silence on its own (a
                    # gap in silence is no underrun). Sleep until a channel or a cue
                    # arrives (the mixer wakes us).
                    if played and self._on_idle is not None:
                        self._on_idle()  # something played and ended
                    played = False
                    if asleep_at is None:
                        asleep_at = now
                    elif now - asleep_at >= DOZE_AFTER_S and self._doze_allowed():
                        self._doze_off()
                        asleep_at = None
                        continue
                    await self._wake.wait(lambda: not self.mixer.idle, IDLE_CHECK_S)
                next_tick = time.monotonic()
            elif self.mixer.idle:
                # No device and nothing to play: nothing to keep running. Sleep until a
                # channel or a cue arrives (the mixer wakes us) or a device opens.
                self._busy = False
                await self._wake.wait(
                    lambda: not self.mixer.idle or self._stream.alive(time.monotonic()),
                    IDLE_CHECK_S)
                next_tick = time.monotonic()
            else:
                # No device: keep the mixer (and so the channels) running on our own clock.
                if now - next_tick >= HOST_STALL_S:
                    self._note_stall(now - next_tick, now)
                with self._mix_lock:
                    while now >= next_tick and self._running:
                        self.mixer.mix(now, after_stall=now < self._stall_until)
                        next_tick += FRAME / SAMPLE_RATE
                if now - next_tick > 0.1:
                    next_tick = now
                await asyncio.sleep(max(0.0, next_tick - time.monotonic()))

    # -- reading ------------------------------------------------------------------------------
    def stats(self) -> OutputStats:
        m = self.mixer
        device = self.device
        return OutputStats(
            device=device.name if device is not None else None,
            device_channels=self._channels,
            ring_ms=self._ring.available() / SAMPLE_RATE * 1000.0,
            device_latency_ms=self._stream.latency_s * 1000.0,
            underruns=self._underruns, overruns=self._overruns,
            frames_played=self._played // FRAME, frames_mixed=m.frames_mixed,
            frames_limited=m.frames_limited, samples_clipped=m.samples_clipped,
            device_error=self._stream.report(time.monotonic()),
            device_underflows=self._device_underflows,
            host_stalls=self._host_stalls,
            host_stall_ms_max=self._host_stall_max * 1000.0,
            underruns_after_stall=self._underruns_stall,
            notice=self.notice,
            dozing=self.dozing,
            mix_errors=self._mix_errors,
        )
