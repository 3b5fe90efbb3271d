"""SourceFeed: frames into a real livekit AudioSource through the FFI, one in flight at a time.

Real parts: livekit's native AudioSource, its bounded queue (which answers late when full)
and its FFI event thread; no sound card is needed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from livekit import rtc
from livekit.rtc._ffi_client import FfiClient

from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.media_thread import MediaThread
from console.engine.source_feed import SourceFeed
from tests.audio_helpers import wait_until


@pytest.fixture
def media() -> Iterator[MediaThread]:
    thread = MediaThread("feed-test")
    thread.start()
    yield thread
    thread.close()


def _subscribers() -> int:
    return len(FfiClient.instance.queue._subscribers)


def _open(media: MediaThread, queue_ms: int) -> tuple[rtc.AudioSource, SourceFeed, list[float]]:
    woken: list[float] = []

    async def make() -> tuple[rtc.AudioSource, SourceFeed]:
        loop = asyncio.get_running_loop()
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=queue_ms, loop=loop)

        def on_ready() -> None:
            assert threading.current_thread().name == "feed-test"  # on the loop, never elsewhere
            woken.append(time.monotonic())

        return source, SourceFeed(source, loop, on_ready)

    source, feed = media.run(make())
    return source, feed, woken


def test_frames_paced_in_real_time_are_each_answered_before_the_next(media) -> None:
    before = _subscribers()
    source, feed, woken = _open(media, queue_ms=30)
    refused = 0
    queued = []
    for i in range(60):
        if feed.claim():
            feed.send(np.full(FRAME, i, dtype=np.int16))
            queued.append(feed.queued_duration)
        else:
            refused += 1
        time.sleep(0.01)
    assert wait_until(feed.claim, 1.0)
    feed.release()
    assert refused <= 2, refused  # livekit answers within a frame while its queue has room
    assert feed.sent == 60 - refused and feed.errors == 0
    # What livekit holds, as AudioSource.queued_duration estimates it: a frame or two.
    assert 0.005 <= float(np.median(queued)) <= 0.03, queued
    assert len(woken) <= refused  # the loop is woken only for a frame that had to wait
    assert _subscribers() == before + 1
    feed.close()
    feed.close()
    assert _subscribers() == before
    media.run(source.aclose())


def test_a_frame_that_waits_for_a_full_queue_is_woken_for_on_the_loop(media) -> None:
    """livekit's queue takes 20 ms; 30 frames offered at once go out at its real-time pace,
    each refused one waking the loop when the one before is answered."""
    source, feed, woken = _open(media, queue_ms=20)
    t0 = time.monotonic()
    sent = 0
    waits = 0
    while sent < 30 and time.monotonic() - t0 < 5.0:
        if feed.claim():
            feed.send(np.zeros(FRAME, dtype=np.int16))
            sent += 1
        else:
            seen = len(woken)
            waits += 1
            assert wait_until(lambda n=seen: len(woken) > n, 1.0, step=0.001), "not woken"
    elapsed = time.monotonic() - t0
    assert sent == 30 and feed.errors == 0
    assert waits >= 10 and len(woken) == waits, (waits, len(woken))
    # 300 ms of audio through a 20 ms queue drains in real time, not at once.
    assert elapsed >= 0.2, elapsed
    feed.close()
    media.run(source.aclose())


def test_a_closed_source_is_counted_and_never_holds_the_feed(media) -> None:
    source, feed, _ = _open(media, queue_ms=30)
    media.run(source.aclose())
    for _ in range(3):
        assert wait_until(feed.claim, 1.0)
        feed.send(np.zeros(FRAME, dtype=np.int16))
    assert wait_until(feed.claim, 1.0)  # a disposed source answers nothing: not waited for
    feed.release()
    assert feed.sent == 0
    feed.close()
    assert not feed.claim()  # closed: nothing more goes out


def test_watchers_see_every_frame_as_it_is_handed_over(media) -> None:
    source, feed, _ = _open(media, queue_ms=100)
    seen: list[int] = []
    feed.watchers.append(lambda x: seen.append(int(x[0])))
    for i in range(5):
        assert wait_until(feed.claim, 1.0)
        feed.send(np.full(FRAME, i, dtype=np.int16))
    assert seen == [0, 1, 2, 3, 4]
    feed.close()
    media.run(source.aclose())
