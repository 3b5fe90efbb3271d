"""``bench session``: the console joined to the sandbox, as a user hears it.

A helper process (this module with ``--peer``) runs the sandbox and N-1 bots: one sends a
2 ms click every 500 ms and records when each click was handed to ``capture_frame``, the
others send quiet tones. This process runs only the console: the engine (playing on
``lkc_speaker_a``, microphone on ``lkc_mic_b``, published) and a RoomSession. It measures
the connect time, the time from ``connect`` to the first audible frame of a remote
participant, the mouth-to-ear latency of each click (found on ``lkc_mic_a``, the speaker's
monitor; CLOCK_MONOTONIC is shared by both processes), and this process's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import subprocess
import sys
import time
from typing import Any

import numpy as np

from console.bench import emit
from console.bench.capture import _Cpu
from console.bench.output import (
    MicRecorder,
    StallWatch,
    click_figures,
    close_tracks,
    open_track,
    signals,
)
from console.bench.sandbox import _free_port
from console.engine.apm import ProcessingConfig

WARMUP_S = 2.0


# -- the peer process: sandbox + bots -----------------------------------------------------
async def _peer(port: int, bots: int) -> None:
    from livekit import rtc

    from console.sandbox.server import SandboxServer
    from console.sandbox.voices import make_token

    server = SandboxServer(port=port)
    await server.start()
    gens = signals(bots)
    tracks = [await open_track(f"bot-{i}", gen, clicks=i == 0) for i, gen in enumerate(gens)]
    rooms = []
    for i, t in enumerate(tracks):
        room = rtc.Room()
        await room.connect(server.url, make_token(f"bot-{i}", "bench"),
                           rtc.RoomOptions(auto_subscribe=False, single_peer_connection=False))
        await room.local_participant.publish_track(
            t.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        rooms.append(room)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "arm":
            tracks[0].armed = True
        elif line in ("stop", ""):
            tracks[0].armed = False
            break
    print(json.dumps(tracks[0].clicks or []), flush=True)
    for room in rooms:
        with contextlib.suppress(Exception):
            await room.disconnect()
    await close_tracks(tracks)
    await server.stop()


# -- the console side ---------------------------------------------------------------------
def _window_mean(series: list[tuple[float, float]], start: float, end: float) -> float:
    values = [v for t, v in series if start <= t <= end]
    return round(float(np.mean(values)), 1) if values else math.nan


def run(participants: int = 8, seconds: float = 20.0, speaker: str = "lkc_speaker_a",
        monitor_mic: str = "lkc_mic_a", mic: str = "lkc_mic_b") -> dict[str, Any]:
    from console.engine import devices
    from console.engine.audio_engine import AudioEngine
    from console.session.join import JoinSpec, resolve
    from console.session.model import ConnState
    from console.session.room_session import RoomSession

    if participants < 1:
        raise ValueError("at least one participant (the click bot) is needed")
    devices.find_device(speaker, "output")
    devices.find_device(monitor_mic, "input")
    port = _free_port()
    peer = subprocess.Popen([sys.executable, "-m", "console.bench.session", "--peer",
                             "--port", str(port), "--participants", str(participants)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    engine = AudioEngine(input_device=mic, processing=ProcessingConfig(),
                         output_device=speaker)
    recorder = MicRecorder(monitor_mic)
    session: RoomSession | None = None
    try:
        assert peer.stdin is not None and peer.stdout is not None
        if peer.stdout.readline().strip() != "ready":
            raise RuntimeError("the sandbox helper did not start")
        engine.start()
        recorder.start()
        session = RoomSession(engine)
        resolved = resolve(JoinSpec(url=f"ws://127.0.0.1:{port}", api_key="devkey",
                                    api_secret="secret", room="bench", identity="console"))
        resolved = dataclasses.replace(resolved, sandbox=True)  # it speaks /rtc only
        t_join = time.monotonic()
        snap = session.join(resolved)
        connect_s = time.monotonic() - t_join
        if snap.state is not ConnState.CONNECTED:
            raise RuntimeError(f"join failed: {snap.detail}")
        first_audio = math.nan
        while time.monotonic() - t_join < 10:
            if any(c.meter.peak_db > -60 for c in engine.channel_stats()):
                first_audio = time.monotonic() - t_join
                break
            time.sleep(0.005)
        time.sleep(WARMUP_S)
        queue_ms: list[tuple[float, float]] = []   # (t, mean channel queue)
        webrtc_ms: list[tuple[float, float]] = []  # (t, mean NetEq delay)
        with StallWatch() as stalls:
            peer.stdin.write("arm\n")
            peer.stdin.flush()
            t0 = time.monotonic()
            cpu = _Cpu()
            while time.monotonic() < t0 + seconds:
                time.sleep(0.5)
                now = time.monotonic() - t0
                chans = engine.channel_stats()
                if chans:
                    queue_ms.append((now, float(np.mean([c.queue_ms for c in chans]))))
                jb = [t.stats.jitter_buffer_ms for p in session.snapshot().participants
                      for t in p.tracks if not math.isnan(t.stats.jitter_buffer_ms)]
                if jb:
                    webrtc_ms.append((now, float(np.mean(jb))))
            cpu_pct = cpu.percent()
            out = engine.output_stats()
            chans = engine.channel_stats()
            heard = len(session.snapshot().participants)
            peer.stdin.write("stop\n")
            peer.stdin.flush()
        time.sleep(0.5)  # the last click reaches the speaker
        recorder.stop()
        clicks = [tuple(c) for c in json.loads(peer.stdout.readline() or "[]")]
    finally:
        recorder.stop()
        if session is not None:
            with contextlib.suppress(Exception):
                session.leave()
        engine.stop()
        with contextlib.suppress(Exception):
            if peer.stdin is not None:
                peer.stdin.close()
        try:
            peer.wait(15)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()
    figures = click_figures(clicks, recorder, t0, seconds)  # type: ignore[arg-type]
    return {
        "benchmark": "session",
        "participants": participants,
        "seconds": seconds,
        "note": ("the sandbox and the bots run in a helper process; mouth-to-ear: click "
                 "handed to the bot's capture_frame -> onset on the monitor of our speaker "
                 "(Opus both ways through the sandbox, our channel, mixer and output); "
                 "CPU is this process (engine + session, APM on, microphone published)"),
        "connect_ms": round(connect_s * 1000, 1),
        "first_remote_audio_ms": round(first_audio * 1000, 1),
        "participants_seen": heard,
        **{k: v for k, v in figures.items() if k != "track_queue_ms_p50"},
        "underruns": out.underruns + sum(c.underruns for c in chans),
        "underruns_after_host_stall": (out.underruns_after_stall
                                       + sum(c.underruns_after_stall for c in chans)),
        "channel_queue_ms_first_5s": _window_mean(queue_ms, 0, 5),
        "channel_queue_ms_last_5s": _window_mean(queue_ms, seconds - 5, seconds),
        "webrtc_jitter_buffer_ms_first_5s": _window_mean(webrtc_ms, 0, 5),
        "webrtc_jitter_buffer_ms_last_5s": _window_mean(webrtc_ms, seconds - 5, seconds),
        "cpu_percent": cpu_pct,
        **stalls.figures(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench session")
    parser.add_argument("--participants", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer:
        asyncio.run(_peer(args.port, args.participants))
        return 0
    if args.participants < 1 or args.seconds < 1:
        parser.error("--participants and --seconds must be at least 1")
    return emit(run(args.participants, args.seconds), args.json)


if __name__ == "__main__":
    sys.exit(main())
