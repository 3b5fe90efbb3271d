"""``bench sandbox``: join time, time to first audio and server CPU with N real SDK clients.

The sandbox runs as its own process (``livekit-console sandbox --voices 0``), so its CPU is
read from /proc apart from the clients'. The clients join one after another (each join
timed), each publishes a distinct tone, and the first one listens: the time from a client's
``publish_track`` to the first audible frame of it at the listener is its time to first
audio. Then the audio flows for ``--seconds`` and the server's CPU is measured over that
time. By default only the listener subscribes (N-1 forwarded streams, like a console among
agents); ``--mesh`` makes everyone hear everyone (N x (N-1) streams), which on a 2-core
machine mostly measures the N SDK clients decoding in this one process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import socket
import subprocess
import sys
import time
from typing import Any

import numpy as np
from livekit import rtc

from console.bench import emit
from console.bench.capture import _Cpu, _pct
from console.sandbox.voices import make_token
from console.signals import FRAME, SAMPLE_RATE, tone

AUDIBLE = 10 ** (-40 / 20) * 32768   # a frame with a sample this loud is audio
TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def start_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "sandbox", "--port", str(port), "--voices", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the sandbox exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the sandbox did not start within 30 s")


class Client:
    def __init__(self, index: int, subscribe: bool) -> None:
        self.subscribe = subscribe
        self.identity = f"bench-{index}"
        self.hz = 300.0 + 70.0 * index
        self.room = rtc.Room()
        self.source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
        self.track = rtc.LocalAudioTrack.create_audio_track("mic", self.source)
        self.frames: dict[str, int] = {}
        self.first_audio: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.room.on("track_subscribed", self._on_track)

    def _on_track(self, track: rtc.Track, pub: Any, participant: rtc.RemoteParticipant) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(
            self._listen(participant.identity, track)))

    async def _listen(self, who: str, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        try:
            async for event in stream:
                self.frames[who] = self.frames.get(who, 0) + 1
                if who not in self.first_audio:
                    data = np.frombuffer(event.frame.data, dtype=np.int16)
                    if data.size and int(np.abs(data).max()) >= AUDIBLE:
                        self.first_audio[who] = time.monotonic()
        finally:
            await stream.aclose()

    async def join(self, url: str) -> float:
        start = time.monotonic()
        await self.room.connect(url, make_token(self.identity, "bench"),
                                rtc.RoomOptions(auto_subscribe=self.subscribe,
                                                single_peer_connection=False))
        return time.monotonic() - start

    async def publish(self) -> float:
        start = time.monotonic()
        await self.room.local_participant.publish_track(
            self.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        self._tasks.append(asyncio.get_running_loop().create_task(self._send()))
        return start

    async def _send(self) -> None:
        pos = 0
        while True:
            x = tone(pos, FRAME, self.hz, -20.0)
            pos += FRAME
            await self.source.capture_frame(rtc.AudioFrame(x.tobytes(), SAMPLE_RATE, 1, FRAME))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.room.disconnect()
        with contextlib.suppress(Exception):
            await self.source.aclose()


async def _measure(url: str, participants: int, seconds: float, pid: int,
                   mesh: bool) -> dict[str, Any]:
    clients = [Client(i, subscribe=mesh or i == 0) for i in range(participants)]
    joins: list[float] = []
    first_audio: list[float] = []
    try:
        listener = clients[0]
        joins.append(await clients[0].join(url))
        await clients[0].publish()
        for client in clients[1:]:
            joins.append(await client.join(url))
            sent = await client.publish()
            deadline = time.monotonic() + 10
            while client.identity not in listener.first_audio and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            got = listener.first_audio.get(client.identity)
            first_audio.append((got - sent) if got is not None else math.nan)
        await asyncio.sleep(1.0)  # every subscription settles
        before = {c.identity: dict(c.frames) for c in clients}
        server_cpu0, client_cpu, wall0 = _proc_cpu_s(pid), _Cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        wall = time.monotonic() - wall0
        server_pct = 100.0 * (_proc_cpu_s(pid) - server_cpu0) / wall
        client_pct = client_cpu.percent()
        rates = [(c.frames.get(o.identity, 0) - before[c.identity].get(o.identity, 0)) / wall
                 for c in clients if c.subscribe for o in clients if o is not c]
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    ok = [v for v in first_audio if not math.isnan(v)]
    expected = SAMPLE_RATE / FRAME
    return {
        "join_ms_p50": _pct([j * 1000 for j in joins], 50),
        "join_ms_p95": _pct([j * 1000 for j in joins], 95),
        "join_ms_max": round(max(joins) * 1000, 1),
        "first_audio_ms_p50": _pct([v * 1000 for v in ok], 50),
        "first_audio_ms_p95": _pct([v * 1000 for v in ok], 95),
        "first_audio_missing": len(first_audio) - len(ok),
        "streams": len(rates),
        "streams_flowing": sum(1 for r in rates if r >= 0.9 * expected),
        "frames_per_s_min": round(min(rates), 1) if rates else math.nan,
        "server_cpu_percent": round(server_pct, 1),
        "clients_cpu_percent": client_pct,
    }


def run(participants: int = 10, seconds: float = 20.0, mesh: bool = False) -> dict[str, Any]:
    if participants < 2:
        raise ValueError("at least two participants are needed")
    port = _free_port()
    proc = start_server(port)
    try:
        figures = asyncio.run(_measure(f"ws://127.0.0.1:{port}", participants, seconds,
                                       proc.pid, mesh))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "benchmark": "sandbox",
        "participants": participants,
        "seconds": seconds,
        "subscribers": "everyone (mesh)" if mesh else "participant 0 only",
        "note": ("joins one after another; first audio: publish_track -> first frame above "
                 "-40 dBFS at participant 0; CPU over the steady phase; server CPU is the "
                 "sandbox process's own, clients' is this process (N SDK clients), both "
                 "in % of one core; a stream flows at >= 90 % of 100 frames/s"),
        **figures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench sandbox")
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--mesh", action="store_true", help="everyone subscribes to everyone")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.participants < 2 or args.seconds <= 0:
        parser.error("--participants must be at least 2 and --seconds positive")
    return emit(run(args.participants, args.seconds, args.mesh), args.json)
