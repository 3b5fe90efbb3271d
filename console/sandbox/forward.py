"""Forwarding one published audio track to its subscribers, with test impairments.

A ``Fanout`` reads the decoded frames of a publisher's track, measures their level (for
active speakers), applies the track's impairment (random loss, a fixed delay, or a pause)
and hands each frame to every subscriber's ``ForwardTrack``, which aiortc encodes again.
A dropped or paused frame leaves a gap in the RTP timestamps, which the receiver sees as
loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

SUBSCRIBER_QUEUE = 25  # frames (20 ms each) a slow subscriber may fall behind


@dataclass
class Impairment:
    """What the sandbox does to one forwarded track (test control)."""

    loss: float = 0.0       # fraction of frames dropped, 0..1
    delay_ms: float = 0.0   # extra delay added to every frame
    paused: bool = False    # forward nothing until resumed

    @property
    def active(self) -> bool:
        return self.loss > 0 or self.delay_ms > 0 or self.paused


class ForwardTrack(MediaStreamTrack):
    """One subscriber's copy of a published track."""

    kind = "audio"

    def __init__(self, track_sid: str) -> None:
        super().__init__()
        self._id = track_sid
        self._queue: asyncio.Queue[AudioFrame | None] = asyncio.Queue(SUBSCRIBER_QUEUE)

    def offer(self, frame: AudioFrame | None) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()  # a slow subscriber loses the oldest frame
        self._queue.put_nowait(frame)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        return frame


class Fanout:
    """Reads a publisher's track once and feeds every subscriber's ForwardTrack."""

    def __init__(self, source: MediaStreamTrack, track_sid: str) -> None:
        self.source = source
        self.track_sid = track_sid
        self.impairment = Impairment()
        self._sinks: set[ForwardTrack] = set()
        self._delayed: deque[tuple[float, AudioFrame]] = deque()
        self._sum_sq = 0.0
        self._count = 0
        self.frames_in = 0
        self.frames_dropped = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name=f"fanout-{self.track_sid}")

    def subscribe(self) -> ForwardTrack:
        sink = ForwardTrack(self.track_sid)
        self._sinks.add(sink)
        return sink

    def unsubscribe(self, sink: ForwardTrack) -> None:
        self._sinks.discard(sink)
        sink.offer(None)

    def take_level(self) -> float:
        """RMS level (linear, full scale 1.0) since the last call."""
        level = math.sqrt(self._sum_sq / self._count) if self._count else 0.0
        self._sum_sq, self._count = 0.0, 0
        return level

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.source.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                self.frames_in += 1
                pcm = frame.to_ndarray().astype(np.float32) / 32768.0
                self._sum_sq += float(np.dot(pcm.ravel(), pcm.ravel()))
                self._count += pcm.size
                self._forward(frame)
        except (MediaStreamError, asyncio.CancelledError):
            pass
        finally:
            for sink in list(self._sinks):
                sink.offer(None)

    def _forward(self, frame: AudioFrame) -> None:
        imp = self.impairment
        now = time.monotonic()
        if imp.paused or (imp.loss > 0 and random.random() < imp.loss):
            self.frames_dropped += 1
            return
        if imp.delay_ms > 0 or self._delayed:
            self._delayed.append((now + imp.delay_ms / 1000.0, frame))
            while self._delayed and self._delayed[0][0] <= now:
                self._send(self._delayed.popleft()[1])
            if self._delayed:
                asyncio.get_running_loop().call_at(
                    asyncio.get_running_loop().time() + (self._delayed[0][0] - now),
                    self._release)
            return
        self._send(frame)

    def _release(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            self._send(self._delayed.popleft()[1])

    def _send(self, frame: AudioFrame) -> None:
        for sink in self._sinks:
            sink.offer(frame)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sink in list(self._sinks):
            sink.offer(None)
        self._sinks.clear()
