"""The voices of ``bench soak``: N demo voices in a room, half of them leaving and coming
back in waves, in a process of their own (in the measured one they would take its GIL).

``python -m console.bench.soak_waves --url URL --room ROOM --voices N --period S``: all
join; then every ``S`` seconds one half leaves (alternating halves) and rejoins ``S / 2``
seconds later, under the same identities, with new tracks, as people do. A JSON line
``{"ready": true}`` once all are in, one per wave, and the totals when stdin closes (all
leave then).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time

from console.sandbox.voices import JOINS_AT_ONCE, Voice, voice_specs


def _say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def _start(voices: list[Voice], url: str, room: str) -> None:
    gate = asyncio.Semaphore(JOINS_AT_ONCE)

    async def one(voice: Voice) -> None:
        async with gate:
            await voice.start(url, room)

    await asyncio.gather(*(one(v) for v in voices))


async def _waves(url: str, room: str, count: int, period: float) -> None:
    specs = voice_specs(count)
    voices = [Voice(spec) for spec in specs]
    await _start(voices, url, room)
    _say(ready=True, voices=count)
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    def stdin_closed() -> None:
        if not closed.done():
            closed.set_result(None)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_stdin() -> None:
        await reader.read()
        stdin_closed()

    watcher = loop.create_task(watch_stdin())
    waves = joins = 0
    try:
        while not closed.done():
            await asyncio.wait([closed], timeout=period / 2)
            if closed.done():
                break
            half = [i for i in range(count) if i % 2 == waves % 2]
            t0 = time.monotonic()
            await asyncio.gather(*(voices[i].stop() for i in half), return_exceptions=True)
            await asyncio.wait([closed], timeout=period / 2)
            if closed.done():
                break
            for i in half:
                voices[i] = Voice(specs[i])
            await _start([voices[i] for i in half], url, room)
            waves += 1
            joins += len(half)
            _say(wave=waves, left_and_came_back=len(half),
                 seconds=round(time.monotonic() - t0, 1))
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await asyncio.gather(*(v.stop() for v in voices), return_exceptions=True)
        _say(waves=waves, rejoins=joins)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.bench.soak_waves")
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--voices", type=int, default=8)
    parser.add_argument("--period", type=float, default=30.0)
    args = parser.parse_args(argv)
    asyncio.run(_waves(args.url, args.room, args.voices, args.period))
    return 0


if __name__ == "__main__":
    sys.exit(main())
