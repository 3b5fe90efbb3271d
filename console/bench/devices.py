"""``bench devices``: the sound server's devices as the window follows them (issue 17).

Run: python -m console bench devices [--rounds 10] [--json] [--virtual-devices]

The engine on the ``pulse`` backend and the real window (offscreen, its own 30 Hz display
tick), playing a tone on the default output. Each round plugs a "headset" into the server
(a null sink and a microphone hearing it, loaded with ``pactl`` as a desktop's would appear),
then:

- **appear**: from ``pactl load-module`` being called (the sink, then the microphone) to
  each being in the window's output and input pickers;
- **switch**: the output switched to it during playback (the window's own choice): the
  call's duration, and the longest silence heard across the switch (``GapMeter``: both
  sinks' monitors looped into one sink of its own and recorded; per-millisecond RMS under
  -40 dBFS);
- **gone**: the headset unloaded while it plays: from ``pactl unload-module`` returning to
  the engine's notice shown under the output picker (the default playing in its place).

Then the engine sits idle for ``--idle-seconds``: the device watch's thread CPU and the
process's. On a real desktop this loads and unloads null sinks on the user's own server
for a few seconds; ``--virtual-devices`` keeps it on a private one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

import numpy as np

from console.bench import emit
from console.bench.capture import _pct

SINK = "lkc_bench_headset"
DESCRIPTION = "Bench Headset"
GAP_SINK = "lkc_gap"
QUIET_DB = -40.0


def pactl(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """``pactl`` on the server this process uses (PULSE_SERVER when the card set it), or
    the one ``env`` names."""
    done = subprocess.run(["pactl", *args], env=env, capture_output=True, text=True,
                          timeout=10, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def load(module: str, args: str, env: dict[str, str] | None = None) -> int:
    return int(pactl("load-module", module, args, env=env))


def unload(*modules: int, env: dict[str, str] | None = None) -> None:
    for module in modules:
        pactl("unload-module", str(module), env=env, check=False)


def plug_headset(name: str, description: str) -> tuple[int, ...]:
    """A sink ``name`` and a microphone ``name_mic`` hearing it (modules, mic first)."""
    sink = load("module-null-sink", f"sink_name={name} rate=48000 channels=2 "
                f"sink_properties=\"device.description='{description}'\"")
    mic = load("module-remap-source", f"master={name}.monitor source_name={name}_mic "
               f"channels=1 rate=48000 source_properties=\"device.description="
               f"'{description} Microphone'\"")
    return (mic, sink)


class GapMeter:
    """What plays on ``sinks`` summed on one sink of its own (loopbacks of their monitors)
    and recorded while the block runs: :attr:`silence_ms` is the longest stretch under
    -40 dBFS (per millisecond) once the sound has started, and :attr:`level_db` the median
    level of those milliseconds."""

    def __init__(self, sinks: tuple[str, ...], env: dict[str, str] | None = None) -> None:
        self.sinks = sinks
        self.env = env
        self.silence_ms = -1
        self.level_db = float("nan")
        self._modules: list[int] = []
        self._chunks: list[bytes] = []

    def __enter__(self) -> GapMeter:
        self._modules.append(load("module-null-sink",
                                  f"sink_name={GAP_SINK} rate=48000 channels=1", self.env))
        for sink in self.sinks:
            self._modules.append(load("module-loopback",
                                      f"source={sink}.monitor sink={GAP_SINK} latency_msec=20",
                                      self.env))
        self._proc = subprocess.Popen(
            ["parec", "-d", f"{GAP_SINK}.monitor", "--raw", "--format=s16le", "--rate=48000",
             "--channels=1", "--latency-msec=10"], env=self.env, stdout=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # a new null sink wakes slowly: half a second recorded before the block runs
        end = time.monotonic() + 5.0
        while sum(map(len, self._chunks)) < 48000 and time.monotonic() < end:
            time.sleep(0.02)
        return self

    def _read(self) -> None:
        out = self._proc.stdout
        fd = out.fileno() if out is not None else -1
        while fd >= 0 and (chunk := os.read(fd, 4096)):
            self._chunks.append(chunk)

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)
        self._proc.terminate()
        self._proc.wait(5)
        self._reader.join(5)
        unload(*reversed(self._modules), env=self.env)
        x = np.frombuffer(b"".join(self._chunks), dtype=np.int16).astype(np.float64) / 32768
        n = x.size // 48
        if n == 0:
            return
        db = 10 * np.log10(np.mean(x[:n * 48].reshape(n, 48) ** 2, axis=1) + 1e-12)
        loud = db >= QUIET_DB
        if not loud.any():
            self.silence_ms = n
            return
        started = int(np.argmax(loud))
        longest = run = 0
        for is_loud in loud[started:]:
            run = 0 if is_loud else run + 1
            longest = max(longest, run)
        self.silence_ms = longest
        self.level_db = float(np.median(db[started:][loud[started:]]))


def _thread_cpu_s(thread: threading.Thread | None) -> float:
    if thread is None or thread.ident is None:
        return 0.0
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (OSError, ProcessLookupError):
        return 0.0


def run(rounds: int, idle_seconds: float) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from console import settings
    from console.engine import devices
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from console.session.controller import RoomController
    from console.widgets.main_window import MainWindow

    _app = QApplication.instance() or QApplication([])  # held for the run
    engine = AudioEngine(processing=ProcessingConfig(), backend="pulse")
    engine.start()
    home = tempfile.TemporaryDirectory()
    controller = RoomController(engine)   # never joins: the window as the app shows it
    window = MainWindow(engine, settings.open_store(os.path.join(home.name, "c.ini")),
                        controller=controller)
    window.show()
    output = window.output
    assert output is not None  # a window with a controller has its output panel

    def pump_until(predicate: Any, timeout: float) -> float:
        """Run the Qt loop until ``predicate()``; seconds taken (nan if never)."""
        t0 = time.perf_counter()
        loop = QEventLoop()
        while not predicate():
            if time.perf_counter() - t0 > timeout:
                return float("nan")
            QTimer.singleShot(1, loop.quit)
            loop.exec()
        return time.perf_counter() - t0

    # As desktops do, the server moves the streams of a device that goes away (a private
    # virtual card runs without: its unplug tests want the stream to end)
    rescue = None if "module-rescue-streams" in pactl("list", "short", "modules") \
        else load("module-rescue-streams", "")
    pump_until(lambda: False, 0.5)
    default_out = engine.output_device.name if engine.output_device is not None else ""
    appear, appear_mic, switch, silence, gone = [], [], [], [], []
    try:
        for _ in range(rounds):
            engine.play_test_tone(440.0, -18.0, 6.0)
            t0 = time.perf_counter()
            modules = plug_headset(SINK, DESCRIPTION)
            seen: dict[str, float] = {}

            def listed(t0: float = t0, seen: dict[str, float] = seen) -> bool:
                now = time.perf_counter() - t0
                if SINK in output.picker.names():
                    seen.setdefault("out", now)
                if SINK + "_mic" in window.mic.picker.names():
                    seen.setdefault("in", now)
                return len(seen) == 2

            pump_until(listed, 5.0)
            appear.append(seen.get("out", float("nan")))
            appear_mic.append(seen.get("in", float("nan")))
            # a person takes a moment to pick it
            pump_until(lambda: False, 0.5)
            with GapMeter((default_out, SINK)) as meter:
                t1 = time.perf_counter()
                window.choose_output_device(SINK, remember=False)
                switch.append((time.perf_counter() - t1) * 1000)
                pump_until(lambda: False, 0.2)
            silence.append(meter.silence_ms)
            t2 = time.perf_counter()
            unload(*modules)
            gone.append(pump_until(
                lambda: output.picker.error.plain_text().startswith(DESCRIPTION),
                5.0) + time.perf_counter() - t2)
            pump_until(lambda: engine.output_device is not None
                       and engine.output_device.name == default_out, 2.0)
            # chosen again by the user: the headset is no longer awaited back
            window.choose_output_device(default_out, remember=False)
        watch = devices.pulse_watch()
        watch_thread = watch._thread if watch is not None else None
        c0, w0, p0 = _thread_cpu_s(watch_thread), time.perf_counter(), time.process_time()
        pump_until(lambda: False, idle_seconds)
        wall = time.perf_counter() - w0
        watch_cpu = (_thread_cpu_s(watch_thread) - c0) / wall * 100
        process_cpu = (time.process_time() - p0) / wall * 100
    finally:
        window.close()
        controller.close()
        engine.stop()
        if rescue is not None:
            unload(rescue)
        devices.use_backend("portaudio")
        home.cleanup()

    def ms(values: list[float]) -> dict[str, float]:
        v = [x * 1000 for x in values if not np.isnan(x)]
        return {"n": len(v), "p50": round(statistics.median(v), 1) if v else float("nan"),
                "p95": _pct(v, 95), "max": round(max(v), 1) if v else float("nan")}

    return {
        "rounds": rounds,
        "appear_in_output_picker_ms": ms(appear),
        "appear_in_input_picker_ms": ms(appear_mic),
        "gone_reported_ms": ms(gone),
        "switch_call_ms": {"p50": round(statistics.median(switch), 1),
                           "max": round(max(switch), 1)},
        "switch_silence_heard_ms": {"p50": statistics.median(silence),
                                    "max": max(silence), "all": silence},
        "idle_seconds": idle_seconds,
        "idle_watch_thread_cpu_percent": round(watch_cpu, 3),
        "idle_process_cpu_percent": round(process_cpu, 1),
        "goals": {"appear_le_500_ms": max(appear) <= 0.5 and max(appear_mic) <= 0.5,
                  "gone_le_500_ms": max(gone) <= 0.5},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench devices")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.idle_seconds < 1:
        parser.error("--rounds and --idle-seconds must be at least 1")
    return emit(run(args.rounds, args.idle_seconds), args.json)
