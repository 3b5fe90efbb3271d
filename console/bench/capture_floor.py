"""The floor of the microphone path: what its unavoidable parts cost, with nothing else.

``bench capture`` holds our chain against livekit's ``MediaDevices``. When ours costs more,
the question is whether the difference is our code or the block size: ``MediaDevices``
hands PortAudio 100 ms blocks, we read 10 ms to stay 0.004x its latency. This runs the
parts no microphone path can skip (the sound server's record stream, the APM on every
10 ms frame, each frame handed to an ``AudioSource`` through livekit's FFI) and nothing
else: no meters, no echo figures, no ring, no outbox, no watch loop. Run at our read size
and at the reference's, in the same run as both, it shows the floor each block size sets.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc

from console.bench.threads import ThreadShares
from console.engine.apm import ProcessingConfig, build_module
from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.media_thread import MediaThread
from console.engine.pulse_stream import MAX_BLOCKS_PER_READ, PulseStream
from console.engine.source_feed import SourceFeed

REFERENCE_READ_MS = 100  # MediaDevices' PortAudio block


def _read_blocks(read_ms: int) -> int:
    blocks = read_ms // 10
    if blocks < 1 or blocks * 10 != read_ms:
        raise ValueError(f"a read is a whole number of 10 ms frames, not {read_ms} ms")
    return blocks


def run_floor(mic: str, seconds: float, read_ms: int = 10) -> dict[str, Any]:
    """CPU of the bare path on ``mic`` reading ``read_ms`` at a time, over ``seconds``."""
    blocks = _read_blocks(read_ms)
    apm = build_module(ProcessingConfig())  # the four stages, as bench capture runs both
    assert apm is not None
    media = MediaThread("floor-media")
    media.start()
    counts = {"frames": 0, "busy": 0}  # 10 ms frames; reads not sent

    async def make_source() -> tuple[rtc.AudioSource, SourceFeed]:
        source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=1000)
        return source, SourceFeed(source, asyncio.get_running_loop(), lambda: None)

    source, feed = media.run(make_source())

    def callback(data: npt.NDArray[np.int16], frames: int, _t: Any, _s: Any) -> None:
        out = np.empty(frames, dtype=np.int16)
        for k in range(frames // FRAME):
            frame = rtc.AudioFrame(data[k * FRAME:(k + 1) * FRAME, 0].tobytes(),
                                   SAMPLE_RATE, 1, FRAME)
            apm.process_stream(frame)
            out[k * FRAME:(k + 1) * FRAME] = np.frombuffer(frame.data, dtype=np.int16)
        counts["frames"] += frames // FRAME
        # The whole read in one request: the least FFI work a read can cost.
        if feed.claim():
            feed.send(out)
        else:
            counts["busy"] += 1  # the read before is still in flight

    # Beyond the stream's own limit of blocks a read (it is for the app's wake-ups), one
    # block of the whole read.
    whole = blocks > MAX_BLOCKS_PER_READ
    stream = PulseStream("input", mic, samplerate=SAMPLE_RATE, channels=1,
                         blocksize=FRAME * blocks if whole else FRAME, callback=callback,
                         blocks_per_read=None if whole else (lambda: blocks))
    try:
        stream.start()
        time.sleep(0.3)  # settle, as bench capture does
        shares = ThreadShares()
        wall, cpu = time.monotonic(), time.process_time()
        start = dict(counts)
        time.sleep(seconds)
        cpu_pct = 100.0 * (time.process_time() - cpu) / (time.monotonic() - wall)
        threads = shares.percent()
        frames = counts["frames"] - start["frames"]
        busy = counts["busy"] - start["busy"]
    finally:
        stream.close()
        feed.close()
        media.run(source.aclose())
        media.close()
    return {
        "read_ms": read_ms,
        "cpu_percent": round(cpu_pct, 1),
        "cpu_threads_percent": threads,
        "frames": frames,
        "reads_not_sent": busy,
    }
