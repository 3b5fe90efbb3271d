"""``bench idle``: what the console costs while it waits (issue 18).

The whole app in this process as a user leaves it open all day (the window offscreen, the
engine on the sound server's devices as the app opens them, processing on, the meter
visible), its CPU over ``--seconds`` in each state, from /proc (every thread of the
process; the private sound server and the sandbox are other processes):

1. ``shown``: the window shown, not in a room (from ``--settle`` seconds after it opened);
2. ``minimised`` and ``hidden``: the same, the window minimised, then hidden;
3. ``room``: joined to the local sandbox with its scripted agent (the console is the one
   human), the window shown; then, in the same room with the same agent, livekit's own
   pieces doing the audio alone, headless (``room_reference``: ``MediaDevices`` with the
   APM and ``OutputPlayer``, :mod:`console.bench.reference_room`), the floor the room's
   figure is compared with.

Each state also gives the threads' shares (by their names: ``media``, ``pulse-in``, Qt's
main thread ``python``, livekit's ``tokio-rt-worker`` ...): where the time goes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from console.bench import emit
from console.bench.capture import _Cpu
from console.bench.gui import MIC, SPEAKER, _join_then, _open_window, run_reference
from console.bench.threads import livekit_floor

SETTLE_S = 3.0
AGENT = "helper"
GOALS = {"shown": 3.0, "minimised": 1.0, "hidden": 1.0, "room": 15.0}  # % of a core


def run(seconds: float = 20.0, mic: str = MIC, speaker: str = SPEAKER,
        settle: float = SETTLE_S) -> dict[str, Any]:
    from PySide6.QtCore import QTimer

    app, engine, home, controller, window = _open_window(0, mic, speaker, backend="auto")
    result: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], None]]] = [
        ("shown", lambda: None),
        ("minimised", window.showMinimized),
        ("hidden", window.hide),
    ]

    def measure(name: str, then: Callable[[], None]) -> None:
        cpu = _Cpu()

        def done() -> None:
            result[name] = {"cpu_percent": cpu.percent(), "threads_percent": cpu.threads()}
            then()
        QTimer.singleShot(int(seconds * 1000), done)

    def step(i: int) -> None:
        if i == len(steps):
            join()
            return
        name, enter = steps[i]
        enter()
        QTimer.singleShot(int(SETTLE_S * 1000), lambda: measure(name, lambda: step(i + 1)))

    def join() -> None:
        window.showNormal()
        window.join_panel.agent.setText(AGENT)
        _join_then(app, window, controller, result, 1,
                   lambda: QTimer.singleShot(int(SETTLE_S * 1000),
                                             lambda: measure("room", app.quit)))

    QTimer.singleShot(int(settle * 1000), lambda: step(0))
    reference: dict[str, Any] = {"error": "not run: ours did not finish"}
    try:
        app.exec()
        if "room" in result and controller.sandbox is not None:
            # Ours leaves; the agent stays for the reference (it leaves a room left empty
            # only after a while).
            controller.leave().result(15.0)
            engine.stop()
            sandbox = controller.sandbox
            reference = run_reference(sandbox.url, sandbox.room, 1, seconds, mic, speaker)
    finally:
        window.close()
        controller.close()
        engine.stop()
        home.cleanup()
    ours = result.get("room", {}).get("cpu_percent")
    ref = reference.get("cpu_percent")
    return {
        "benchmark": "idle",
        "seconds": seconds,
        "settle_s": settle,
        "note": (f"this process only (window offscreen, engine on the sound server's devices, "
                 f"APM on, microphone {mic}, output {speaker}); the sandbox and its agent "
                 "run in a child process"),
        **result,
        "room_reference": reference,
        "room_ratio_vs_reference": (round(ours / ref, 2) if ours is not None and ref
                                    else None),
        **{f"room_{k}": v for k, v in livekit_floor(
            result.get("room", {}).get("threads_percent"), reference.get("threads_percent"),
            ref).items()},
        "goals": {f"{name}_le_{limit:g}_percent":
                  result.get(name, {}).get("cpu_percent", 1e9) <= limit
                  for name, limit in GOALS.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench idle")
    parser.add_argument("--seconds", type=float, default=20.0, help="per state")
    parser.add_argument("--input", default=MIC, help="the app's microphone")
    parser.add_argument("--output", default=SPEAKER, help="its speaker")
    parser.add_argument("--settle", type=float, default=SETTLE_S,
                        help="seconds from the window's start to the first measurement "
                             "(its queue plot takes 30 s to fill: 35 measures the all-day "
                             "console)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    if args.settle < 0:
        parser.error("--settle must not be negative")
    return emit(run(args.seconds, args.input, args.output, args.settle), args.json)
