"""Real livekit SDK clients against the sandbox: join, publish a tone, listen to a track."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc

from console.sandbox.voices import make_token
from console.signals import FRAME, SAMPLE_RATE, tone


async def join(url: str, identity: str, room: str = "test", **kwargs: Any) -> rtc.Room:
    client = rtc.Room()
    await client.connect(url, make_token(identity, room, **kwargs),
                         rtc.RoomOptions(single_peer_connection=False))
    return client


class Publisher:
    """A microphone track sending a steady tone (or silence) from a real AudioSource."""

    def __init__(self, hz: float, peak_dbfs: float) -> None:
        self.hz = hz
        self.peak_dbfs = peak_dbfs
        self.source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
        self.track = rtc.LocalAudioTrack.create_audio_track("mic", self.source)
        self._task: asyncio.Task[None] | None = None

    async def publish(self, room: rtc.Room) -> rtc.LocalTrackPublication:
        pub = await room.local_participant.publish_track(
            self.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        self._task = asyncio.get_running_loop().create_task(self._send())
        return pub

    async def _send(self) -> None:
        pos = 0
        while True:
            x = tone(pos, FRAME, self.hz, self.peak_dbfs)
            pos += FRAME
            await self.source.capture_frame(rtc.AudioFrame(x.tobytes(), SAMPLE_RATE, 1, FRAME))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.source.aclose()


class Listener:
    """Everything one client receives from remote audio tracks, by participant identity."""

    def __init__(self, room: rtc.Room) -> None:
        self.room = room
        self.samples: dict[str, list[npt.NDArray[np.int16]]] = {}
        self.subscribed: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        room.on("track_subscribed", self._on_track)
        for participant in room.remote_participants.values():
            for pub in participant.track_publications.values():
                if pub.track is not None and pub.kind == rtc.TrackKind.KIND_AUDIO:
                    self._on_track(pub.track, pub, participant)

    def _on_track(self, track: rtc.Track, pub: Any, participant: rtc.RemoteParticipant) -> None:
        if track.kind != rtc.TrackKind.KIND_AUDIO:
            return
        who = participant.identity
        self.samples[who] = []
        self.subscribed.setdefault(who, asyncio.Event()).set()
        self._tasks.append(asyncio.get_running_loop().create_task(self._read(who, track)))

    async def _read(self, who: str, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        try:
            async for event in stream:
                self.samples.setdefault(who, []).append(
                    np.frombuffer(event.frame.data, dtype=np.int16).copy())
        finally:
            await stream.aclose()

    async def wait_subscribed(self, who: str, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.subscribed.setdefault(who, asyncio.Event()).wait(),
                               timeout)

    def clear(self, who: str) -> None:
        self.samples[who] = []

    async def record(self, who: str, seconds: float, skip: float = 0.5) -> npt.NDArray[np.int16]:
        """What arrives from ``who`` over ``seconds`` after ``skip`` seconds."""
        await asyncio.sleep(skip)
        self.clear(who)
        await asyncio.sleep(seconds)
        frames = self.samples.get(who) or []
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def rms_dbfs(x: npt.NDArray[np.int16]) -> float:
    if x.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return 20 * math.log10(rms / 32768) if rms > 0 else -math.inf


def peak_hz(x: npt.NDArray[np.int16]) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size)))
    return float(np.argmax(spectrum) * SAMPLE_RATE / x.size)


async def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> float:
    """Seconds until ``predicate()`` held; TimeoutError after ``timeout``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)
    return loop.time() - start


def sine_rms_dbfs(peak_dbfs: float) -> float:
    return peak_dbfs - 20 * math.log10(math.sqrt(2))
