"""What the ``/rtc/v1`` fallback costs a client of the sandbox (docs/BENCHMARKS.md).

The sandbox does not speak single-connection signalling: current SDKs try ``/rtc/v1``
first and fall back to ``/rtc`` on its 404. This joins a sandbox room over and over, in
turns, with the SDK's default (v1 first) and with v1 switched off (straight to ``/rtc``),
and prints the median and worst connect times of each, for the JS SDK in headless Chromium
and for the Python SDK.

    .venv/bin/python -m tests.browser.measure_fallback [ROUNDS]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

from livekit import rtc

from console.sandbox.server import SandboxThread
from console.sandbox.voices import make_token
from tests.browser.room import BrowserClient, missing


def _line(what: str, ms: list[float]) -> str:
    return (f"{what:<34} median {statistics.median(ms):6.1f} ms   "
            f"max {max(ms):6.1f} ms   (n={len(ms)})")


async def _js(url: str, rounds: int) -> dict[bool, list[float]]:
    client = await BrowserClient().start()
    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for i in range(rounds):
            for v1 in (True, False):
                token = make_token(f"js-{i}-{int(v1)}", "probe")
                ms = await client.eval(f"lk.connectOnly({json.dumps(url)}, "
                                       f"{json.dumps(token)}, {json.dumps(v1)})")
                times[v1].append(float(ms))
    finally:
        await client.close()
    return times


async def _python(url: str, rounds: int) -> dict[bool, list[float]]:
    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(rounds):
        for v1 in (True, False):
            room = rtc.Room()
            t0 = time.perf_counter()
            await room.connect(url, make_token(f"py-{i}-{int(v1)}", "probe"),
                               rtc.RoomOptions(auto_subscribe=False,
                                               single_peer_connection=None if v1 else False))
            times[v1].append((time.perf_counter() - t0) * 1000.0)
            await room.disconnect()
    return times


async def main(rounds: int) -> None:
    why = missing()
    if why:
        raise SystemExit(why)
    with SandboxThread(port=0) as sandbox:
        js = await _js(sandbox.url, rounds)
        py = await _python(sandbox.url, rounds)
    for sdk, times in (("JS SDK (Chromium)", js), ("Python SDK", py)):
        print(_line(f"{sdk}, v1 first (fallback)", times[True]))
        print(_line(f"{sdk}, /rtc directly", times[False]))
        lost = statistics.median(times[True]) - statistics.median(times[False])
        print(f"{'':<34} the fallback costs {lost:.1f} ms (difference of the medians)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
