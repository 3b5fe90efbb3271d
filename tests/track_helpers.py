"""Local stand-ins for remote tracks: AudioSource -> LocalAudioTrack, fed in real time.

These are real livekit objects (no Room needed); an ``rtc.AudioStream`` or a ``TrackTap`` on
such a track delivers 10 ms frames exactly as it does for a remote track. ``BlockQueue`` is
a test source for a channel, filled by the test itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import rtc

from console.engine.block_source import Block
from console.engine.format import FRAME
from console.engine.format import SAMPLE_RATE as SR

__all__ = ["FRAME", "SR", "BlockQueue", "LocalTrack", "engine_with_tracks", "local_track",
           "silence"]

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


class BlockQueue:
    """A test source (a ``BlockSource``) that the test fills by hand with :meth:`push`.

    For what no real track can do on demand: a block at an exact moment, a sender whose
    clock runs fast or slow, a burst, a gap.
    """

    def __init__(self, frame_ms: int = 10) -> None:
        self.frame_ms = frame_ms
        self.ended = False
        self.dropped = 0
        self._blocks: list[Block] = []

    @property
    def queued(self) -> int:
        return len(self._blocks)

    def push(self, samples: np.ndarray, arrived: float | None = None) -> None:
        """A block arrives (now, unless ``arrived`` says when)."""
        when = time.monotonic() if arrived is None else arrived
        self._blocks.append((when, np.asarray(samples, dtype=np.int16)))

    def drain(self) -> list[Block]:
        out, self._blocks = self._blocks, []
        return out

    def close(self) -> None:
        self.ended = True
        self._blocks.clear()


def silence(start: int, n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int16)


@contextlib.contextmanager
def engine_with_tracks(**kwargs: Any) -> Iterator[Any]:
    """A started ``AudioEngine(**kwargs)`` whose ``test_tracks`` (local tracks a test
    appends) are closed before it stops."""
    from console.engine.audio_engine import AudioEngine

    eng = AudioEngine(**kwargs)
    eng.start()
    tracks: list[LocalTrack] = []
    eng.test_tracks = tracks  # type: ignore[attr-defined]
    try:
        yield eng
    finally:
        for t in tracks:
            eng.media.run(t.aclose())
        eng.stop()
