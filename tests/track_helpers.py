"""Local stand-ins for remote tracks: AudioSource -> LocalAudioTrack, fed in real time.

These are real livekit objects (no Room needed); an ``rtc.AudioStream`` on such a track
delivers 10 ms frames exactly as it does for a remote track.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from livekit import rtc

SR = 48000
FRAME = 480

Generator = Callable[[int, int], np.ndarray]


@dataclass
class LocalTrack:
    source: rtc.AudioSource
    track: rtc.LocalAudioTrack
    task: asyncio.Task[None]
    generator: list[Generator]

    def set_generator(self, gen: Generator) -> None:
        self.generator[0] = gen

    async def aclose(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.source.aclose()


async def local_track(name: str, gen: Generator, queue_ms: int = 50) -> LocalTrack:
    """Create a track fed by ``gen`` (start sample, count -> int16) at the source's pace."""
    source = rtc.AudioSource(SR, 1, queue_size_ms=queue_ms, loop=asyncio.get_running_loop())
    track = rtc.LocalAudioTrack.create_audio_track(name, source)
    holder = [gen]

    async def feed() -> None:
        pos = 0
        while True:
            pcm = holder[0](pos, FRAME).astype(np.int16)
            await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), SR, 1, FRAME))
            pos += FRAME

    task = asyncio.get_running_loop().create_task(feed(), name=f"feed-{name}")
    return LocalTrack(source, track, task, holder)


def silence(start: int, n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int16)
