"""Demo voices: bots that join a room with the real livekit SDK and publish known signals.

Each one is recognisable on a meter: tones at different levels and pitches, speech-like
bursts, one that clips, one that is silent, one that mutes and unmutes every few seconds,
and one that says it is an agent. With more voices than that, the list repeats with other
pitches and identities.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from livekit import api, rtc

from console.sandbox.auth import DEV_KEY, DEV_SECRET
from console.signals import FRAME, SAMPLE_RATE, speech_like, tone

MUTE_EVERY_S = 3.0
SPEECH_LOOP_S = 20.0
FRAMES_PER_SEND = 4    # 40 ms per capture_frame: a quarter of the FFI calls of 10 ms frames
JOINS_AT_ONCE = 4      # more concurrent handshakes starve the server's loop (ICE fails)
LEAVE_TIMEOUT_S = 3.0  # a voice stuck reconnecting must not hold up the shutdown


@dataclass(frozen=True)
class VoiceSpec:
    identity: str
    name: str
    signal: str           # tone | speech | clip | silent
    level_dbfs: float     # tone: peak; speech: RMS while active
    hz: float = 440.0
    mutes: bool = False   # mutes and unmutes every MUTE_EVERY_S
    agent: bool = False
    seed: int = 1


DEMO = (
    VoiceSpec("tone-440", "Tone 440 Hz", "tone", -20.0, 440.0),
    VoiceSpec("speech-loud", "Speech (loud)", "speech", -16.0, seed=1),
    VoiceSpec("clipper", "Clipping", "clip", 0.0, 220.0),
    VoiceSpec("silent", "Silent", "silent", -math.inf),
    VoiceSpec("blinker", "Mutes every 3 s", "tone", -24.0, 660.0, mutes=True),
    VoiceSpec("speech-quiet", "Speech (quiet)", "speech", -38.0, seed=2),
    VoiceSpec("agent", "Voice agent", "speech", -22.0, seed=3, agent=True),
    VoiceSpec("tone-1k-low", "Tone 1 kHz (low)", "tone", -45.0, 1000.0),
)


def voice_specs(count: int) -> list[VoiceSpec]:
    """The first ``count`` demo voices; past the list, tones at other pitches."""
    specs = list(DEMO[:count])
    for i in range(len(DEMO), count):
        hz = 300.0 + 37.0 * i
        specs.append(VoiceSpec(f"tone-{i}", f"Tone {hz:.0f} Hz", "tone", -30.0, hz))
    return specs


def make_token(identity: str, room: str, *, name: str = "", api_key: str = DEV_KEY,
               api_secret: str = DEV_SECRET, agent: bool = False) -> str:
    token = (api.AccessToken(api_key, api_secret).with_identity(identity)
             .with_name(name or identity)
             .with_grants(api.VideoGrants(room_join=True, room=room)))
    if agent:
        token = token.with_kind("agent")
    return token.to_jwt()


class Signal:
    """The samples a voice sends, frame after frame."""

    def __init__(self, spec: VoiceSpec) -> None:
        self.spec = spec
        self._pos = 0
        self._speech: npt.NDArray[np.int16] | None = None
        if spec.signal == "speech":
            self._speech = speech_like(SPEECH_LOOP_S, spec.level_dbfs, spec.seed)

    def next_frame(self) -> npt.NDArray[np.int16]:
        pos, self._pos = self._pos, self._pos + FRAME
        spec = self.spec
        if spec.signal == "tone":
            return tone(pos, FRAME, spec.hz, spec.level_dbfs)
        if spec.signal == "clip":
            # A sine driven 6 dB past full scale: flat tops at the int16 limits.
            x = 2.0 * 32767 * np.sin(2 * np.pi * spec.hz * np.arange(pos, pos + FRAME)
                                     / SAMPLE_RATE)
            return np.clip(x, -32768, 32767).astype(np.int16)
        if spec.signal == "speech" and self._speech is not None:
            idx = (pos + np.arange(FRAME)) % self._speech.shape[0]
            out: npt.NDArray[np.int16] = self._speech[idx]
            return out
        return np.zeros(FRAME, dtype=np.int16)


class Voice:
    """One bot in a room (on the running asyncio loop)."""

    def __init__(self, spec: VoiceSpec) -> None:
        self.spec = spec
        self.room: rtc.Room | None = None  # made in start(), on the loop it will run on
        self.track: rtc.LocalAudioTrack | None = None
        self._source: rtc.AudioSource | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, url: str, room: str, *, api_key: str = DEV_KEY,
                    api_secret: str = DEV_SECRET, real_server: bool = False) -> None:
        """Join and publish; ``real_server``: a livekit-server, which speaks /rtc/v1 (the
        sandbox does not: telling the SDK so spares a refused attempt and its warning)."""
        token = make_token(self.spec.identity, room, name=self.spec.name, api_key=api_key,
                           api_secret=api_secret, agent=self.spec.agent)
        self.room = rtc.Room(loop=asyncio.get_running_loop())
        # Bots listen to no one: forwarding every bot to every other would cost the server
        # N x (N-1) Opus encodes for nothing.
        await self.room.connect(url, token, rtc.RoomOptions(
            auto_subscribe=False, single_peer_connection=None if real_server else False))
        self._source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
        self.track = rtc.LocalAudioTrack.create_audio_track(self.spec.identity, self._source)
        await self.room.local_participant.publish_track(
            self.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._send(), name=f"voice-{self.spec.identity}"))
        if self.spec.mutes:
            self._tasks.append(loop.create_task(self._blink()))

    async def _send(self) -> None:
        signal = Signal(self.spec)
        source = self._source
        assert source is not None
        size = FRAME * FRAMES_PER_SEND
        while True:
            samples = np.concatenate([signal.next_frame() for _ in range(FRAMES_PER_SEND)])
            await source.capture_frame(rtc.AudioFrame(samples.tobytes(), SAMPLE_RATE, 1, size))

    async def _blink(self) -> None:
        muted = False
        while True:
            await asyncio.sleep(MUTE_EVERY_S)
            muted = not muted
            if self.track is not None:
                if muted:
                    self.track.mute()
                else:
                    self.track.unmute()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.room is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.room.disconnect(), LEAVE_TIMEOUT_S)
        if self._source is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._source.aclose(), LEAVE_TIMEOUT_S)


class DemoVoices:
    """``count`` voices joined to one room."""

    def __init__(self, count: int) -> None:
        self.voices = [Voice(spec) for spec in voice_specs(count)]

    async def start(self, url: str, room: str, *, api_key: str = DEV_KEY,
                    api_secret: str = DEV_SECRET, real_server: bool = False) -> None:
        gate = asyncio.Semaphore(JOINS_AT_ONCE)

        async def start(voice: Voice) -> None:
            async with gate:
                await voice.start(url, room, api_key=api_key, api_secret=api_secret,
                                  real_server=real_server)

        await asyncio.gather(*(start(v) for v in self.voices))

    async def stop(self) -> None:
        await asyncio.gather(*(v.stop() for v in self.voices), return_exceptions=True)
