"""``bench capture``: our microphone path against livekit's ``MediaDevices.open_input``.

A known tone is played on a speaker and captured from its loopback microphone, first
through our chain (with live APM toggles), then through the reference with its defaults,
in the same process. Latency is counted per 10 ms frame from the moment its last sample was
captured (the arrival time of the PortAudio block that holds it, less the samples after it
in that block) to the call of ``AudioSource.capture_frame``. With 10 ms blocks that is
exactly the callback -> capture_frame time; with the reference's 100 ms blocks it also
counts the wait of the earlier frames of a block for the block to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from console.bench import emit
from console.bench.capture_floor import REFERENCE_READ_MS, run_floor
from console.bench.threads import ThreadShares
from console.engine import devices
from console.engine.apm import ProcessingConfig
from console.engine.format import FRAME, SAMPLE_RATE

TONE_HZ = 997.0
TONE_DBFS = -20.0


@contextmanager
def tone_playing(device: str, dbfs: float = TONE_DBFS, hz: float = TONE_HZ) -> Iterator[None]:
    """Play a continuous sine on an output device while the block runs."""
    sd = devices.sd()
    amp = 10 ** (dbfs / 20) * 32767
    phase = [0]

    def callback(out: npt.NDArray[np.int16], frames: int, _t: Any, _s: Any) -> None:
        n = np.arange(phase[0], phase[0] + frames)
        out[:, 0] = (amp * np.sin(2 * np.pi * hz * n / SAMPLE_RATE)).astype(np.int16)
        phase[0] += frames

    dev = devices.find_device(device, "output")
    stream = sd.OutputStream(device=dev.index, channels=1, samplerate=SAMPLE_RATE, dtype="int16",
                             blocksize=FRAME, latency="low", callback=callback)
    stream.start()
    try:
        yield
    finally:
        stream.stop()
        stream.close()


def _pct(values: list[float] | npt.NDArray[np.float64], q: float) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return round(float(np.percentile(arr, q)), 3) if arr.size else math.nan


@dataclass
class _Cpu:
    wall: float = field(default_factory=time.monotonic)
    cpu: float = field(default_factory=time.process_time)
    shares: ThreadShares = field(default_factory=ThreadShares)

    def percent(self) -> float:
        return round(100.0 * (time.process_time() - self.cpu) / (time.monotonic() - self.wall), 1)

    def threads(self) -> dict[str, float]:
        """Each thread name's share of a core since this began (where the time goes)."""
        return self.shares.percent()


def _toggle_configs(n: int) -> list[ProcessingConfig]:
    """n configurations that each change at least one stage."""
    out: list[ProcessingConfig] = []
    for i in range(n):
        bits = (i * 5 + 3) % 16
        cfg = ProcessingConfig(bool(bits & 1), bool(bits & 2), bool(bits & 4), bool(bits & 8))
        if out and cfg == out[-1]:
            cfg = cfg.replace(echo_cancellation=not cfg.echo_cancellation)
        out.append(cfg)
    return out


def run_ours(mic: str, seconds: float, toggles: int,
             backend: str = "portaudio") -> dict[str, Any]:
    from console.engine.audio_engine import AudioEngine

    engine = AudioEngine(input_device=mic, processing=ProcessingConfig(), backend=backend)
    queue_ms: list[float] = []
    try:
        engine.start()
        time.sleep(0.3)  # settle
        chain = engine.chain
        feed = chain.feed
        assert feed is not None  # the engine publishes (its default)
        chain.latency.clear()
        start = chain.stats()
        cpu = _Cpu()
        configs = _toggle_configs(toggles)
        interval = seconds / max(1, toggles)
        t_end = time.monotonic() + seconds
        next_toggle = time.monotonic() + interval / 2
        i = 0
        while (now := time.monotonic()) < t_end:
            if i < len(configs) and now >= next_toggle:
                engine.set_processing(configs[i])
                i += 1
                next_toggle += interval
            queue_ms.append(feed.queued_duration * 1000)
            time.sleep(min(0.02, max(0.0, t_end - now)))
        cpu_pct, cpu_threads = cpu.percent(), cpu.threads()
        end = chain.stats()
        # Settle the books: close the input, let the ring drain, count from the chain's start.
        chain.close_device()
        deadline = time.monotonic() + 2.0
        while chain.pending_frames() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        books = chain.stats()
        lat = chain.latency.values() * 1000
    finally:
        engine.stop()
    captured = end.frames_captured - start.frames_captured
    delivered = end.frames_delivered - start.frames_delivered
    dropped = end.frames_dropped_total - start.frames_dropped_total
    return {
        "block_ms": FRAME / SAMPLE_RATE * 1000,
        "latency_ms_p50": _pct(lat, 50),
        "latency_ms_p95": _pct(lat, 95),
        "latency_ms_max": round(float(lat.max()), 3) if lat.size else math.nan,
        "callback_to_capture_ms_p50": _pct(lat, 50),
        "callback_to_capture_ms_p95": _pct(lat, 95),
        "frames_captured": captured,
        "frames_delivered": delivered,
        "frames_dropped": dropped,
        "frames_dropped_by_reason": end.frames_dropped,
        "apm_toggles": i,
        "apm_switches_seen": end.apm_switches - start.apm_switches,
        "frames_lost_across_toggles": books.frames_lost,
        "silence_frames": books.silence_frames,
        "status_flags": {k: v for k, v in end.status_flags.items() if v},
        "source_queue_ms_p50": _pct(queue_ms, 50),
        "source_queue_ms_p95": _pct(queue_ms, 95),
        "cpu_percent": cpu_pct,
        "cpu_threads_percent": cpu_threads,
    }


def run_reference(mic: str, seconds: float) -> dict[str, Any]:
    """livekit's MediaDevices.open_input with its defaults, instrumented from outside."""
    from livekit import rtc

    from console.engine.media_thread import MediaThread

    sd: Any = devices.sd()
    blocks: list[tuple[float, int]] = []  # (callback time, frames in the block)
    delivered: list[float] = []
    lock = threading.Lock()
    original = sd.InputStream

    class StampedInputStream(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, callback: Any = None, **kwargs: Any) -> None:
            def stamped(indata: Any, frames: int, t: Any, status: Any) -> None:
                with lock:
                    blocks.append((time.monotonic(), frames))
                callback(indata, frames, t, status)
            super().__init__(*args, callback=stamped, **kwargs)

    media = MediaThread("reference-media")
    media.start()
    dev = devices.find_device(mic, "input")
    queue_ms: list[float] = []

    async def open_input() -> Any:
        md = rtc.MediaDevices(loop=asyncio.get_running_loop())
        capture = md.open_input(input_device=dev.index)
        original_capture = capture.source.capture_frame

        async def capture_frame(frame: rtc.AudioFrame) -> None:
            delivered.append(time.monotonic())
            await original_capture(frame)

        capture.source.capture_frame = capture_frame  # type: ignore[method-assign]
        return capture

    sd.InputStream = StampedInputStream
    try:
        capture = media.run(open_input())
    finally:
        sd.InputStream = original
    try:
        time.sleep(0.3)
        t_start = time.monotonic()
        cpu = _Cpu()
        t_end = t_start + seconds
        while time.monotonic() < t_end:
            queue_ms.append(capture.source.queued_duration * 1000)
            time.sleep(0.02)
        cpu_pct, cpu_threads = cpu.percent(), cpu.threads()
        time.sleep(0.25)  # let the last block reach capture_frame
        with lock:
            seen = list(blocks)
        got = list(delivered)
    finally:
        media.run(capture.aclose())
        media.run(capture.source.aclose())
        media.close()
    # Frames reach capture_frame in the order they were sliced (k-th sliced = k-th delivered)
    # as long as none is dropped; both lists start when the stream opened.
    ready: list[float] = []
    block_end: list[bool] = []
    for t_cb, frames in seen:
        n = frames // FRAME
        ready.extend(t_cb - (n - 1 - j) * FRAME / SAMPLE_RATE for j in range(n))
        block_end.extend(j == n - 1 for j in range(n))
    pairs = [(r, g, last) for r, g, last in zip(ready, got, block_end, strict=False)
             if t_start <= r <= t_end]
    lat = np.array([g - r for r, g, _ in pairs]) * 1000
    cb_lat = np.array([g - r for r, g, last in pairs if last]) * 1000
    in_window = [r for r in ready if t_start <= r <= t_end]
    got_window = [g for g in got if t_start <= g <= t_end]
    sliced = len(ready)
    window_sliced = len(in_window)
    return {
        "block_ms": (seen[0][1] if seen else 0) / SAMPLE_RATE * 1000,
        "latency_ms_p50": _pct(lat, 50),
        "latency_ms_p95": _pct(lat, 95),
        "latency_ms_max": round(float(lat.max()), 3) if lat.size else math.nan,
        "callback_to_capture_ms_p50": _pct(cb_lat, 50),
        "callback_to_capture_ms_p95": _pct(cb_lat, 95),
        "frames_captured": window_sliced,
        "frames_delivered": len(got_window),
        "frames_dropped": max(0, sliced - len(got)),
        "frames_dropped_counted_by_it": None,  # MediaDevices keeps no drop counter
        "apm_toggles": "not supported: APM options are fixed when the input opens",
        "source_queue_ms_p50": _pct(queue_ms, 50),
        "source_queue_ms_p95": _pct(queue_ms, 95),
        "cpu_percent": cpu_pct,
        "cpu_threads_percent": cpu_threads,
    }


def run(seconds: float = 20.0, toggles: int = 100, mic: str = "lkc_mic_a",
        speaker: str = "lkc_speaker_a", backend: str = "portaudio",
        floor: bool = False) -> dict[str, Any]:
    """``floor``: also run the path's bare parts at our read size and at the reference's
    (:mod:`console.bench.capture_floor`), in the same run."""
    devices.find_device(mic, "input")  # a clear error before anything starts
    with tone_playing(speaker):
        ours = run_ours(mic, seconds, toggles, backend)
        reference = run_reference(mic, seconds)
        floors = [run_floor(mic, seconds, ms) for ms in (10, REFERENCE_READ_MS)] \
            if floor else []
    ratio = (ours["latency_ms_p95"] / reference["latency_ms_p95"]
             if reference["latency_ms_p95"] else math.nan)
    cpu_ratio = (ours["cpu_percent"] / reference["cpu_percent"]
                 if reference["cpu_percent"] else math.nan)
    return {
        "benchmark": "capture",
        "seconds": seconds,
        "input": mic,
        "backend": backend,
        "signal": f"{TONE_HZ:.0f} Hz sine at {TONE_DBFS:.0f} dBFS on {speaker}",
        **ours,
        "p95_ratio_vs_reference": round(ratio, 3),
        "cpu_ratio_vs_reference": round(cpu_ratio, 3),
        "goals": {
            "cpu_le_reference": cpu_ratio <= 1.0,
            "latency_p95_le_10ms": ours["latency_ms_p95"] <= 10.0,
            "latency_p95_le_quarter_of_reference": ratio <= 0.25,
            "zero_frames_lost_across_toggles": ours["frames_lost_across_toggles"] == 0,
        },
        "reference": reference,
        **({"floor": _floor_figures(floors, reference["cpu_percent"])} if floors else {}),
    }


def _floor_figures(floors: list[dict[str, Any]], reference_cpu: float) -> dict[str, Any]:
    """Each bare run, with its CPU against the reference's."""
    return {f"read_{f['read_ms']}ms": {
        **f, "cpu_ratio_vs_reference": round(f["cpu_percent"] / reference_cpu, 3)
        if reference_cpu else math.nan} for f in floors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench capture")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--toggles", type=int, default=100)
    parser.add_argument("--input", default="lkc_mic_a")
    parser.add_argument("--output", default="lkc_speaker_a")
    parser.add_argument("--backend", choices=("portaudio", "pulse"), default="portaudio",
                        help="how our engine opens the devices (default portaudio)")
    parser.add_argument("--floor", action="store_true",
                        help="also run the path's bare parts (sound server stream, APM, "
                             "AudioSource) at 10 ms and 100 ms reads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.toggles, args.input, args.output, args.backend,
                 args.floor)
    return emit(result, args.json)
