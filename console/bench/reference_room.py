"""The reference app for ``bench gui``: livekit's own pieces doing the console's audio job.

Headless, in a process of its own, joined to the same sandbox room: ``MediaDevices``
opens the microphone with echo cancellation, noise suppression, auto gain and the
high-pass filter on and publishes it, and one ``OutputPlayer`` (an ``AudioStream`` per
remote track into livekit's ``AudioMixer``) plays every remote track. No window, no
meters, no graphs: its CPU is what livekit's pieces cost for the audio alone, the floor
that the whole console is compared with. Run as ``python -m console.bench.reference_room
--url URL --participants N --seconds S --mic M --speaker S`` with the token in
``LKC_REFERENCE_TOKEN`` (never on the command line); prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any

from livekit import rtc

from console.bench.capture import _Cpu
from console.engine import devices
from console.redact import redact

TOKEN_ENV = "LKC_REFERENCE_TOKEN"
SETTLE_S = 2.0   # as bench gui: the streams run this long before measuring
JOIN_TIMEOUT_S = 60.0


async def run(url: str, token: str, participants: int, seconds: float,
              mic: str, speaker: str) -> dict[str, Any]:
    """Join, play every remote track, publish the processed microphone; measure CPU."""
    media = rtc.MediaDevices(loop=asyncio.get_running_loop())
    source = media.open_input(input_device=devices.find_device(mic, "input").index,
                              enable_aec=True, noise_suppression=True,
                              high_pass_filter=True, auto_gain_control=True)
    player = media.open_output(output_device=devices.find_device(speaker, "output").index)
    room = rtc.Room()
    tracks: list[rtc.Track] = []
    adding: set[asyncio.Task[None]] = set()

    def subscribed(track: rtc.Track, *_: Any) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            tracks.append(track)
            task = asyncio.ensure_future(player.add_track(track))
            adding.add(task)
            task.add_done_callback(adding.discard)

    room.on("track_subscribed", subscribed)
    try:
        await room.connect(url, token)
        local = rtc.LocalAudioTrack.create_audio_track("microphone", source.source)
        await room.local_participant.publish_track(
            local, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        await player.start()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while len(tracks) < participants and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(SETTLE_S)
        cpu = _Cpu()
        await asyncio.sleep(seconds)
        # OutputPlayer and AudioMixer count nothing (underruns, drops): CPU is all there is.
        return {"tracks": len(tracks), "cpu_percent": cpu.percent(),
                "threads_percent": cpu.threads()}
    finally:
        await player.aclose()
        await source.aclose()
        await room.disconnect()


def serve(prog: str, token_env: str,
          job: Callable[[str, str, int, float, str, str], Coroutine[Any, Any, dict[str, Any]]],
          argv: list[str] | None = None) -> int:
    """The command line of a room child (this one, ``floor_room``): run ``job`` with the
    token from ``token_env``, print its figures (or its error) as one JSON line."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--url", required=True)
    parser.add_argument("--participants", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--mic", required=True)
    parser.add_argument("--speaker", required=True)
    args = parser.parse_args(argv)
    token = os.environ.get(token_env, "")
    if not token:
        parser.error(f"no token in {token_env}")
    try:
        result: dict[str, Any] = asyncio.run(job(args.url, token, args.participants, args.seconds,
                                 args.mic, args.speaker))
    except Exception as exc:  # reported to the parent bench as a figure, not a traceback
        # The SDK's errors may carry the token (a refusing server echoes it): redacted.
        result = {"error": redact(f"{type(exc).__name__}: {exc}")}
    print(json.dumps(result), flush=True)
    return 0 if "error" not in result else 1


def main(argv: list[str] | None = None) -> int:
    return serve("python -m console.bench.reference_room", TOKEN_ENV, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
