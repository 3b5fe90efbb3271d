"""The floor for ``bench gui``: the console's audio job at its latency, with nothing of ours.

``bench gui`` holds the whole console against livekit's own pieces (``reference_room``).
When ours costs more than a goal allows, the question is how much of it any app on the
SDK must pay to do the job at our block size. This process does only that, in the same
room with the same voices:

- every remote track read through the cheapest receive known here (``TrackTap``, 20 ms
  blocks from the eighth on, as the engine opens them), summed into 10 ms PortAudio output
  blocks (plain numpy: no jitter buffer, meter, gain, limiter or voice detection) that
  also go to the APM as the echo reference;
- the microphone read in 10 ms PortAudio blocks, through the APM with its four stages on,
  and each block handed to the published ``AudioSource`` in one FFI request;
- no window, no session, no counters.

What is left between this and the console is ours to cut. Run as ``python -m
console.bench.floor_room --url URL --participants N --seconds S --mic M --speaker S`` with
the token in ``LKC_FLOOR_TOKEN`` (never on the command line); prints one JSON object.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc

from console.bench.capture import _Cpu
from console.bench.reference_room import serve
from console.engine import devices
from console.engine.apm import ProcessingConfig, build_module
from console.engine.channel import open_track_stream
from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.source_feed import SourceFeed
from console.engine.track_tap import TrackTap
from console.os_thread_name import naming

TOKEN_ENV = "LKC_FLOOR_TOKEN"
SETTLE_S = 2.0   # as bench gui and the reference: the streams run this long first
JOIN_TIMEOUT_S = 60.0


class _BareMix:
    """Each tap's samples in arrival order, one 10 ms frame of each summed per call."""

    def __init__(self) -> None:
        self.taps: list[TrackTap] = []
        self._held: dict[int, npt.NDArray[np.int16]] = {}
        self.frames = 0

    def mix(self) -> npt.NDArray[np.int16]:
        acc = np.zeros(FRAME, dtype=np.int32)
        for i, tap in enumerate(self.taps):
            parts = [block for _, block in tap.drain()]
            held = self._held.get(i)
            if held is not None:
                parts.insert(0, held)
            if not parts:
                continue
            samples = parts[0] if len(parts) == 1 else np.concatenate(parts)
            if len(samples) >= FRAME:
                acc[:FRAME] += samples[:FRAME]
                samples = samples[FRAME:]
            self._held[i] = samples
        self.frames += 1
        return np.clip(acc, -32768, 32767).astype(np.int16)


async def run(url: str, token: str, participants: int, seconds: float,
              mic: str, speaker: str) -> dict[str, Any]:
    """Join, play every remote track, publish the processed microphone; measure CPU."""
    sd = devices.sd()
    loop = asyncio.get_running_loop()
    apm = build_module(ProcessingConfig())
    assert apm is not None
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=1000)
    feed = SourceFeed(source, loop, lambda: None)
    mix = _BareMix()
    counts = {"sent": 0, "busy": 0}

    def play(outdata: npt.NDArray[np.int16], frames: int, _t: Any, _s: Any) -> None:
        block = mix.mix()
        apm.process_reverse_stream(rtc.AudioFrame(block.tobytes(), SAMPLE_RATE, 1, FRAME))
        outdata[:] = block[:, None]

    def record(indata: npt.NDArray[np.int16], frames: int, _t: Any, _s: Any) -> None:
        frame = rtc.AudioFrame(indata[:, 0].tobytes(), SAMPLE_RATE, 1, FRAME)
        apm.process_stream(frame)
        if feed.claim():
            feed.send(np.frombuffer(frame.data, dtype=np.int16))
            counts["sent"] += 1
        else:
            counts["busy"] += 1

    speaker_dev = devices.find_device(speaker, "output")
    out = sd.OutputStream(device=speaker_dev.index, samplerate=SAMPLE_RATE, dtype="int16",
                          channels=2 if speaker_dev.max_output_channels >= 2 else 1,
                          blocksize=FRAME, latency="low",
                          callback=naming("portaudio-out", play))
    inp = sd.InputStream(device=devices.find_device(mic, "input").index, channels=1,
                         samplerate=SAMPLE_RATE, dtype="int16", blocksize=FRAME,
                         latency="low", callback=naming("portaudio-in", record))
    room = rtc.Room()

    def subscribed(track: rtc.Track, *_: Any) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            mix.taps.append(open_track_stream(track))

    room.on("track_subscribed", subscribed)
    try:
        await room.connect(url, token)
        local = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        await room.local_participant.publish_track(
            local, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        out.start()
        inp.start()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while len(mix.taps) < participants and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(SETTLE_S)
        cpu = _Cpu()
        start = dict(counts, mixed=mix.frames)
        await asyncio.sleep(seconds)
        percent, threads = cpu.percent(), cpu.threads()
        return {"tracks": len(mix.taps), "cpu_percent": percent, "threads_percent": threads,
                "frames_mixed_per_s": round((mix.frames - start["mixed"]) / seconds, 1),
                "frames_sent_per_s": round((counts["sent"] - start["sent"]) / seconds, 1),
                "frames_not_sent": counts["busy"] - start["busy"]}
    finally:
        inp.close()
        out.close()
        for tap in mix.taps:
            tap.close()
        feed.close()
        await source.aclose()
        await room.disconnect()


def main(argv: list[str] | None = None) -> int:
    return serve("python -m console.bench.floor_room", TOKEN_ENV, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
