"""The flooding agent of ``bench gui --transcript-flood``: interim transcript updates at a rate.

A LiveKit agent in a process of its own (in the bench's process it would take the GIL from
the app being measured), joined to the bench's sandbox room with an agent token. It sends
``lk.transcription`` in the full-text shape agents use for interim speech-to-text: every
update is a new short stream (``send_text``) carrying the segment's whole text so far, with
``lk.segment_id`` and ``lk.transcription_final``="false"; the segment's last update says
"true"; a new segment starts every ``--segment-s``. Updates are paced at ``--rate`` a
second with up to ``MAX_IN_FLIGHT`` sends outstanding (one ``send_text`` awaits three data
packets through the FFI, so sending one after the other would cap the rate at the round
trip, not at what the SDK can push).

Run as ``python -m console.bench.transcript_flood --url URL --rate R --seconds S --tag T``
with the token in ``LKC_FLOOD_TOKEN`` (never on the command line). It prints ``{"ready":
true}`` once in the room, floods when a line arrives on stdin, then prints one JSON object
with what it sent and leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

from livekit import rtc

TOKEN_ENV = "LKC_FLOOD_TOKEN"
MAX_IN_FLIGHT = 64
WORDS = ("so", "the", "queue", "ran", "dry", "when", "we", "joined", "again", "and")


def _say(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


async def flood(room: rtc.Room, rate: float, seconds: float, segment_s: float,
                tag: str) -> dict[str, Any]:
    """``rate`` updates a second for ``seconds``; what was sent, failed and achieved."""
    per_segment = max(2, round(rate * segment_s))
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    counts = {"sent": 0, "failed": 0, "finals": 0}
    tasks: set[asyncio.Task[None]] = set()
    first_error: list[str] = []

    async def send(text: str, segment: str, final: bool) -> None:
        try:
            await room.local_participant.send_text(
                text, topic="lk.transcription",
                attributes={"lk.segment_id": segment,
                            "lk.transcription_final": "true" if final else "false"})
            counts["sent"] += 1
            counts["finals"] += final
        except Exception as exc:  # counted and reported: the bench says what was lost
            counts["failed"] += 1
            if not first_error:
                first_error.append(repr(exc))
        finally:
            slots.release()

    cpu0, t0 = time.process_time(), time.monotonic()
    end = t0 + seconds
    n = 0
    segment, words, text = "", 0, ""
    behind_max = 0.0
    while True:
        due = t0 + n / rate
        now = time.monotonic()
        if due >= end:
            break
        if due > now:
            await asyncio.sleep(due - now)
        else:
            behind_max = max(behind_max, now - due)
        await slots.acquire()
        if n % per_segment == 0:
            segment, words = f"{tag}-{n // per_segment}", 0
        words += 1
        final = n % per_segment == per_segment - 1
        text = " ".join(WORDS[i % len(WORDS)] for i in range(words))
        task = asyncio.ensure_future(send(text, segment, final))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    launched_s = time.monotonic() - t0
    if n % per_segment:  # the last segment ends final, as a real one would
        await slots.acquire()
        await send(text, segment, True)
    if tasks:
        await asyncio.wait(set(tasks), timeout=30.0)
    wall = time.monotonic() - t0
    return {"tag": tag, "requested_per_s": rate, "launched": n, "launch_s": round(launched_s, 3),
            "sent": counts["sent"], "failed": counts["failed"], "finals": counts["finals"],
            "segments": -(-n // per_segment), "wall_s": round(wall, 3),
            "achieved_per_s": round(counts["sent"] / wall, 1),
            "behind_max_ms": round(behind_max * 1000.0, 1),
            "cpu_percent": round(100 * (time.process_time() - cpu0) / wall, 1),
            **({"first_error": first_error[0]} if first_error else {})}


async def main_async(url: str, token: str, rate: float, seconds: float, segment_s: float,
                     tag: str) -> None:
    room = rtc.Room()
    await room.connect(url, token)
    try:
        _say({"ready": True})
        loop = asyncio.get_running_loop()
        go = await loop.run_in_executor(None, sys.stdin.readline)
        if not go:  # the bench went away before the flood
            return
        _say(await flood(room, rate, seconds, segment_s, tag))
    finally:
        await room.disconnect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.bench.transcript_flood")
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="updates a second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--segment-s", type=float, default=1.0,
                        help="a new segment this often")
    parser.add_argument("--tag", default="flood", help="segment ids start with it")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token or args.rate <= 0 or args.seconds <= 0:
        parser.error(f"needs {TOKEN_ENV}, and --rate and --seconds above 0")
    asyncio.run(main_async(args.url, token, args.rate, args.seconds, args.segment_s,
                           args.tag))
    return 0


if __name__ == "__main__":
    sys.exit(main())
