"""``bench gui``: the whole app (window offscreen, audio engine, session) in a busy room.

The window joins the local sandbox (a child process) with N demo voices. Then, with the
Qt event loop running as in the app:
- phase 1 (``--seconds``): this process's CPU, the display's tick rate (the meters are
  repainted on the window's 30 Hz tick) and the UI loop's lag (a 10 ms timer's lateness);
- phase 2 (half as long, at least 10 s): the Qt thread is blocked for 200 ms every 2 s,
  and the output and channel underruns are counted: audio runs on its own thread and must
  not notice. Underruns in phase 1 (no stalls) are counted too, per 10 s like phase 2's:
  when both are alike, the machine is short of CPU and the stalls are not to blame. Per
  phase, too, the blocks that reached the channels more than 15 and 30 ms after they were
  due (held back on livekit's side or behind this process's GIL: what underruns come from).
Then the window leaves and its engine stops, and the reference app (livekit's
``MediaDevices`` and ``OutputPlayer``, headless, see ``console.bench.reference_room``)
joins the same room with the same voices for ``--seconds``: the CPU figures side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from console import gc_pauses
from console.bench import count_and_seconds_parser, emit, parse_checked
from console.bench.capture import _pct

MIC = "lkc_mic_b"          # the virtual card's, as the tests start it
SPEAKER = "lkc_speaker_a"
TICK_S = 0.010
STALL_EVERY_S = 2.0
STALL_S = 0.2


def run(participants: int = 16, seconds: float = 30.0, mic: str = MIC,
        speaker: str = SPEAKER) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        os.environ.pop(name, None)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from console import settings
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from console.session.controller import RoomController
    from console.widgets.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    engine = AudioEngine(input_device=mic, processing=ProcessingConfig())
    engine.start()
    home = tempfile.TemporaryDirectory()
    store = settings.open_store(os.path.join(home.name, "console.ini"))
    store.setValue("audio/output_device", speaker)
    controller = RoomController(engine, sandbox_voices=participants)
    window = MainWindow(engine, store, controller=controller)
    window.resize(1240, 800)
    window.show()
    gc_pauses.settle()  # as the app does once its window is up
    result: dict[str, Any] = {}
    ticks: list[float] = []
    lags: list[float] = []
    state: dict[str, Any] = {"expected": 0.0, "phase": "joining"}

    def count_tick() -> None:
        if state["phase"] == "measure":
            ticks.append(time.monotonic())

    window._timer.timeout.connect(count_tick)

    def lag_tick() -> None:
        now = time.monotonic()
        if state["phase"] == "measure" and state["expected"]:
            lags.append(max(0.0, now - state["expected"]) * 1000.0)
        state["expected"] = now + TICK_S

    lag_timer = QTimer()
    lag_timer.setInterval(int(TICK_S * 1000))
    lag_timer.timeout.connect(lag_tick)
    lag_timer.start()

    def underruns() -> tuple[int, int]:
        out = engine.output_stats()
        chans = engine.channel_stats()
        return (out.underruns + sum(c.underruns for c in chans),
                out.underruns_after_stall + sum(c.underruns_after_stall for c in chans))

    def late(phase: str | None = None, before: tuple[int, int] = (0, 0)) -> tuple[int, int]:
        """The channels' late-block counts now; with a phase, what it added is recorded."""
        chans = engine.channel_stats()
        now = (sum(c.blocks_late_15ms for c in chans), sum(c.blocks_late_30ms for c in chans))
        if phase is not None:
            for ms, was, is_ in zip((15, 30), before, now, strict=True):
                result[f"blocks_late_{ms}ms_{phase}_ui_stalls"] = is_ - was
        return now

    def stall() -> None:
        if state["phase"] == "stalls":
            time.sleep(STALL_S)  # the Qt thread freezes; the media thread must not care
            state["stalls"] += 1

    stall_timer = QTimer()
    stall_timer.setInterval(int(STALL_EVERY_S * 1000))
    stall_timer.timeout.connect(stall)

    def start_measure() -> None:
        state["phase"] = "measure"
        state["t0"] = time.monotonic()
        state["cpu0"] = time.process_time()
        state["under_measure0"] = underruns()[0]
        state["late0"] = late()
        out = engine.output_stats()
        state["output_under0"], state["host0"] = out.underruns, out.host_stalls
        state["played0"] = out.frames_played
        QTimer.singleShot(int(seconds * 1000), start_stalls)

    def start_stalls() -> None:
        wall = time.monotonic() - state["t0"]
        result["cpu_percent"] = round(100 * (time.process_time() - state["cpu0"]) / wall, 1)
        result["display_fps"] = round(len(ticks) / wall, 1)
        result["ui_lag_ms_p50"] = _pct(lags, 50)
        result["ui_lag_ms_p99"] = _pct(lags, 99)
        result["ui_lag_ms_max"] = round(max(lags), 1) if lags else float("nan")
        quiet = underruns()[0] - state["under_measure0"]
        result["underruns_without_ui_stalls"] = quiet
        result["underruns_per_10s_without_ui_stalls"] = round(10.0 * quiet / wall, 1)
        state["late1"] = late("without", state["late0"])
        # The output ring runs dry when the media thread falls behind; a channel runs dry
        # when its blocks come late (from the sandbox, or stuck behind the GIL).
        out = engine.output_stats()
        result["of_which_output_ring"] = out.underruns - state["output_under0"]
        # The output device consumed 10 ms frames in real time (the room was playing).
        result["output_frames_per_s"] = round((out.frames_played - state["played0"]) / wall, 1)
        # Gaps of 30 ms or more between the output device's callbacks: this process froze.
        result["host_stalls_without_ui_stalls"] = out.host_stalls - state["host0"]
        state["host1"] = out.host_stalls
        state["t_stalls"] = time.monotonic()
        state["phase"] = "stalls"
        state["stalls"] = 0
        state["under0"] = underruns()
        stall_timer.start()
        QTimer.singleShot(int(max(10.0, seconds / 2) * 1000), finish)

    def finish() -> None:
        stall_timer.stop()
        total, after = underruns()
        result["stalls_injected"] = state["stalls"]
        result["underruns_during_ui_stalls"] = total - state["under0"][0]
        result["underruns_per_10s_during_ui_stalls"] = round(
            10.0 * (total - state["under0"][0]) / (time.monotonic() - state["t_stalls"]), 1)
        result["of_which_after_host_stalls"] = after - state["under0"][1]
        late("during", state["late1"])
        out = engine.output_stats()
        result["host_stalls_during_ui_stalls"] = out.host_stalls - state["host1"]
        result["host_stall_ms_max"] = round(out.host_stall_ms_max, 1)
        # Who ran dry over the whole run (the five worst): one late sender, or everybody?
        worst = sorted(((c.underruns, c.key) for c in engine.channel_stats()
                        if c.underruns), reverse=True)[:5]
        result["underruns_by_channel_worst"] = {key: n for n, key in worst}
        # The output ring's target grows with underruns the host does not explain.
        result["output_target_ms_at_end"] = round(out.target_ms, 1)
        app.quit()

    deadline = time.monotonic() + 90.0

    def wait_joined() -> None:
        strips = len(window.participants.strips)
        if strips >= participants:
            result["strips"] = strips
            result["join_to_all_strips_s"] = round(time.monotonic() - state["join_t"], 2)
            QTimer.singleShot(2000, start_measure)  # let the meters and queues settle
        elif time.monotonic() > deadline or controller.error:
            result["strips"] = strips
            result["error"] = controller.error or f"only {strips} strips after 90 s"
            app.quit()
        else:
            QTimer.singleShot(100, wait_joined)

    def join() -> None:
        state["join_t"] = time.monotonic()
        window.join_panel.join_button.click()
        wait_joined()

    QTimer.singleShot(200, join)
    reference: dict[str, Any] = {"error": "not run: ours did not finish"}
    try:
        app.exec()
        if "error" not in result and controller.sandbox is not None:
            # Ours leaves and its audio stops; the sandbox and its voices stay for the
            # reference (the sandbox child lives as long as the controller's worker).
            controller.leave().result(15.0)
            engine.stop()
            sandbox = controller.sandbox
            reference = run_reference(sandbox.url, sandbox.room, participants, seconds,
                                      mic, speaker)
    finally:
        lag_timer.stop()
        stall_timer.stop()
        window.close()
        controller.close()
        engine.stop()
        home.cleanup()
    ours_cpu = result.get("cpu_percent")
    ref_cpu = reference.get("cpu_percent")
    frame_ms = np.diff(ticks) * 1000.0 if len(ticks) > 1 else np.array([])
    return {
        "benchmark": "gui",
        "participants": participants,
        "seconds": seconds,
        "note": (f"this process only (window offscreen, engine with APM on, microphone {mic}, "
                 f"output on {speaker}, session); the sandbox and its voices run in a child "
                 "process"),
        **result,
        "display_frame_ms_p95": _pct(frame_ms, 95),
        "reference": reference,
        "cpu_ratio_vs_reference": (round(ours_cpu / ref_cpu, 2)
                                   if ours_cpu is not None and ref_cpu else None),
        "goals": {
            "cpu_le_25_percent": result.get("cpu_percent", 1e9) <= 25.0,
            "cpu_le_reference": (ours_cpu is not None and ref_cpu is not None
                                 and ours_cpu <= ref_cpu),
            "display_ge_30_fps": result.get("display_fps", 0.0) >= 29.5,
            "ui_lag_p99_le_8_ms": result.get("ui_lag_ms_p99", 1e9) <= 8.0,
            "zero_underruns_with_ui_stalls": result.get("underruns_during_ui_stalls") == 0,
        },
    }


def run_reference(url: str, room: str, participants: int, seconds: float, mic: str,
                  speaker: str) -> dict[str, Any]:
    """livekit's pieces in a child process in the same room; its figures, or an error."""
    from console.bench.reference_room import TOKEN_ENV
    from console.sandbox.voices import make_token

    env = dict(os.environ)
    env[TOKEN_ENV] = make_token("reference-app", room, name="reference")
    cmd = [sys.executable, "-m", "console.bench.reference_room", "--url", url,
           "--participants", str(participants), "--seconds", str(seconds),
           "--mic", mic, "--speaker", speaker]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=seconds + 120.0, check=False)
    except subprocess.TimeoutExpired:
        return {"error": "the reference app did not finish in time"}
    lines = done.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        figures = None
    if not isinstance(figures, dict):
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return {"error": f"the reference app failed: {tail[0]}"}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = count_and_seconds_parser("gui", "participants", 16, 30.0)
    parser.add_argument("--input", default=MIC, help="the app's microphone")
    parser.add_argument("--output", default=SPEAKER, help="where the room plays")
    args = parse_checked(parser, "participants", argv)
    return emit(run(args.participants, args.seconds, args.input, args.output), args.json)
