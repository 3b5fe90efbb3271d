"""``livekit-console monitor``: the session and the engine without a window.

Once a second it prints one line (JSON with ``--json``): the connection state, the
microphone's peak and RMS, and for each participant their mute, speaking, level, queue
depth, underruns, packet loss, packet rate (a few a second from a silent sender with DTX,
50 without) and concealment. Peaks are the held peak the window's meters draw (instant rise, held
1 s, then falling 20 dB in 1.7 s), not the last 10 ms frame's: a line samples the meter
once a second, so a frame peak would miss a burst between two lines and read the floor
(-100) in a pause while RMS, over 300 ms, still shows the level.

It exits 0 at the end of ``--duration`` (or on Ctrl+C / SIGTERM) and non-zero with a
one-line error when the join fails or the room is lost.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.session.model import ConnState, SessionSnapshot

if TYPE_CHECKING:
    from console.engine.channel import ChannelStats

EXIT_FAILED = 1
FLOOR_DB = -100.0  # the meters' floor (console.engine.meter.FLOOR_DB)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The monitor's options (kept light: the CLI builds its parser without the engine)."""
    join = parser.add_argument_group("joining (default: LIVEKIT_URL / LIVEKIT_API_KEY / "
                                     "LIVEKIT_API_SECRET, else the local sandbox)")
    join.add_argument("--url", metavar="U")
    join.add_argument("--token", metavar="T")
    join.add_argument("--api-key", metavar="K")
    join.add_argument("--api-secret", metavar="S")
    join.add_argument("--room", metavar="R")
    join.add_argument("--identity", metavar="I")
    join.add_argument("--name", metavar="N")
    join.add_argument("--agent", metavar="NAME",
                      help="dispatch this LiveKit agent into the room (in the token made "
                           "here, or through the server's API with a given token)")
    join.add_argument("--voices", type=int, default=4, metavar="N",
                      help="demo voices in the local sandbox (default 4)")
    audio = parser.add_argument_group("audio")
    audio.add_argument("--input-device", metavar="D")
    audio.add_argument("--input-file", metavar="PATH", type=Path,
                       help="a recording (WAV, FLAC, OGG ...) in place of the microphone, "
                            "played in real time through the same processing")
    audio.add_argument("--loop", action="store_true",
                       help="play --input-file again and again (else silence after it)")
    audio.add_argument("--output-device", metavar="D")
    audio.add_argument("--backend", choices=("auto", "pulse", "portaudio"),
                       default="auto",
                       help="devices: the sound server's where one answers (auto, the "
                            "default), the server's (pulse), or PortAudio's")
    for flag, stage in (("aec", "echo cancellation"), ("ns", "noise suppression"),
                        ("agc", "auto gain control"), ("hpf", "high-pass filter")):
        audio.add_argument(f"--no-{flag}", action="store_true", help=f"{stage} off")
    audio.add_argument("--no-publish", action="store_true", help="listen only")
    audio.add_argument("--no-dtx", action="store_true")
    audio.add_argument("--no-red", action="store_true")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="seconds to stay (default: until Ctrl+C)")
    parser.add_argument("--until-turns", type=int, default=None, metavar="N",
                        help="end (exit 0) once N agent turns were answered and their "
                             "replies ended, transcripts included")
    parser.add_argument("--turn-timeout", type=float, default=5.0, metavar="S",
                        help="the user's speech unanswered this long is an unanswered turn "
                             "(default 5)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line (peak_dbfs: the held peak, as the "
                             "window's meters show it; rms_dbfs: over the last 300 ms)")
    parser.add_argument("--verbose", action="store_true",
                        help="also show the livekit SDK's own log lines on stderr")


def _db(value: float) -> float:
    return round(max(value, FLOOR_DB), 1) if not math.isnan(value) else FLOOR_DB


def _known(combine: Callable[[list[float]], float], values: list[float]) -> float | None:
    """``combine`` of the values known (not NaN), rounded; None when none is."""
    known = [v for v in values if not math.isnan(v)]
    return round(combine(known), 1) if known else None


def report(snap: SessionSnapshot, elapsed: float, mic: Any,
           channels: dict[str, ChannelStats], output: Any | None) -> dict[str, Any]:
    """One monitor line as a dict (what ``--json`` prints); ``peak_dbfs`` is the meters'
    held peak (``MeterSnapshot.hold_db``), see the module's docstring."""
    people = []
    for p in snap.participants:
        stats = [channels[k] for k in p.channel_keys if k in channels]
        track_stats = [t.stats for t in p.tracks]
        people.append({
            "identity": p.identity,
            "name": p.name,
            "agent": p.is_agent,
            "muted": p.muted,
            "speaking": p.speaking,
            "peak_dbfs": _db(max((s.meter.hold_db for s in stats), default=FLOOR_DB)),
            "rms_dbfs": _db(max((s.meter.rms_db for s in stats), default=FLOOR_DB)),
            "queue_ms": round(max((s.queue_ms for s in stats), default=0.0), 1),
            "underruns": sum(s.underruns for s in stats),
            "quality": p.quality,
            "loss_percent": round(max((t.loss_percent for t in track_stats), default=0.0), 2),
            # Since the last stats refresh (~2 s); null before the second one.
            "packets_per_s": _known(sum, [t.packets_per_s for t in track_stats]),
            "concealed_percent": _known(max, [t.concealed_percent for t in track_stats]),
            "fec_packets_received": sum(t.fec_packets_received for t in track_stats),
            "agent_state": p.agent_state if p.is_agent else None,
        })
    line: dict[str, Any] = {
        "t": round(elapsed, 1),
        "state": snap.state.value,
        "room": snap.room,
        "mic": {"peak_dbfs": _db(mic.hold_db), "rms_dbfs": _db(mic.rms_db),
                "published": snap.published, "muted": snap.self_muted},
        "participants": people,
    }
    if snap.detail:
        line["detail"] = snap.detail
    if output is not None:
        line["output"] = {"device": output.device, "underruns": output.underruns,
                          "ring_ms": round(output.ring_ms, 1)}
    if not math.isnan(snap.rtt_ms):
        line["rtt_ms"] = round(snap.rtt_ms, 1)
    return line


def human(line: dict[str, Any]) -> str:
    mic = line["mic"]
    parts = [f"{line['t']:6.1f}s {line['state']:<12} mic {mic['rms_dbfs']:6.1f} dBFS"]
    for p in line["participants"]:
        flags = ("M" if p["muted"] else "-") + ("S" if p["speaking"] else "-")
        parts.append(f"{p['identity']}[{flags}] {p['rms_dbfs']:.0f} dB q{p['queue_ms']:.0f}"
                     f" u{p['underruns']}")
    return " | ".join(parts)


def run(args: argparse.Namespace) -> int:
    from console.engine import devices, file_input
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from console.session.agent_feed import AgentFeed
    from console.session.health_log import EngineWatch
    from console.session.join import JoinError, JoinSpec, resolve
    from console.session.local_sandbox import LocalSandbox
    from console.session.room_session import RoomSession
    from console.session.turns import TurnFeed

    spec = JoinSpec.from_env(url=args.url, token=args.token, api_key=args.api_key,
                             api_secret=args.api_secret, room=args.room,
                             identity=args.identity, name=args.name, agent=args.agent)
    try:
        if not spec.uses_sandbox:
            resolved = resolve(spec)  # bad input fails here, before anything starts
    except JoinError as exc:
        print(f"livekit-console monitor: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    processing = ProcessingConfig(echo_cancellation=not args.no_aec,
                                  noise_suppression=not args.no_ns,
                                  auto_gain_control=not args.no_agc,
                                  high_pass_filter=not args.no_hpf)
    # The microphone named on the command line is the one measured: never another instead.
    engine = AudioEngine(input_device=args.input_device, processing=processing,
                         input_fallback=args.input_device is None,
                         backend=getattr(args, "backend", "portaudio"))
    watch = EngineWatch(engine)
    sandbox: LocalSandbox | None = None
    session: RoomSession | None = None
    code = 0
    try:
        try:
            engine.start()
        except devices.DeviceError as exc:
            if not args.no_publish and args.input_file is None:
                print(f"livekit-console monitor: {exc} (sending silence)", file=sys.stderr)
        if args.input_file is not None:
            try:  # a file that cannot be read fails now, before joining
                file_input.read_audio(args.input_file)
            except devices.DeviceError as exc:
                print(f"livekit-console monitor: {exc}", file=sys.stderr)
                return 2
        if args.output_device is not None:
            try:
                engine.start_output(args.output_device)
            except devices.DeviceError as exc:
                print(f"livekit-console monitor: {exc}", file=sys.stderr)
                return 2
        if spec.uses_sandbox:
            try:
                sandbox = LocalSandbox(voices=args.voices, room=spec.room or "demo",
                                       agents=(args.agent,) if args.agent else ()).start()
            except Exception as exc:
                print(f"livekit-console monitor: the local sandbox did not start: "
                      f"{exc or type(exc).__name__}", file=sys.stderr)
                return EXIT_FAILED
            resolved = resolve(spec, sandbox_url=sandbox.url)
        session = RoomSession(engine, publish=not args.no_publish, dtx=not args.no_dtx,
                              red=not args.no_red, turn_timeout_s=args.turn_timeout)
        snap = session.join(resolved)
        if snap.state is ConnState.FAILED:
            print(f"livekit-console monitor: {snap.detail}", file=sys.stderr)
            return EXIT_FAILED
        if snap.agent_dispatch_failed:  # the join stands: say it, and watch the room
            print(f"livekit-console monitor: {snap.agent_dispatch}", file=sys.stderr)
        if args.input_file is not None:
            try:
                _start_recording(args, engine, session)
            except devices.DeviceError as exc:  # read a moment ago: gone or changed since
                print(f"livekit-console monitor: {exc}", file=sys.stderr)
                return 2
        start = time.monotonic()
        feed = AgentFeed(start)
        turn_feed = TurnFeed(start)
        tick = 1
        enough = False  # --until-turns reached: one last line, then exit 0
        while not stop.is_set():
            deadline = start + tick
            if args.duration is not None:
                deadline = min(deadline, start + args.duration)
            while not stop.is_set() and time.monotonic() < deadline:
                if args.until_turns is not None and session.turns().n >= args.until_turns:
                    enough = True
                    break
                stop.wait(max(0.0, min(0.05, deadline - time.monotonic())))
            elapsed = time.monotonic() - start
            watch.poll()
            snap = session.snapshot()
            channels = {c.key: c for c in engine.channel_stats()}
            output = engine.output_stats() if args.output_device is not None else None
            line = {"wall": round(time.time(), 3),
                    **report(snap, elapsed, engine.mic_meter(), channels, output),
                    **feed.fields(snap, session.transcript()),
                    **turn_feed.fields(session.turns())}
            print(json.dumps(line) if args.json else human(line), flush=True)
            tick += 1
            if enough:
                break
            if snap.state is ConnState.DISCONNECTED or snap.state is ConnState.FAILED:
                print(f"livekit-console monitor: {snap.detail or 'disconnected'}",
                      file=sys.stderr)
                code = EXIT_FAILED
                break
            if args.duration is not None and elapsed >= args.duration - 1e-3:
                break
        return code
    finally:
        if session is not None:
            try:
                session.leave()
            except Exception as exc:  # leaving must not hide the result
                print(f"livekit-console monitor: leaving failed: {exc}", file=sys.stderr)
        engine.stop()
        if sandbox is not None:
            sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


AGENT_WAIT_S = 15.0  # how long --input-file waits for the dispatched agent to listen


def _start_recording(args: argparse.Namespace, engine: Any, session: Any) -> None:
    """Start the scripted user once someone can hear it: right after joining, or with
    ``--agent`` once an agent in the room listens (at most :data:`AGENT_WAIT_S`), so its
    first words are not spoken to an empty room."""
    if args.agent:
        deadline = time.monotonic() + AGENT_WAIT_S
        while time.monotonic() < deadline and not any(
                p.agent_state == "listening" for p in session.snapshot().agents):
            time.sleep(0.05)
    engine.set_input_file(args.input_file, loop=args.loop)
