"""TrackTap: a track's audio read off livekit's FFI thread, on real livekit tracks.

Local AudioSource -> LocalAudioTrack stand in for remote tracks (real livekit objects, no
Room); livekit's native side makes the stream exactly as for a remote track.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from livekit import rtc
from livekit.rtc._ffi_client import FfiClient

from console.engine.track_tap import TrackTap
from tests.track_helpers import FRAME, local_track


def counting(start: int, n: int) -> np.ndarray:
    """Every sample says where it is in the stream (mod 30000): order and gaps show."""
    return ((np.arange(start, start + n) % 30000) - 15000).astype(np.int16)


def subscribers() -> int:
    return len(FfiClient.instance.queue._subscribers)


async def collect(tap: TrackTap, seconds: float) -> list[np.ndarray]:
    got: list[np.ndarray] = []
    end = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < end:
        got.extend(block for _, block in tap.drain())
        await asyncio.sleep(0.01)
    return got


@pytest.mark.asyncio
@pytest.mark.parametrize("frame_ms", [10, 20])
async def test_a_tap_delivers_the_tracks_samples_whole_and_in_order(frame_ms: int) -> None:
    before = subscribers()
    lt = await local_track("counter", counting)
    tap = TrackTap(lt.track, capacity=10, frame_ms=frame_ms)
    try:
        blocks = await collect(tap, 1.0)
    finally:
        tap.close()
        await lt.aclose()
    assert len(blocks) >= 800 // frame_ms  # 100 or 50 blocks a second
    block = FRAME * frame_ms // 10
    assert all(b.dtype == np.int16 and b.shape == (block,) for b in blocks)
    pcm = np.concatenate(blocks).astype(np.int32)
    # livekit's source sends silence until the feeder's first frame reaches it (seen on a
    # slow start: a 20 ms block of zeros, then the count from -15000); the count starts after.
    pcm = pcm[np.argmax(pcm != 0):]
    assert pcm[0] == -15000, pcm[:5]
    steps = np.diff(pcm)
    # Consecutive samples count up by one (or wrap at 30000): nothing lost, repeated or
    # reordered between the first counted sample and the last block.
    assert np.all((steps == 1) | (steps == -29999)), np.unique(steps)[:10]
    assert tap.dropped == 0
    assert subscribers() == before  # the router let go of livekit's queue


@pytest.mark.asyncio
async def test_an_undrained_tap_stays_bounded_and_counts_what_it_dropped() -> None:
    lt = await local_track("counter", counting)
    tap = TrackTap(lt.track, capacity=5)
    try:
        await asyncio.sleep(0.6)  # ~60 blocks arrive, nobody drains
        assert tap.queued == 5
        assert tap.dropped >= 40
        kept = np.concatenate([b for _, b in tap.drain()]).astype(np.int32)
        assert np.all(np.diff(kept) % 30000 == 1)  # the newest five, oldest dropped first
        arrived = [t for t, _ in tap.drain()]
        assert arrived == sorted(arrived)
    finally:
        tap.close()
        await lt.aclose()


@pytest.mark.asyncio
async def test_a_closed_tap_gets_nothing_more_and_others_keep_flowing() -> None:
    """Two taps and one of livekit's own AudioStreams share livekit's event queue."""
    before = subscribers()
    a = await local_track("a", counting)
    b = await local_track("b", counting)
    tap_a, tap_b = TrackTap(a.track, capacity=10), TrackTap(b.track, capacity=10)
    sdk_stream = rtc.AudioStream(b.track, sample_rate=48000, num_channels=1)
    sdk_frames = 0

    async def read_sdk() -> None:
        nonlocal sdk_frames
        async for _ in sdk_stream:
            sdk_frames += 1

    reader = asyncio.get_running_loop().create_task(read_sdk())
    try:
        await collect(tap_a, 0.3)
        tap_a.close()
        assert tap_a.ended and tap_a.queued == 0
        got_b = await collect(tap_b, 0.7)
        assert tap_a.queued == 0  # nothing arrives for a closed tap
        assert len(got_b) >= 60
        assert sdk_frames >= 60  # the tap took nothing away from livekit's own stream
    finally:
        tap_b.close()
        await sdk_stream.aclose()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await a.aclose()
        await b.aclose()
    assert subscribers() == before


@pytest.mark.asyncio
async def test_tracks_past_a_big_room_arrive_in_20_ms_blocks() -> None:
    from console.engine.channel import BIG_ROOM_TRACKS, open_track_stream
    from console.engine.track_tap import open_taps

    tracks = [await local_track(f"t{i}", counting) for i in range(BIG_ROOM_TRACKS + 1)]
    taps: list[TrackTap] = []
    try:
        for lt in tracks:
            taps.append(open_track_stream(lt.track))
        assert open_taps() == BIG_ROOM_TRACKS + 1
        assert [t.frame_ms for t in taps] == [10] * BIG_ROOM_TRACKS + [20]
        blocks = await collect(taps[-1], 0.5)
        assert blocks and all(b.shape == (2 * FRAME,) for b in blocks)
    finally:
        for tap in taps:
            tap.close()
        for lt in tracks:
            await lt.aclose()
    assert open_taps() == 0


@pytest.mark.asyncio
async def test_native_buffers_are_dropped_off_the_delivery_thread_and_none_is_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each frame's native buffer is dropped once, by the reaper, not on livekit's thread.

    Dropping lets go of the GIL, which on the delivery thread let the window hold back
    every track's blocks; here both the thread and the completeness are checked on the
    real native handles (a dropped handle cannot be dropped again).
    """
    from livekit.rtc._ffi_client import FfiHandle

    from console.engine import track_tap

    delivered: list[tuple[int, int]] = []  # (handle, thread) as the router hands it over
    dropped: list[tuple[int, int]] = []
    put, dispose = track_tap._reaper.put, FfiHandle.dispose

    def record_put(handles: list[int]) -> None:
        delivered.extend((h, threading.get_ident()) for h in handles)
        put(handles)

    def record_dispose(self: FfiHandle) -> None:
        if not self.disposed:  # __del__ calls it again, to no effect
            dropped.append((self.handle, threading.get_ident()))
        dispose(self)

    monkeypatch.setattr(track_tap, "_dispose", record_put)
    monkeypatch.setattr(FfiHandle, "dispose", record_dispose)
    lt = await local_track("counter", counting)
    tap = TrackTap(lt.track, capacity=10)
    try:
        blocks = await collect(tap, 0.5)
    finally:
        tap.close()
        await lt.aclose()
    for _ in range(50):  # the reaper drops a batch every 20 ms
        if track_tap._reaper.pending == 0 and len(dropped) >= len(delivered):
            break
        await asyncio.sleep(0.02)
    assert len(delivered) >= len(blocks) >= 40
    frames = {h for h, _ in delivered}
    reaped = {h for h, _ in dropped if h in frames}
    assert reaped == frames  # every buffer dropped ...
    assert len(reaped) == len([h for h, _ in dropped if h in frames])  # ... once
    delivery_threads = {t for _, t in delivered}
    assert threading.get_ident() not in delivery_threads  # livekit's thread, not the loop's
    assert not delivery_threads & {t for h, t in dropped if h in frames}
    lib = FfiClient.instance._ffi_lib
    assert not any(lib.livekit_ffi_drop_handle(h) for h in list(frames)[:20])  # really gone


@pytest.mark.asyncio
async def test_the_reaper_outlives_a_handle_livekit_refuses_to_drop() -> None:
    """A refused drop is counted and the reaper goes on dropping the frames after it."""
    from console.engine import track_tap

    reaper = track_tap._reaper
    failed = reaper.failed
    lt = await local_track("counter", counting)
    tap = TrackTap(lt.track, capacity=10)
    try:
        reaper.put([2**62])  # no such handle
        blocks = await collect(tap, 0.5)
    finally:
        tap.close()
        await lt.aclose()
    for _ in range(50):
        if reaper.pending == 0:
            break
        await asyncio.sleep(0.02)
    assert len(blocks) >= 40
    assert reaper.failed == failed + 1
    assert reaper._thread is not None and reaper._thread.is_alive()
    assert reaper.pending == 0  # everything queued after the bad one was dropped too


@pytest.mark.asyncio
async def test_the_reaper_ends_when_nothing_plays_and_comes_back_with_a_track(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a room is left no thread of ours stays (bench soak); the next track's
    buffers start it again and are all dropped."""
    from console.engine import track_tap

    monkeypatch.setattr(track_tap, "REAPER_IDLE_S", 0.2)
    reaper = track_tap._reaper

    def reaper_threads() -> int:
        return sum(t.name == "livekit-buffer-reaper" for t in threading.enumerate())

    for _ in range(2):
        lt = await local_track("counter", counting)
        tap = TrackTap(lt.track, capacity=10)
        try:
            blocks = await collect(tap, 0.3)
            assert reaper_threads() == 1
        finally:
            tap.close()
            await lt.aclose()
        assert len(blocks) >= 20
        for _ in range(400):  # its current wait (up to 5 s) ends first
            if reaper._thread is None and reaper_threads() == 0:
                break
            await asyncio.sleep(0.02)
        assert reaper._thread is None and reaper_threads() == 0
        assert reaper.pending == 0  # nothing was stranded by its ending
