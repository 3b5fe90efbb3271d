"""The engine facade: a media thread, the microphone chain, and thread-safe controls.

Everything here is callable from the GUI thread (or any other) without touching Qt.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from livekit import rtc

from console.engine import devices
from console.engine.apm import ProcessingConfig
from console.engine.capture import IDLE_METERS, CaptureChain, CaptureStats, MicMeters
from console.engine.channel import Channel, ChannelStats, open_track_stream
from console.engine.device_watch import DeviceWatch
from console.engine.echo_metrics import EchoStats
from console.engine.format import FRAME_MS, SAMPLE_RATE
from console.engine.input_gain import clamp_db
from console.engine.media_thread import MediaThread
from console.engine.meter import SILENT, MeterSnapshot
from console.engine.mic_keeper import MicKeeper
from console.engine.mic_state import OFF as MIC_OFF
from console.engine.mic_state import MicState
from console.engine.mic_test import (
    IDLE_TEST,
    SELF_KEY,
    TEST_SECONDS,
    MicTest,
    MicTestState,
    Phase,
    SelfMonitor,
)
from console.engine.mixer import Mixer
from console.engine.output import DeviceLatency, OutputDevice, OutputStats
from console.engine.rest import DeviceRest
from console.engine.test_tone import tone
from console.engine.track_tap import TrackTap
from console.engine.vad import VoiceActivity, VoiceSpan, channel_voice, mic_voice

# livekit's default is 1000 ms; a real-time source needs only a few frames of slack.
SOURCE_QUEUE_MS = 30

_log = logging.getLogger(__name__)
# A device that came back is reopened once it has been listed this long: a plugged device
# arrives as a burst of server events (card, profile, sink, source), and a reopen in its
# middle may be undone by the next one.
SETTLE_BACK_S = 0.2
T = TypeVar("T")


class EngineNotRunning(RuntimeError):
    """A command that needs the media thread, given before :meth:`AudioEngine.start` or
    after :meth:`AudioEngine.stop`. Queries never raise it: they answer idle values."""

    def __init__(self) -> None:
        super().__init__("the audio engine is not running")


# What the queries answer while the engine is not running: one clear idle state, the same
# shape as a running engine's, so a caller never needs a try/except to draw it.
IDLE_CAPTURE = CaptureStats(
    device=None, running=False, frames_captured=0, frames_delivered=0, frames_dropped={},
    status_flags={}, since_last_callback_s=None, stalled=False, device_error=None,
    source_queue_ms=0.0, apm_switches=0)
IDLE_ECHO = EchoStats(erle_db=math.nan, echo_delay_ms=math.nan, delay_confidence=0.0,
                      far_active=False, windows=())


class AudioEngine:
    """Owns the media thread, the published ``rtc.AudioSource`` and the capture chain."""

    def __init__(
        self,
        *,
        input_device: str | int | None = None,
        processing: ProcessingConfig | None = None,
        source_queue_ms: int = SOURCE_QUEUE_MS,
        output_device: str | int | None = None,
        output_latency: DeviceLatency = "low",
        input_gain_db: float = 0.0,
        input_fallback: bool = True,
        backend: str = "portaudio",
    ) -> None:
        """``input_fallback``: when the chosen microphone goes away, open the default input
        until it is back (False: send silence meanwhile). ``backend``: where the device
        lists come from, ``pulse`` (the sound server's devices, followed by its events),
        ``portaudio``, or ``auto`` (the server where one answers); see
        :mod:`console.engine.devices`."""
        self._backend_choice = backend
        self._backend = "portaudio"
        self._output_missing: str | None = None  # the chosen output, gone (pulse)
        self._output_back: threading.Timer | None = None  # its reopening, once it settled
        self._mic_test: MicTest | None = None
        self._mic_test_tap: Callable[[npt.NDArray[np.int16]], None] | None = None
        self._self_monitor: SelfMonitor | None = None
        self._self_tap: Callable[[npt.NDArray[np.int16]], None] | None = None
        self._output_spec = output_device
        self._output_latency = output_latency
        self._input_spec = input_device
        self._processing = processing or ProcessingConfig()
        self._queue_ms = source_queue_ms
        self._media = MediaThread()
        self._chain: CaptureChain | None = None
        self._source: rtc.AudioSource | None = None  # while a room takes the microphone
        self._source_lock = threading.Lock()
        self._mixer = Mixer()
        self._output: OutputDevice | None = None
        self._input_gain_db = clamp_db(input_gain_db)
        self._gate_open = True
        self._publishing = True
        self._input_fallback = input_fallback
        self._labels: dict[str, str] = {}  # device name -> its remembered description
        self._keeper: MicKeeper | None = None
        # Every change of devices (a choice, a re-listing, the keeper's reopening) holds it,
        # so they happen one at a time whichever thread asks.
        self._devices_lock = threading.RLock()
        self._lists_version = 0
        self._mic_voice: VoiceActivity | None = None
        self._rest: DeviceRest | None = None
        self._rest_wanted = False  # the window is out of sight (set_resting)
        self._channels_opening = 0

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._chain is not None

    def start(self) -> None:
        """Start the media thread and capture.

        An input that cannot be opened is waited for: the microphone keeper opens it when
        it appears (:meth:`mic_state` says so). Meanwhile the default input is open in its
        place when the engine may fall back; otherwise (or when the default fails too) this
        raises DeviceError and the engine runs on silence, so that another device can be
        chosen with :meth:`set_input_device`.
        """
        if self._chain is not None:
            return
        try:
            self._backend = devices.use_backend(self._backend_choice)
        except devices.DeviceError as exc:  # pulse asked for, no server: PortAudio's lists
            _log.warning("%s; using PortAudio's device list", exc)
            self._backend = devices.use_backend("portaudio")
        self._media.start()
        chain = self._chain = self._media.run(self._create_chain())
        self._rest = DeviceRest(chain, self.output, keeper=lambda: self._keeper,
                                lock=self._devices_lock, output_gone=self._play_elsewhere)
        if self._output_spec is not None:
            self.output.open(self._output_spec)
        server = devices.pulse_watch()
        if server is not None:
            server.listeners.append(self._on_server_devices)
        keeper = self._keeper = MicKeeper(
            chain.stream, open_=chain.open, close=chain.close_device,
            default_input=lambda: devices.find_device(None, "input"),
            refresh=self.refresh_devices, lock=self._devices_lock,
            fallback=self._input_fallback,
            # the server's devices are followed by its events (below), not by polling
            watch=DeviceWatch() if server is None else None, labels=self._labels)
        try:
            with self._devices_lock:
                try:
                    dev = chain.open(self._input_spec)
                except devices.DeviceError:
                    if not keeper.unavailable(self._input_spec):
                        raise
                    return
                keeper.chose(self._input_spec, dev)
        finally:
            keeper.start()

    def start_output(self, spec: str | int | None = None,
                     channels: int | None = None) -> devices.AudioDevice:
        """Open the output device (or switch to another one while playing)."""
        self._output_spec = spec
        with self._devices_lock:
            self._wake()
            dev = self.output.open(spec, channels)
            self._output_missing = self.output.notice = None  # the user chose anew
            return dev

    async def _create_chain(self) -> CaptureChain:
        loop = self._media.loop
        chain = CaptureChain(loop, None, processing=self._processing)
        chain.gain.set_db(self._input_gain_db)
        chain.set_gate(self._gate_open)
        chain.set_publishing(self._publishing)
        if self._publishing:
            self._source = self._new_source(chain)
        chain.start()
        # The playback path runs from the start (on its own clock until a device opens), so
        # channels can be added at any moment; what it plays is the chain's echo reference.
        self._output = OutputDevice(loop, self._mixer, reverse=chain.push_reverse,
                                    on_render_delay=chain.set_render_delay,
                                    device_latency=self._output_latency,
                                    on_new_stream=chain.reset_reverse_clock,
                                    on_idle=self._nothing_plays,
                                    may_doze=self._output_may_doze,
                                    on_doze_failed=self._doze_failed)
        self._output.start()
        return chain

    def stop(self) -> None:
        """Stop capture and the media thread; safe to call twice."""
        server = devices.pulse_watch()
        if server is not None and self._on_server_devices in server.listeners:
            server.listeners.remove(self._on_server_devices)
        keeper, self._keeper = self._keeper, None
        self._rest = None
        self._mic_test = self._mic_test_tap = None
        self._self_monitor = self._self_tap = None  # its channel is closed with the others
        if keeper is not None:
            keeper.stop()  # first: it must not reopen what is being closed
        chain, self._chain = self._chain, None
        source, self._source = self._source, None
        output, self._output = self._output, None
        if chain is not None and self._media.running:
            with contextlib.suppress(Exception):
                self._media.run(self._close_channels())
            if output is not None:
                with contextlib.suppress(Exception):
                    self._media.run(output.aclose())
            with contextlib.suppress(Exception):
                self._media.run(chain.aclose())
            if source is not None:
                with contextlib.suppress(Exception):
                    self._media.run(source.aclose())
        self._media.close()
        if self._backend == "pulse":  # the server's watch lives with the engine that used it
            devices.use_backend("portaudio")
            self._backend = "portaudio"

    # -- the media loop (the session's coroutines run there) ---------------------------------
    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 10.0) -> T:
        """Run ``coro`` on the media loop and wait for it (never from the media loop)."""
        if not self._media.running:
            coro.close()
            raise EngineNotRunning
        return self._media.run(coro, timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the media loop from any thread."""
        if not self._media.running:
            coro.close()
            raise EngineNotRunning
        return self._media.submit(coro)

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Call ``fn(*args)`` on the media loop, from any thread."""
        if not self._media.running:
            raise EngineNotRunning
        self._media.loop.call_soon_threadsafe(fn, *args)

    # -- the parts, for the engine's own tests and benches only --------------------------------
    # The session, the window and the monitor use the methods around this block, never these:
    # what the parts offer changes with the engine's design.
    @property
    def media(self) -> MediaThread:
        return self._media

    @property
    def chain(self) -> CaptureChain:
        if self._chain is None:
            raise EngineNotRunning
        return self._chain

    @property
    def output(self) -> OutputDevice:
        if self._output is None:
            raise EngineNotRunning
        return self._output

    @property
    def mixer(self) -> Mixer:
        return self._mixer

    @property
    def source(self) -> rtc.AudioSource:
        """The microphone's AudioSource while a room takes it (:meth:`set_publishing`):
        one per stay, kept across device switches; publish it once."""
        if self._source is None:
            if self._chain is None:
                raise EngineNotRunning
            raise RuntimeError("no AudioSource: no room takes the microphone "
                               "(set_publishing(True) first)")
        return self._source

    def _new_source(self, chain: CaptureChain) -> rtc.AudioSource:
        """An AudioSource for a stay, fed by ``chain`` from its next frame. Made only while
        a room takes the microphone: livekit's source wakes a thread of its own every
        10 ms for as long as it exists (0.4 % of a core, ``bench idle``)."""
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=self._queue_ms,
                                 loop=self._media.loop)
        chain.attach_source(source)
        return source

    def _drop_source(self) -> None:
        """The stay ended: the chain stops sending and the source closes (any thread)."""
        with self._source_lock:
            source, self._source = self._source, None
            chain = self._chain
        if source is None:
            return
        if chain is not None:
            chain.detach_source()
        with contextlib.suppress(EngineNotRunning):  # stopped meanwhile: nothing to close
            self.submit(source.aclose())

    # -- devices ------------------------------------------------------------------------------
    def refresh_devices(self) -> None:
        """Re-read the device list; open devices are reopened (by name) around it.

        Re-initialising PortAudio ends every open stream, the output's too: it is closed
        first and reopened afterwards, a gap of a few milliseconds. A device that is gone
        is reported as the output's (or the input's) error; the microphone keeper then
        falls back or waits, and tries a missing chosen input again at once.

        The engine re-reads the lists by itself when its device watch sees the sound cards
        or the ALSA configuration change; :attr:`device_lists_version` counts every re-read,
        so a window lists them again (without refreshing again) when it moves.
        """
        if self._backend == "pulse":  # the lists follow the server's events: nothing to
            with self._devices_lock:  # re-read, and PortAudio's streams play on
                self._lists_version += 1
                if self._keeper is not None:
                    self._keeper.retry_soon()
            return
        with self._devices_lock:
            output = self._output
            playing = output.device if output is not None else None
            if output is not None and playing is not None:
                output.close_device()
            try:
                if self._chain is not None:
                    self._chain.refresh_devices()
                else:
                    devices.refresh()
            finally:
                self._lists_version += 1
                if output is not None and playing is not None:
                    output.reopen(playing)
                if self._keeper is not None:
                    self._keeper.retry_soon()

    def _on_server_devices(self, _old: tuple[Any, ...], new: tuple[Any, ...]) -> None:
        """The server's devices changed (its watch's thread): a device in use that went
        away is reported at once, and the default plays (records) in its place until it
        is back; the lists move."""
        listed = {(d.kind, d.name) for d in new}
        with self._devices_lock:
            chain, output, keeper = self._chain, self._output, self._keeper
            if chain is not None:
                dev = chain.device
                if dev is not None and dev.backend == "pulse" and (
                        "input", dev.name) not in listed:
                    chain.stream.lose(f"input {dev.label!r} went away (unplugged?)")
            if output is not None:
                self._keep_output(output, listed)
            self._lists_version += 1
            if keeper is not None:  # a missing microphone may be back: once it settled
                keeper.retry_soon(after=SETTLE_BACK_S)

    def _keep_output(self, output: OutputDevice, listed: set[tuple[str, str]]) -> None:
        dev = output.device
        if dev is not None and dev.backend == "pulse" and ("output", dev.name) not in listed:
            output.lose(f"output {dev.label!r} went away (unplugged?)")
            self._play_elsewhere(dev, output.stats().device_channels)
        elif (self._output_missing is not None and ("output", self._output_missing) in listed
              and self._output_back is None):
            timer = self._output_back = threading.Timer(SETTLE_BACK_S, self._output_is_back,
                                                         (self._output_missing,))
            timer.daemon = True
            timer.start()

    def _play_elsewhere(self, gone: devices.AudioDevice, channels: int) -> None:
        """The chosen output went away (under us, or while resting): play on the default
        until it is back, and say so."""
        output = self.output
        self._output_missing = gone.name
        try:
            fallback = output.open(None, channels or None)
        except devices.DeviceError as exc:
            output.notice = f"{gone.label} went away; no other output to play on ({exc})."
        else:
            output.notice = (f"{gone.label} went away: playing on {fallback.label} "
                             "until it is back.")
        _log.warning("output %r went away: %s", gone.name, output.notice)

    def _output_is_back(self, name: str) -> None:
        """The chosen output came back and settled (a timer's thread): play there again."""
        with self._devices_lock:
            self._output_back = None
            output = self._output
            if output is None or self._output_missing != name:
                return  # stopped, or the user chose another meanwhile
            self._output_missing = None
            try:
                back = output.open(name, output.stats().device_channels)
            except devices.DeviceError as exc:
                output.notice = f"{name} is back but could not be opened: {exc}"
            else:
                output.notice = None
                _log.warning("output %r is back: reopened", back.name)
            self._lists_version += 1

    @property
    def device_lists_version(self) -> int:
        """How many times the device lists were re-read (by the engine's own device watch
        or :meth:`refresh_devices`); any thread. When it moves, list them again."""
        return self._lists_version

    def input_devices(self, refresh: bool = False) -> list[devices.AudioDevice]:
        if refresh:
            self.refresh_devices()
        return devices.input_devices()

    def output_devices(self, refresh: bool = False) -> list[devices.AudioDevice]:
        if refresh:
            self.refresh_devices()
        return devices.output_devices()

    @property
    def output_device(self) -> devices.AudioDevice | None:
        return self._output.device if self._output is not None else None

    @property
    def input_device(self) -> devices.AudioDevice | None:
        return self._chain.device if self._chain is not None else None

    def set_input_device(self, spec: str | int | None) -> devices.AudioDevice:
        """Switch the microphone live; the AudioSource (and a published track) stays.

        The device opened becomes the one the engine keeps (reopened when it comes back
        after going away); ``None`` keeps whatever the default input is. On failure the
        current input stays (or, if the attempt closed it, is reopened).
        """
        self._input_spec = spec
        chain = self.chain
        keeper = self._keeper
        with self._devices_lock:
            self._wake()
            try:
                dev = chain.open(spec)
            except devices.DeviceError:
                if keeper is not None:
                    keeper.choice_failed()
                raise
            if keeper is not None:
                keeper.chose(spec, dev)
            return dev

    def set_input_file(self, path: Path, *, loop: bool = False) -> devices.AudioDevice:
        """A recording in place of the microphone, played in real time through the same
        processing, meters and AudioSource (``monitor --input-file``); when it ends it
        starts again (``loop``) or the microphone is silent. Raises DeviceError."""
        chain = self.chain
        with self._devices_lock:
            self._wake()
            dev = chain.open_file(path, loop=loop)
            if self._keeper is not None:
                self._keeper.chose(dev.name, dev)
            return dev

    # -- processing ---------------------------------------------------------------------------
    @property
    def processing(self) -> ProcessingConfig:
        return self._chain.apm.config if self._chain is not None else self._processing

    def set_processing(self, config: ProcessingConfig) -> None:
        """Switch echo cancellation, noise suppression, AGC, HPF live (next 10 ms frame)."""
        self._processing = config
        if self._chain is not None:
            self._chain.set_processing(config)

    # -- channels (one per remote audio track) ------------------------------------------------
    def add_track(self, key: str, track: rtc.Track, *, label: str | None = None,
                  gain_db: float = 0.0, muted: bool = False) -> Channel:
        """Play a track through the mixer under ``key`` (an identity, not ``track.sid``).

        From another thread; on the media loop itself await :meth:`open_channel`.
        """
        return self._media.run(self.open_channel(key, track, label=label, gain_db=gain_db,
                                                 muted=muted))

    async def open_channel(self, key: str, track: rtc.Track, *, label: str | None = None,
                           gain_db: float = 0.0, muted: bool = False) -> Channel:
        """:meth:`add_track` for code running on an event loop (the room session's, or the
        media loop itself): the channel is made on the media loop, the caller's loop waits."""
        with self._devices_lock:  # a rest starting now sees the channel coming
            self._channels_opening += 1
            self._wake()
        try:
            # The native stream is asked for here, on the caller's loop: its FFI request
            # blocks for 0.5-13 ms (bench soak), and a wave of joins on the media loop would
            # hold up the loop (and the no-device clock) for their sum.
            stream = open_track_stream(track)
            try:
                return await self._on_media(self._add_channel(key, stream, label=label,
                                                              gain_db=gain_db, muted=muted))
            except BaseException:
                stream.close()
                raise
        finally:
            with self._devices_lock:
                self._channels_opening -= 1

    async def _add_channel(self, key: str, stream: TrackTap, *, label: str | None,
                           gain_db: float, muted: bool) -> Channel:
        if key in self._mixer.channels:
            raise ValueError(f"a channel named {key!r} is already mixed")
        channel = Channel(key, stream, label=label, gain_db=gain_db, muted=muted)
        self._mixer.add(channel)
        return channel

    def remove_track(self, key: str) -> bool:
        """Stop playing a channel and close its stream; False if there was none."""
        return self._media.run(self.close_channel(key))

    async def close_channel(self, key: str) -> bool:
        """:meth:`remove_track` for code running on an event loop; False if there was no
        such channel (or the engine has stopped, which closed them all)."""
        if not self._media.running:
            return False
        return await self._on_media(self._close_channel(key))

    async def _close_channel(self, key: str) -> bool:
        channel = self._mixer.remove(key)
        if channel is None:
            return False
        channel.close()
        return True

    async def _on_media(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the media loop, from it or from another loop: the mixer's
        channels change only there."""
        if self._media.on_this_thread:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    async def _close_channels(self) -> None:
        for key in list(self._mixer.channels):
            await self._close_channel(key)

    def channel(self, key: str) -> Channel:
        return self._mixer.channels[key]

    def has_channel(self, key: str) -> bool:
        return key in self._mixer.channels

    def set_channel_gain_db(self, key: str, db: float) -> bool:
        """Local volume of one channel (ramped; -inf is off); False if there is none."""
        channel = self._mixer.channels.get(key)
        if channel is None:
            return False
        channel.set_gain_db(db)
        return True

    def set_channel_muted(self, key: str, muted: bool) -> bool:
        """Mute one channel here only; False if there is none."""
        channel = self._mixer.channels.get(key)
        if channel is None:
            return False
        channel.set_muted(muted)
        return True

    # -- voice activity (turn latency) --------------------------------------------------------
    def watch_mic_voice(self, on: bool = True) -> None:
        """Detect voice on the microphone as sent (after processing and the push-to-talk
        gate), from now on or no more; about 2 µs of the media thread per 10 ms."""
        chain = self.chain
        voice, self._mic_voice = self._mic_voice, None
        if voice is not None:
            chain.remove_sent_tap(self._feed_mic_voice)
        if on:
            self._wake()
            self._mic_voice = mic_voice()
            chain.add_sent_tap(self._feed_mic_voice)

    def _feed_mic_voice(self, samples: npt.NDArray[np.int16], ready: float) -> None:
        voice = self._mic_voice
        if voice is not None and not math.isnan(ready):
            voice.frame(samples, ready)

    def mic_voice_spans(self) -> tuple[VoiceSpan, ...]:
        """The microphone's last stretches of speech (``watch_mic_voice``), oldest first,
        stamped with when the device delivered their first and last voiced 10 ms; any
        thread. Empty while not watched."""
        voice = self._mic_voice
        return voice.spans() if voice is not None else ()

    def watch_channel_voice(self, key: str, on: bool = True) -> bool:
        """Detect voice on one channel as it arrives (before its queue, its gain and mute);
        False if there is no such channel. Any thread."""
        channel = self._mixer.channels.get(key)
        if channel is None:
            return False
        if not on:
            channel.set_voice(None)
        elif channel.voice is None:
            channel.set_voice(channel_voice())
        return True

    def channel_voice_spans(self, key: str) -> tuple[VoiceSpan, ...]:
        """A watched channel's last stretches of sound, stamped with their first and last
        10 ms's arrival from livekit; ``detail`` of a span is how long its first 10 ms
        waited in the channel before it was mixed. Empty when not watched."""
        channel = self._mixer.channels.get(key)
        voice = channel.voice if channel is not None else None
        return voice.spans() if voice is not None else ()

    def channel_stats(self) -> list[ChannelStats]:
        """The participants' channels (not the "hear myself" one)."""
        return [c.stats() for key, c in list(self._mixer.channels.items())
                if key != SELF_KEY]

    def channel_meters(self) -> dict[str, MeterSnapshot]:
        """Each channel's pre-fader meter alone: cheaper than :meth:`channel_stats`."""
        return {key: c.meter.snapshot() for key, c in list(self._mixer.channels.items())
                if key != SELF_KEY}

    def output_stats(self) -> OutputStats:
        """The playback path's counters; before start, an idle figure with no device."""
        output = self._output
        if output is None:
            return idle_output_stats()
        return output.stats()

    def echo_stats(self) -> EchoStats:
        return self._chain.echo.stats() if self._chain is not None else IDLE_ECHO

    # -- microphone gate (push-to-talk) -----------------------------------------------------
    def set_mic_gate(self, open_: bool) -> None:
        """Push-to-talk: while closed, silence is sent (the meter still shows the mic).

        Remembered before start, so a gate closed early is closed when capture begins."""
        self._gate_open = bool(open_)
        if self._chain is not None:
            self._chain.set_gate(self._gate_open)

    def know_label(self, name: str, label: str) -> None:
        """What the desktop called device ``name`` when it was last seen (from the settings):
        the words for it should it be missing at start. Call before :meth:`start`."""
        if name and label:
            self._labels[name] = label

    def set_publishing(self, on: bool) -> None:
        """Whether a room takes the microphone (the session says so as it publishes and
        leaves; the window's app starts with none). While none does and nobody else
        listens, the chain only meters: no processing, nothing to the AudioSource. Any
        thread; remembered before start."""
        if on:
            self._wake()
        self._publishing = bool(on)
        if on and self._output is not None:
            self._output.poke()  # a dozing output opens now, before the room's voices come
        chain = self._chain
        if chain is not None:
            if on:
                with self._source_lock:
                    if self._source is None:
                        self._source = self._new_source(chain)
            chain.set_publishing(self._publishing)
        if not on:
            self._drop_source()
            self._maybe_rest()

    # -- resting (console/engine/rest.py) -------------------------------------------------------
    def set_resting(self, wanted: bool) -> None:
        """The window is out of sight (minimised, hidden) or back. Out of sight, and while
        no room takes the microphone, no channel plays and no test, hear-myself or detector
        runs, both devices close and the engine's loops sleep; shown again, they reopen.
        Anything that needs the devices (joining, a channel, a test) wakes them first.
        Any thread; blocks for a device open or close (about 10 ms each)."""
        self._rest_wanted = bool(wanted)
        if wanted:
            self._maybe_rest()
        else:
            self._wake()

    @property
    def resting(self) -> bool:
        rest = self._rest
        return rest is not None and rest.resting

    def _maybe_rest(self) -> None:
        rest = self._rest
        if rest is None or not self._rest_wanted:
            return
        with self._devices_lock:
            if not self._rest_wanted:  # shown again meanwhile (the rest thread's race)
                return
            # A finished mic test (kept for its figure) and the turn detector (watched
            # from a room with an agent on) need nothing while no room takes the microphone.
            test = self._mic_test
            if (self._publishing or self._mixer.channels or self._channels_opening
                    or (test is not None and not test.done) or self._self_monitor is not None
                    or self._mixer.cue_playing):
                return
            rest.rest()

    def _output_may_doze(self) -> bool:
        """The output may close while nothing plays, unless a room takes the microphone:
        there the echo canceller's reference keeps its timeline, and the first words of
        whoever speaks next play at once."""
        return not self._publishing and not self._channels_opening

    def _doze_failed(self, gone: devices.AudioDevice, channels: int) -> None:
        """The output's device went away while it dozed (media loop, which must not wait
        for the device lock: a thread of its own plays elsewhere)."""
        def elsewhere() -> None:
            with self._devices_lock:
                self._play_elsewhere(gone, channels)
        threading.Thread(target=elsewhere, name="output-back", daemon=True).start()

    def _nothing_plays(self) -> None:
        """The output fell silent (a tone, a test's playback, the last channel ended): if
        the window is out of sight, rest now rather than at the next hide. On the media
        loop, which must not wait for the device lock: a thread of its own does it."""
        if self._rest_wanted and self._rest is not None and not self._rest.resting:
            threading.Thread(target=self._maybe_rest, name="rest", daemon=True).start()

    def _wake(self) -> None:
        rest = self._rest
        if rest is not None and rest.resting:
            rest.wake()

    @property
    def mic_gate_open(self) -> bool:
        return self._gate_open

    # -- input gain and test tone -----------------------------------------------------------
    @property
    def input_gain_db(self) -> float:
        return self._input_gain_db

    def set_input_gain_db(self, db: float) -> None:
        """Microphone gain before the APM and the meter (-20..+20 dB, ramped); any thread."""
        self._input_gain_db = clamp_db(db)
        if self._chain is not None:
            self._chain.gain.set_db(self._input_gain_db)

    # -- checking the microphone outside a room --------------------------------------------
    def start_mic_test(self, seconds: float = TEST_SECONDS) -> None:
        """Record ``seconds`` of the microphone as a room would get it (after the gain and
        processing), then play it back once through the output; any thread. Starting
        again restarts it."""
        chain = self.chain
        with self._devices_lock:  # no rest between the waking and the test
            self._wake()
            self.cancel_mic_test()
            self._start_mic_test(chain, MicTest(seconds))

    def _start_mic_test(self, chain: CaptureChain, test: MicTest) -> None:
        def tap(samples: npt.NDArray[np.int16]) -> None:
            if self._mic_test is test and test.frame(samples):
                chain.remove_tap(tap)
                if test.recording is not None:
                    self._mixer.play_cue(test.recording)
                    test.cued = True

        self._mic_test, self._mic_test_tap = test, tap
        chain.add_tap(tap)

    def cancel_mic_test(self) -> None:
        """Stop a recording or its playback; any thread."""
        test, tap = self._mic_test, self._mic_test_tap
        self._mic_test = self._mic_test_tap = None
        if tap is not None and self._chain is not None:
            self._chain.remove_tap(tap)
        if test is not None and test.done and self._mixer.cue_playing:
            self._mixer.stop_cue()

    def mic_test_state(self) -> MicTestState:
        """Where the test is: recording (progress), playing back, or idle; any thread."""
        test = self._mic_test
        if test is None:
            return IDLE_TEST
        if not test.done:
            return MicTestState(Phase.RECORDING, test.progress, test.seconds, math.nan)
        if not test.cued:  # recorded, its playback about to start (the microphone's thread)
            return MicTestState(Phase.PLAYING, 0.0, test.seconds, test.level_dbfs)
        left = self._mixer.cue_remaining
        if left > 0:
            played = 1.0 - left / max(1, int(test.seconds * SAMPLE_RATE))
            return MicTestState(Phase.PLAYING, max(0.0, played), test.seconds,
                                test.level_dbfs)
        return MicTestState(Phase.IDLE, 1.0, test.seconds, test.level_dbfs)

    def set_hear_myself(self, on: bool) -> None:
        """Play the microphone as a room would get it on the output, live (headphones!);
        any thread."""
        chain = self.chain
        monitor, tap = self._self_monitor, self._self_tap
        if on and monitor is None:
            self._wake()
            monitor = SelfMonitor()
            self._self_tap = tap = lambda x: monitor.push(x, time.monotonic())
            self._self_monitor = monitor
            self._media.run(self._add_self_channel(monitor))
            chain.add_tap(tap)
        elif not on and monitor is not None:
            self._self_monitor = self._self_tap = None
            if tap is not None:
                chain.remove_tap(tap)
            self._media.run(self._close_channel(SELF_KEY))
            self._maybe_rest()

    async def _add_self_channel(self, monitor: SelfMonitor) -> None:
        self._mixer.remove(SELF_KEY)
        self._mixer.add(Channel(SELF_KEY, monitor, label="you (hear myself)"))

    @property
    def hearing_myself(self) -> bool:
        return self._self_monitor is not None

    def hear_myself_latency_ms(self) -> float:
        """Mouth to ear while hearing oneself: the capture device, one frame of the chain,
        the channel's queue, the output ring and the output device (nan when off)."""
        channel = self._mixer.channels.get(SELF_KEY)
        if channel is None or self._chain is None:
            return math.nan
        out = self.output_stats()
        if out.device is None:
            return math.nan
        return (self._chain.stream.latency_s * 1000 + FRAME_MS
                + channel.stats().channel_queue_ms + out.ring_ms + out.device_latency_ms)

    def play_test_tone(self, hz: float = 440.0, dbfs: float = -18.0,
                       seconds: float = 1.0) -> None:
        """Play a tone once through the output mixer (peak ``dbfs``); any thread."""
        with self._devices_lock:  # no rest between the waking and the tone
            self._wake()
            self._mixer.play_cue(tone(hz, dbfs, seconds))

    @property
    def test_tone_playing(self) -> bool:
        return self._mixer.cue_playing

    # -- reading ------------------------------------------------------------------------------
    def mic_meters(self) -> MicMeters:
        """What the microphone hears (after the input gain, before processing) and what is
        sent (after echo cancellation, noise suppression, AGC; before the push-to-talk
        gate); any thread. Both read silence and stay still while no input delivers."""
        return self._chain.meters() if self._chain is not None else IDLE_METERS

    def mic_meter(self) -> MeterSnapshot:
        """The "sent" meter of :meth:`mic_meters` alone."""
        return self._chain.meter.snapshot() if self._chain is not None else SILENT

    def reset_mic_clip(self) -> None:
        """Clear both microphone meters' clip latches."""
        if self._chain is not None:
            self._chain.reset_clip()

    def mic_state(self) -> MicState:
        """Which input is open and live, which chosen one is missing and what the engine
        did about it (fell back, waiting); any thread, a few microseconds."""
        keeper = self._keeper
        return keeper.state(time.monotonic()) if keeper is not None else MIC_OFF

    def capture_latencies_ms(self) -> npt.NDArray[np.float64]:
        """Every kept frame latency of the microphone path (ready -> AudioSource), in ms."""
        if self._chain is None:
            return np.zeros(0)
        return self._chain.latency.values() * 1000.0

    def capture_stats(self, latency: bool = True) -> CaptureStats:
        """The microphone path's counters; before start, :data:`IDLE_CAPTURE`."""
        return self._chain.stats(latency) if self._chain is not None else IDLE_CAPTURE


def idle_output_stats() -> OutputStats:
    """What the playback path reports while the engine is not running."""
    return OutputStats(device=None, device_channels=0, ring_ms=0.0,
                       device_latency_ms=0.0, underruns=0, overruns=0, frames_played=0,
                       frames_mixed=0, frames_limited=0, samples_clipped=0, device_error=None)
