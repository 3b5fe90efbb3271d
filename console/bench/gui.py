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
``--floor`` then runs the bare audio job at our block size the same way
(``console.bench.floor_room``): the part of any CPU goal that no code of ours can cut.

``--transcript-flood RATE`` measures instead what a flood of interim transcript updates
costs (issue 16): the window on its Transcript tab (so the pane redraws, as for a user
watching it) for ``--seconds`` without, then ``--seconds`` with, an agent sending RATE
``lk.transcription`` updates a second (``console.bench.transcript_flood``, in a process of
its own: in this one it would take the GIL from the app being measured). Per phase: the
underruns (channels, output ring), UI lag, display rate, CPU, and the updates that reached
the window, its redraws and rewritten lines; then what the sender achieved.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, NamedTuple

import numpy as np

from console import gc_pauses
from console.bench import count_and_seconds_parser, emit, parse_checked
from console.bench.capture import _pct
from console.bench.threads import ThreadShares, livekit_floor
from console.gui_collect import TICK_MS, GuiCollector
from console.redact import redact

if TYPE_CHECKING:
    from PySide6.QtCore import QCoreApplication, QTimer

    from console.engine.audio_engine import AudioEngine
    from console.session.controller import RoomController
    from console.widgets.main_window import MainWindow

MIC = "lkc_mic_b"          # the virtual card's, as the tests start it
SPEAKER = "lkc_speaker_a"
TICK_S = 0.010
STALL_EVERY_S = 2.0
STALL_S = 0.2
FLOOD_SENDERS = 1   # one in its own process sent 400 a second here (issue 16 asks 200)
DRAIN_S = 2.0       # after the flood: what was in flight reaches the window


class _App(NamedTuple):
    app: QCoreApplication
    engine: AudioEngine
    home: tempfile.TemporaryDirectory[str]
    controller: RoomController
    window: MainWindow


def _open_window(participants: int, mic: str, speaker: str,
                 backend: str = "portaudio") -> _App:
    """The app as it starts: offscreen, APM on, a private settings file, the sandbox with
    N voices behind the controller, the window shown; ``backend`` as the engine's."""
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
    engine = AudioEngine(input_device=mic, processing=ProcessingConfig(), backend=backend)
    engine.set_publishing(False)  # as the app: until the room takes the microphone
    engine.start()
    home = tempfile.TemporaryDirectory()
    store = settings.open_store(os.path.join(home.name, "console.ini"))
    store.setValue("audio/output_device", speaker)
    controller = RoomController(engine, sandbox_voices=participants)
    window = MainWindow(engine, store, controller=controller)
    window.resize(1240, 800)
    window.show()
    gc_pauses.settle()  # as the app does once its window is up
    collector = GuiCollector()  # and collects on its GUI thread only, on its light timer
    collector.start()
    collect = QTimer(window)
    collect.setInterval(TICK_MS)
    collect.timeout.connect(collector.tick)
    collect.start()
    return _App(app, engine, home, controller, window)


def _join_then(app: QCoreApplication, window: MainWindow, controller: RoomController,
               result: dict[str, Any], want: int, ready: Callable[[], None], *,
               each_poll: Callable[[], None] | None = None) -> None:
    """Press Join and poll until ``want`` strips show, then call ``ready`` 2 s later (the
    meters and queues settle); after 90 s, or a failed join, say why and quit."""
    from PySide6.QtCore import QTimer

    deadline = time.monotonic() + 90.0
    joined_at = [0.0]

    def wait_joined() -> None:
        if each_poll is not None:
            each_poll()
        strips = len(window.participants.strips)
        if strips >= want:
            result["strips"] = strips
            result["join_to_all_strips_s"] = round(time.monotonic() - joined_at[0], 2)
            QTimer.singleShot(2000, ready)
        elif time.monotonic() > deadline or controller.error:
            result["strips"] = strips
            result["error"] = controller.error or f"only {strips} of {want} strips after 90 s"
            app.quit()
        else:
            QTimer.singleShot(100, wait_joined)

    def join() -> None:
        joined_at[0] = time.monotonic()
        window.join_panel.join_button.click()
        wait_joined()

    QTimer.singleShot(200, join)


def _lag_probe(lags: list[float], measuring: Callable[[], bool]) -> QTimer:
    """A started timer at the window's tick that appends, while ``measuring()``, how late
    each of its ticks came (ms): the UI lag, whatever holds up the Qt thread."""
    from PySide6.QtCore import QTimer

    expected = [0.0]

    def tick() -> None:
        now = time.monotonic()
        if measuring() and expected[0]:
            lags.append(max(0.0, now - expected[0]) * 1000.0)
        expected[0] = now + TICK_S

    timer = QTimer()
    timer.setInterval(int(TICK_S * 1000))
    timer.timeout.connect(tick)
    timer.start()
    return timer


def run(participants: int = 16, seconds: float = 30.0, mic: str = MIC,
        speaker: str = SPEAKER, floor: bool = False) -> dict[str, Any]:
    from PySide6.QtCore import QTimer

    app, engine, home, controller, window = _open_window(participants, mic, speaker)
    result: dict[str, Any] = {}
    ticks: list[float] = []
    lags: list[float] = []
    state: dict[str, Any] = {"phase": "joining"}

    def count_tick() -> None:
        if state["phase"] == "measure":
            ticks.append(time.monotonic())

    window._timer.timeout.connect(count_tick)

    lag_timer = _lag_probe(lags, lambda: state["phase"] == "measure")

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
        state["shares"] = ThreadShares()
        state["under_measure0"] = underruns()[0]
        state["late0"] = late()
        out = engine.output_stats()
        state["output_under0"], state["host0"] = out.underruns, out.host_stalls
        state["played0"] = out.frames_played
        QTimer.singleShot(int(seconds * 1000), start_stalls)

    def start_stalls() -> None:
        wall = time.monotonic() - state["t0"]
        result["cpu_percent"] = round(100 * (time.process_time() - state["cpu0"]) / wall, 1)
        result["cpu_threads_percent"] = state["shares"].percent()
        result["display_fps"] = round(len(ticks) / wall, 1)
        result["ui_lag_ms_p50"] = _pct(lags, 50)
        result["ui_lag_ms_p99"] = _pct(lags, 99)
        result["ui_lag_ms_max"] = round(max(lags), 1) if lags else float("nan")
        quiet = underruns()[0] - state["under_measure0"]
        result["underruns_without_ui_stalls"] = quiet
        result["underruns_per_10s_without_ui_stalls"] = round(10.0 * quiet / wall, 1)
        state["late1"] = late("without", state["late0"])
        # The output ring runs dry when the mixer fails on a block (the device's callback
        # mixes); a channel runs dry when its blocks come late (from the sandbox, or stuck
        # behind the GIL).
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
        app.quit()

    _join_then(app, window, controller, result, participants, start_measure)
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
            if floor:
                result["floor"] = run_floor(sandbox.url, sandbox.room, participants,
                                            seconds, mic, speaker)
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
        **livekit_floor(result.get("cpu_threads_percent"), reference.get("threads_percent"),
                        ref_cpu),
        **_floor_ratios(result.get("floor"), ours_cpu, ref_cpu),
        "goals": {
            "cpu_le_25_percent": result.get("cpu_percent", 1e9) <= 25.0,
            "cpu_le_reference": (ours_cpu is not None and ref_cpu is not None
                                 and ours_cpu <= ref_cpu),
            "display_ge_30_fps": result.get("display_fps", 0.0) >= 29.5,
            "ui_lag_p99_le_8_ms": result.get("ui_lag_ms_p99", 1e9) <= 8.0,
            "zero_underruns_with_ui_stalls": result.get("underruns_during_ui_stalls") == 0,
        },
    }


def _floor_ratios(floor: dict[str, Any] | None, ours: float | None,
                  ref: float | None) -> dict[str, Any]:
    """The floor against the reference (what a goal of ``x`` times it leaves to us) and
    ours against the floor (what is ours to cut); empty without the three figures."""
    cpu = (floor or {}).get("cpu_percent")
    if not cpu or not ours or not ref:
        return {}
    return {"floor_ratio_vs_reference": round(cpu / ref, 2),
            "cpu_ratio_vs_floor": round(ours / cpu, 2)}


def run_reference(url: str, room: str, participants: int, seconds: float, mic: str,
                  speaker: str) -> dict[str, Any]:
    """livekit's pieces in a child process in the same room; its figures, or an error."""
    from console.bench.reference_room import TOKEN_ENV

    return _run_child("reference_room", TOKEN_ENV, "reference", "the reference app", url,
                      room, participants, seconds, mic, speaker)


def run_floor(url: str, room: str, participants: int, seconds: float, mic: str,
              speaker: str) -> dict[str, Any]:
    """The bare audio job at our block size (``floor_room``) in a child process in the same
    room; its figures, or an error."""
    from console.bench.floor_room import TOKEN_ENV

    return _run_child("floor_room", TOKEN_ENV, "floor", "the floor app", url, room,
                      participants, seconds, mic, speaker)


def _run_child(module: str, token_env: str, who: str, what: str, url: str, room: str,
               participants: int, seconds: float, mic: str, speaker: str) -> dict[str, Any]:
    from console.sandbox.voices import make_token

    env = dict(os.environ)
    env[token_env] = make_token(f"{who}-app", room, name=who)
    cmd = [sys.executable, "-m", f"console.bench.{module}", "--url", url,
           "--participants", str(participants), "--seconds", str(seconds),
           "--mic", mic, "--speaker", speaker]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=seconds + 120.0, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"{what} did not finish in time"}
    lines = done.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        figures = None
    if not isinstance(figures, dict):
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return {"error": f"{what} failed: {redact(tail[0])}"}  # the SDK logs tokens
    return figures


def run_flood(participants: int, seconds: float, rate: float, mic: str = MIC,
              speaker: str = SPEAKER) -> dict[str, Any]:
    """The window on its Transcript tab for ``seconds`` without, then ``seconds`` with, an
    agent flooding interim transcript updates at ``rate`` a second: figures per phase."""
    from PySide6.QtCore import QTimer

    app, engine, home, controller, window = _open_window(participants, mic, speaker)
    window.bottom.setCurrentWidget(window.transcript)  # as a user watching it: it redraws
    pane = window.transcript
    result: dict[str, Any] = {}
    phases: dict[str, dict[str, Any]] = {}
    flooders: list[Flooder] = []
    lags: list[float] = []
    ticks: list[float] = []
    ages: list[float] = []   # how old the newest update was when the pane drew it
    state: dict[str, Any] = {"measuring": False, "drawn": 0,
                             "shown": pane.snapshot}

    def display_tick() -> None:  # connected after the window's own poll: runs after it
        if not state["measuring"]:
            return
        now = time.monotonic()
        ticks.append(now)
        snap = pane.snapshot
        if snap is not state["shown"]:
            state["shown"] = snap
            state["drawn"] += 1
            if snap.lines:
                ages.append((now - max(line.updated for line in snap.lines)) * 1000.0)

    window._timer.timeout.connect(display_tick)

    lag_timer = _lag_probe(lags, lambda: bool(state["measuring"]))

    def counters() -> dict[str, float]:
        out = engine.output_stats()
        chans = engine.channel_stats()
        return {"channels": sum(c.underruns for c in chans), "ring": out.underruns,
                "after_host": (out.underruns_after_stall
                               + sum(c.underruns_after_stall for c in chans)),
                "late15": sum(c.blocks_late_15ms for c in chans),
                "late30": sum(c.blocks_late_30ms for c in chans),
                "host": out.host_stalls, "played": out.frames_played,
                "version": pane.snapshot.version, "rewrites": pane.rewrites,
                "cpu": time.process_time(), "t": time.monotonic()}

    def begin(phase: str) -> None:
        for series in (lags, ticks, ages):
            series.clear()
        state.update(phase=phase, start=counters(), drawn=0, shown=pane.snapshot,
                     measuring=True)
        QTimer.singleShot(int(seconds * 1000), end)

    def end() -> None:
        state["measuring"] = False
        a, b = state["start"], counters()
        wall = b["t"] - a["t"]
        frame_ms = np.diff(ticks) * 1000.0 if len(ticks) > 1 else np.array([])
        phases[state["phase"]] = {
            "seconds": round(wall, 2),
            "underruns": int(b["channels"] - a["channels"] + b["ring"] - a["ring"]),
            "underruns_channels": int(b["channels"] - a["channels"]),
            "underruns_output_ring": int(b["ring"] - a["ring"]),
            "of_which_after_host_stalls": int(b["after_host"] - a["after_host"]),
            "host_stalls": int(b["host"] - a["host"]),
            "blocks_late_15ms": int(b["late15"] - a["late15"]),
            "blocks_late_30ms": int(b["late30"] - a["late30"]),
            "output_frames_per_s": round((b["played"] - a["played"]) / wall, 1),
            "ui_lag_ms_p50": _pct(lags, 50),
            "ui_lag_ms_p99": _pct(lags, 99),
            "ui_lag_ms_max": round(max(lags), 1) if lags else math.nan,
            "display_fps": round(len(ticks) / wall, 1),
            "display_frame_ms_p95": _pct(frame_ms, 95),
            "cpu_percent": round(100 * (b["cpu"] - a["cpu"]) / wall, 1),
            # Updates that reached the window: one per interim stream, two per final one
            # (its text, then its mark).
            "transcript_versions_seen": int(b["version"] - a["version"]),
            "transcript_redraws": state["drawn"],
            "transcript_rewritten_lines": int(b["rewrites"] - a["rewrites"]),
            "transcript_shown_age_ms_p50": _pct(ages, 50),
            "transcript_shown_age_ms_p99": _pct(ages, 99),
        }
        if state["phase"] == "without_flood":
            for flooder in flooders:  # go: each one waits for a line
                if flooder.proc.stdin is not None:
                    flooder.proc.stdin.write("go\n")
                    flooder.proc.stdin.flush()
            begin("with_flood")
        else:
            state["version_end"] = pane.snapshot.version
            QTimer.singleShot(int(DRAIN_S * 1000), drained)

    def drained() -> None:
        """What was still in flight when the phase ended has reached the window by now."""
        result["transcript_versions_after_drain"] = (pane.snapshot.version
                                                     - state["start"]["version"])
        app.quit()

    def start_flooding() -> None:
        """Once the voices are in, the flooding agents join too (they are waited for)."""
        sandbox = controller.sandbox
        if (not flooders and len(window.participants.strips) >= participants
                and sandbox is not None and sandbox.url):
            flooders.extend(start_flooders(sandbox.url, sandbox.room, rate, seconds))

    _join_then(app, window, controller, result, participants + FLOOD_SENDERS,
               lambda: begin("without_flood"), each_poll=start_flooding)
    try:
        app.exec()
    finally:
        lag_timer.stop()
        sent = [finish_flooder(flooder, seconds) for flooder in flooders]
        window.close()
        controller.close()
        engine.stop()
        home.cleanup()
    flood = _flood_totals(rate, sent)
    without, with_ = phases.get("without_flood", {}), phases.get("with_flood", {})
    p99 = (without.get("ui_lag_ms_p99", math.nan), with_.get("ui_lag_ms_p99", math.nan))
    return {
        "benchmark": "gui",
        "participants": participants,
        "seconds": seconds,
        "note": (f"this process only (window offscreen on its Transcript tab, engine with APM "
                 f"on, microphone {mic}, output on {speaker}, session); the sandbox with its "
                 "voices and the flooding agent run in child processes. No UI stalls and no "
                 "reference app in this mode"),
        **result,
        "transcript_flood": flood,
        "without_flood": without,
        "with_flood": with_,
        "goals": {
            "flood_rate_reached": flood.get("achieved_per_s", 0.0) >= 0.95 * rate,
            "zero_underruns_with_flood": with_.get("underruns") == 0,
            "ui_lag_p99_with_flood_le_without": p99[1] <= p99[0],
            "ui_lag_p99_le_8_ms_with_flood": p99[1] <= 8.0,
        },
    }


class Flooder(NamedTuple):
    proc: subprocess.Popen[str]
    errors: IO[str]   # its stderr: the last line says why, if it said nothing else


def start_flooders(url: str, room: str, rate: float, seconds: float) -> list[Flooder]:
    """The flooding agents, each in a process of its own, joining ``room``; each floods its
    share of ``rate`` once it reads a line."""
    from console.bench.transcript_flood import TOKEN_ENV
    from console.sandbox.voices import make_token

    procs: list[Flooder] = []
    for index in range(FLOOD_SENDERS):
        identity = f"flood-agent-{index}"
        env = dict(os.environ)
        env[TOKEN_ENV] = make_token(identity, room, name=f"Flood {index}", agent=True)
        errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in finish_flooder)
        proc = subprocess.Popen(
            [sys.executable, "-m", "console.bench.transcript_flood", "--url", url,
             "--rate", str(rate / FLOOD_SENDERS), "--seconds", str(seconds),
             "--tag", identity],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
        procs.append(Flooder(proc, errors))
    return procs


def finish_flooder(flooder: Flooder, seconds: float) -> dict[str, Any]:
    """What a flooder sent (its last line), or why it said nothing; it is gone after."""
    proc = flooder.proc
    try:  # closes its stdin: one that never flooded leaves at once
        out, _ = proc.communicate(timeout=seconds + 60.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    lines = [line for line in (out or "").strip().splitlines() if '"ready"' not in line]
    try:
        figures = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        figures = None
    flooder.errors.seek(0)
    tail = flooder.errors.read().strip().splitlines()[-1:]
    flooder.errors.close()
    if isinstance(figures, dict):
        return figures
    return {"error": "the flooding agent said nothing: "
                     + (tail[0] if tail else f"exit code {proc.returncode}")}


def _flood_totals(rate: float, sent: list[dict[str, Any]]) -> dict[str, Any]:
    """The flooders' figures summed: what was asked, sent and achieved."""
    ok = [s for s in sent if "error" not in s]
    totals: dict[str, Any] = {"requested_per_s": rate, "senders": len(sent)}
    if ok:
        totals.update({
            "updates_sent": sum(s["sent"] for s in ok),
            "of_which_final": sum(s["finals"] for s in ok),
            "failed": sum(s["failed"] for s in ok),
            "segments": sum(s["segments"] for s in ok),
            "achieved_per_s": round(sum(s["achieved_per_s"] for s in ok), 1),
            "sender_behind_max_ms": max(s["behind_max_ms"] for s in ok),
            "sender_cpu_percent": round(sum(s["cpu_percent"] for s in ok), 1),
        })
    errors = [s["error"] for s in sent if "error" in s]
    if errors or not sent:
        totals["error"] = errors[0] if errors else "no flooding agent ran"
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = count_and_seconds_parser("gui", "participants", 16, 30.0)
    parser.add_argument("--input", default=MIC, help="the app's microphone")
    parser.add_argument("--output", default=SPEAKER, help="where the room plays")
    parser.add_argument("--transcript-flood", type=float, default=0.0, metavar="RATE",
                        help="instead: the Transcript tab without, then with, an agent "
                             "sending RATE interim transcript updates a second")
    parser.add_argument("--floor", action="store_true",
                        help="also the bare audio job at our block size, headless, in the "
                             "same room (console.bench.floor_room): what any app pays")
    args = parse_checked(parser, "participants", argv)
    if args.transcript_flood < 0:
        parser.error("--transcript-flood must not be negative")
    if args.transcript_flood:
        return emit(run_flood(args.participants, args.seconds, args.transcript_flood,
                              args.input, args.output), args.json)
    return emit(run(args.participants, args.seconds, args.input, args.output, args.floor),
                args.json)
