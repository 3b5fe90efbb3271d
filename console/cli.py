"""Command line: the window by default, plus ``devices`` and ``bench`` subcommands."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from console import __version__, logs
from console.redact import register_secret

log = logging.getLogger(__name__)

EPILOG = """\
commands:
  (none)            open the console window
  devices           list audio input and output devices
  sandbox           run the local LiveKit-compatible server with demo voices
  monitor           join a room without a window; print levels and queues once a second
  bench capture     measure the microphone path against livekit's MediaDevices
  bench output      measure the playback path (N participants) against livekit's OutputPlayer
  bench aec         measure echo cancellation (ERLE) against livekit's MediaDevices
  bench meter       measure the level meter's cost per frame
  bench idle        what the console costs while it waits (shown, minimised, hidden, in a room)
  bench soak        minutes in a room, voices coming and going: memory, leftovers, underruns
  bench sandbox     join time, first audio and server CPU with N clients on the sandbox
  bench session     the console joined to the sandbox: connect, first audio, mouth-to-ear
  bench strips      fifty participant strips kept live while the list scrolls
  bench startup     process start to the first painted window
  bench gui         the whole app in a busy room: CPU, display rate, UI lag, underruns
  bench agent       turn latency against the sandbox agent's ground truth; the detectors
  logs              print where the log file is

--virtual-devices starts a private PulseAudio daemon with virtual speakers and loopback
microphones (lkc_speaker_a/b, lkc_mic_a/b/spare) for machines with no sound card.

Every command logs to {log}
(rotated, {mb} MB x {n}; `livekit-console logs` prints where): attach it to a bug report.
Tokens and API secrets never appear in it; they are replaced by [redacted].
"""


BACKEND_CHOICES = ("auto", "pulse", "portaudio")
BACKEND_HELP = ("devices: the sound server's where one answers (auto, the default), "
                "the server's or an error (pulse: PulseAudio or PipeWire), or PortAudio's "
                "(portaudio)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--virtual-devices", action="store_true", default=argparse.SUPPRESS,
        help="run on a private virtual sound card (needs PulseAudio installed)",
    )


def _logging(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """On every parser, before or after the command; a subcommand's value wins."""
    default: object = None if top else argparse.SUPPRESS
    parser.add_argument("--log-level", choices=logs.LEVELS, default=default, type=str.lower,
                        help=f"detail in the log file, and on stderr when given "
                             f"(default: {logs.DEFAULT_LEVEL} in the file, warnings on stderr)")
    parser.add_argument("--log-file", type=Path, metavar="PATH", default=default,
                        help=f"log here instead of {logs.default_path()}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livekit-console", description="A desktop audio console for LiveKit rooms.",
        epilog=EPILOG.format(log=logs.default_path(), mb=logs.MAX_BYTES // 2**20,
                             n=logs.BACKUPS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"livekit-console {__version__}")
    _common(parser)
    _logging(parser, top=True)
    parser.add_argument("--input-device", metavar="D", help="input device: index or name")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                        help=BACKEND_HELP)
    for flag, stage in (("aec", "echo cancellation"), ("ns", "noise suppression"),
                        ("agc", "auto gain control"), ("hpf", "high-pass filter")):
        parser.add_argument(f"--no-{flag}", action="store_true", help=f"start with {stage} off")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    dev = sub.add_parser("devices", help="list audio devices")
    _common(dev)
    dev.add_argument("--json", action="store_true", help="print JSON")
    dev.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                     help=BACKEND_HELP)
    dev.add_argument("--monitors", action="store_true",
                     help="list the server's monitor sources too (what a sink plays)")

    mon = sub.add_parser("monitor", help="join a room headless; print levels every second")
    _common(mon)
    from console.session.monitor import add_arguments as monitor_arguments
    monitor_arguments(mon)

    sbx = sub.add_parser("sandbox", help="run the local LiveKit-compatible server")
    from console.sandbox.options import add_arguments
    add_arguments(sbx)

    bench = sub.add_parser("bench", help="run a benchmark (prints figures)")
    bsub = bench.add_subparsers(dest="bench", metavar="BENCH", required=True)
    cap = bsub.add_parser("capture", help="microphone path latency, drops, toggles, CPU")
    _common(cap)
    cap.add_argument("--seconds", type=float, default=20.0)
    cap.add_argument("--toggles", type=int, default=100)
    cap.add_argument("--input", default="lkc_mic_a", help="microphone that hears --output")
    cap.add_argument("--output", default="lkc_speaker_a", help="speaker playing the tone")
    cap.add_argument("--backend", dest="bench_backend", choices=("portaudio", "pulse"),
                     default="portaudio", help="how our engine opens the devices")
    cap.add_argument("--floor", action="store_true",
                     help="also run the path's bare parts at 10 ms and 100 ms reads")
    cap.add_argument("--json", action="store_true")
    out = bsub.add_parser("output", help="playback latency, drift, underruns, CPU")
    _common(out)
    out.add_argument("--participants", type=int, default=8)
    out.add_argument("--seconds", type=float, default=20.0)
    out.add_argument("--output-latency", default="low", metavar="LOW|HIGH|MS",
                     help="output device buffer (default low)")
    out.add_argument("--backend", dest="bench_backend", choices=("portaudio", "pulse"),
                     default="portaudio", help="how our engine opens the devices")
    out.add_argument("--json", action="store_true")
    aec = bsub.add_parser("aec", help="echo cancellation: ERLE per second, echo delay")
    _common(aec)
    aec.add_argument("--seconds", type=float, default=30.0)
    aec.add_argument("--all-stages", action="store_true",
                     help="also measure with NS, AGC and HPF on (doubles the time)")
    aec.add_argument("--output-latency", default="low", metavar="LOW|HIGH|MS",
                     help="output device buffer (default low)")
    aec.add_argument("--backend", dest="bench_backend", choices=("auto", "portaudio", "pulse"),
                     default="auto", help="how our engine opens the devices (default auto, "
                     "as the app)")
    aec.add_argument("--freeze-every", type=float, default=0.0, metavar="S",
                     help="stop the whole process every S seconds (both runs)")
    aec.add_argument("--freeze-ms", type=float, default=30.0)
    aec.add_argument("--json", action="store_true")
    idl = bsub.add_parser("idle", help="what the console costs while it waits")
    _common(idl)
    idl.add_argument("--seconds", type=float, default=20.0, help="per state")
    idl.add_argument("--settle", type=float, default=3.0,
                     help="seconds from the window's start to the first measurement (35 "
                          "measures the all-day console: its queue plot fills in 30 s)")
    idl.add_argument("--json", action="store_true")
    sok = bsub.add_parser("soak", help="minutes in a room: memory, leftovers, underruns")
    _common(sok)
    sok.add_argument("--minutes", type=float, default=10.0)
    sok.add_argument("--voices", type=int, default=8)
    sok.add_argument("--period", type=float, default=30.0,
                     help="seconds between waves (half the voices leave and come back)")
    sok.add_argument("--json", action="store_true")
    sbb = bsub.add_parser("sandbox", help="sandbox join time, first audio, server CPU")
    sbb.add_argument("--participants", type=int, default=10)
    sbb.add_argument("--seconds", type=float, default=20.0)
    sbb.add_argument("--mesh", action="store_true", help="everyone subscribes to everyone")
    sbb.add_argument("--json", action="store_true")
    ses = bsub.add_parser("session", help="connect time, first audio, mouth-to-ear, CPU")
    _common(ses)
    ses.add_argument("--participants", type=int, default=8)
    ses.add_argument("--seconds", type=float, default=20.0)
    ses.add_argument("--json", action="store_true")
    gui = bsub.add_parser("gui", help="whole-app CPU, display rate, UI lag, underruns")
    _common(gui)
    gui.add_argument("--participants", type=int, default=16)
    gui.add_argument("--seconds", type=float, default=30.0)
    gui.add_argument("--input", default="lkc_mic_b", help="the app's microphone")
    gui.add_argument("--output", default="lkc_speaker_a", help="where the room plays")
    gui.add_argument("--transcript-flood", type=float, default=0.0, metavar="RATE",
                     help="instead: the Transcript tab without, then with, an agent "
                          "sending RATE interim transcript updates a second")
    gui.add_argument("--floor", action="store_true",
                     help="also the bare audio job at our block size, headless, in the "
                          "same room: what any app pays")
    gui.add_argument("--json", action="store_true")
    stp = bsub.add_parser("strips", help="fifty participant strips, live, while scrolling")
    stp.add_argument("--strips", type=int, default=50)
    stp.add_argument("--seconds", type=float, default=10.0)
    stp.add_argument("--json", action="store_true")
    dvs = bsub.add_parser("devices", help="the sound server's devices followed by the "
                                          "window: plug-in, switch, unplug, idle")
    _common(dvs)
    dvs.add_argument("--rounds", type=int, default=10)
    dvs.add_argument("--idle-seconds", type=float, default=10.0)
    dvs.add_argument("--json", action="store_true")
    sta = bsub.add_parser("startup", help="process start to the first painted window")
    sta.add_argument("--runs", type=int, default=5)
    sta.add_argument("--json", action="store_true")
    agt = bsub.add_parser("agent", help="turn latency against the agent's ground truth")
    _common(agt)
    agt.add_argument("--turns", type=int, default=20)
    agt.add_argument("--cpu-rounds", type=int, default=3,
                     help="rounds of the CPU comparison with and without the agent features "
                          "(0: skip it)")
    agt.add_argument("--cpu-seconds", type=float, default=20.0)
    agt.add_argument("--json", action="store_true")
    met = bsub.add_parser("meter", help="level meter cost per frame")
    met.add_argument("--frames", type=int, default=20000)
    met.add_argument("--json", action="store_true")
    sub.add_parser("logs", help="print where the log file is")
    for choices in (sub.choices, bsub.choices):
        for command in choices.values():
            _logging(command)
    return parser


@contextlib.contextmanager
def _virtual_card(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    from console.virtual_audio import VirtualSoundCard

    card = VirtualSoundCard()
    card.start()
    previous = signal.getsignal(signal.SIGTERM)

    def _on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _on_term)
    try:
        card.apply()
        yield
    finally:
        card.stop()
        signal.signal(signal.SIGTERM, previous)


def _print_devices(as_json: bool, backend: str = "auto", monitors: bool = False) -> int:
    from console.engine import devices

    try:
        devices.use_backend(backend, monitors=monitors)
    except devices.DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    found = devices.list_devices()
    if as_json:
        print(json.dumps([d.to_json() for d in found], indent=2))
        return 0
    if not found:
        print("no audio devices (is a sound server running? try --virtual-devices)")
    for d in found:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        where = f"[{d.index:2}] {d.name:<28} {d.hostapi:<6}" if d.backend == "portaudio" \
            else f"{d.label:<40} {d.name:<28}"
        print(f"{mark} {where} in {d.max_input_channels:2}  out {d.max_output_channels:2}  "
              f"{d.default_samplerate:.0f} Hz")
    print(f"< default input, > default output  (from {devices.backend()})")
    devices.use_backend("portaudio")  # the server's watch stops
    return 0


def _run(args: argparse.Namespace) -> int:
    command: str | None = args.command
    if command == "logs":
        print(args.log_path or "no log file (it could not be opened)")
        return 0
    if command == "devices":
        return _print_devices(args.json, args.backend, args.monitors)
    if command == "monitor":
        from console.session.monitor import run as run_monitor
        return run_monitor(args)
    if command == "sandbox":
        from console.sandbox.main import run as run_sandbox
        return run_sandbox(args)
    if command == "bench":
        runner: Callable[[list[str]], int]
        if args.bench == "capture":
            from console.bench.capture import main as runner
            argv = ["--seconds", str(args.seconds), "--toggles", str(args.toggles),
                    "--input", args.input, "--output", args.output,
                    "--backend", args.bench_backend, *(["--floor"] if args.floor else [])]
        elif args.bench == "output":
            from console.bench.output import main as runner
            argv = ["--participants", str(args.participants), "--seconds", str(args.seconds),
                    "--output-latency", args.output_latency, "--backend", args.bench_backend]
        elif args.bench == "aec":
            from console.bench.aec import main as runner
            argv = ["--seconds", str(args.seconds), "--output-latency", args.output_latency,
                    "--backend", args.bench_backend,
                    "--freeze-every", str(args.freeze_every), "--freeze-ms", str(args.freeze_ms),
                    *(["--all-stages"] if args.all_stages else [])]
        elif args.bench == "idle":
            from console.bench.idle import main as runner
            argv = ["--seconds", str(args.seconds), "--settle", str(args.settle)]
        elif args.bench == "soak":
            from console.bench.soak import main as runner
            argv = ["--minutes", str(args.minutes), "--voices", str(args.voices),
                    "--period", str(args.period)]
        elif args.bench == "session":
            from console.bench.session import main as runner
            argv = ["--participants", str(args.participants), "--seconds", str(args.seconds)]
        elif args.bench == "gui":
            from console.bench.gui import main as runner
            argv = ["--participants", str(args.participants), "--seconds", str(args.seconds),
                    "--input", args.input, "--output", args.output,
                    "--transcript-flood", str(args.transcript_flood)]
            argv += ["--floor"] if args.floor else []
        elif args.bench == "strips":
            from console.bench.strips import main as runner
            argv = ["--strips", str(args.strips), "--seconds", str(args.seconds)]
        elif args.bench == "devices":
            from console.bench.devices import main as runner
            argv = ["--rounds", str(args.rounds), "--idle-seconds", str(args.idle_seconds)]
        elif args.bench == "startup":
            from console.bench.startup import main as runner
            argv = ["--runs", str(args.runs)]
        elif args.bench == "agent":
            from console.bench.agent import main as runner
            argv = ["--turns", str(args.turns), "--cpu-rounds", str(args.cpu_rounds),
                    "--cpu-seconds", str(args.cpu_seconds)]
        elif args.bench == "sandbox":
            from console.bench.sandbox import main as runner
            argv = ["--participants", str(args.participants), "--seconds", str(args.seconds),
                    *(["--mesh"] if args.mesh else [])]
        else:
            from console.bench.meter import main as runner
            argv = ["--frames", str(args.frames)]
        return runner([*argv, *(["--json"] if args.json else [])])
    from console.app import run_app

    overrides = {name: False for flag, name in (
        ("no_aec", "echo_cancellation"), ("no_ns", "noise_suppression"),
        ("no_agc", "auto_gain_control"), ("no_hpf", "high_pass_filter"),
    ) if getattr(args, flag)}
    return run_app(input_device=args.input_device, processing_overrides=overrides or None,
                   backend=args.backend)


def _start_logging(args: argparse.Namespace) -> None:
    """The log file and stderr; secrets given on the command line are redacted from now on."""
    for name in ("token", "api_secret"):
        register_secret(getattr(args, name, None))
    register_secret(os.environ.get("LIVEKIT_API_SECRET"))
    # The SDK's lines always go to the file; for monitor, --verbose adds them to stderr.
    verbose = bool(getattr(args, "verbose", False))
    args.log_path = logs.setup(args.log_level, log_file=args.log_file,
                               sdk_on_stderr=args.command != "monitor" or verbose)


def _command_name(args: argparse.Namespace) -> str:
    return " ".join(str(part) for part in (args.command or "window",
                                           getattr(args, "bench", None)) if part)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _start_logging(args)
    from console.engine.devices import DeviceError
    from console.virtual_audio import VirtualAudioError

    command = _command_name(args)
    try:
        with _virtual_card(getattr(args, "virtual_devices", False)):
            if args.command != "logs":  # PortAudio only now: it reads the card's devices
                bench = getattr(args, "bench", "")
                logs.log_startup(command, audio=args.command not in ("sandbox", "bench")
                                 or bench in ("capture", "output", "aec"),
                                 sdk=args.command in (None, "monitor") or bool(bench))
            code = _run(args)
    except (DeviceError, VirtualAudioError) as exc:
        log.info("%s failed: %s", command, exc)
        print(f"livekit-console: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        log.info("%s interrupted", command)
        return 130
    except Exception:
        # Python prints the traceback on stderr (redacted); the file needs it too.
        log.critical("%s crashed", command, exc_info=True, extra={logs.FILE_ONLY: True})
        raise
    log.info("%s exited with status %d", command, code)
    return code
