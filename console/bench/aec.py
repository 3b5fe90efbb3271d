"""``bench aec``: echo cancellation of our chain against livekit's ``MediaDevices``.

A deterministic speech-like far end (harmonics on a wandering pitch plus shaped noise, cut
into 3-5 Hz syllables and phrases with pauses, about -20 dBFS RMS while active) is played
as a local track through the output and comes back on the speaker's loopback microphone;
with no near-end talker, everything that reaches the ``AudioSource`` is residual echo.

ERLE per 1 s window (after the first 3 s): microphone power before the APM over power
after it, summed over the 10 ms cells in which the far end was active (echo on the
microphone within the last 300 ms). "Before" is a raw PortAudio stream on the same
microphone, "after" a copy of every frame handed to the AudioSource (ours through its
SourceFeed, the reference's through ``capture_frame``); the same measurement is applied to
both systems. Ours also reports its own figures
(``EchoMetrics``: windows, echo path delay).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc

from console.bench import emit
from console.bench.capture import _Cpu, _pct
from console.bench.freezer import freezing
from console.bench.output import BenchTrack, MicRecorder, StallWatch, open_track
from console.engine import devices
from console.engine.apm import ProcessingConfig
from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.media_thread import MediaThread
from console.engine.output import DeviceLatency, parse_latency
from console.engine.source_feed import SourceFeed
from console.signals import speech_like

FAR_RMS_DBFS = -20.0
SEED = 20240611
CONVERGE_S = 3.0
CELL_S = 0.01
ACTIVE_DBFS = -50.0      # a 10 ms cell of echo above this (sine-equivalent) is active...
TAIL_CELLS = 30          # ... and so are the 300 ms after it
MIN_ACTIVE_CELLS = 50    # a 1 s window counts when half of it is active
POWER_FLOOR = 1.0        # sum of squares: keeps a perfectly silent residual finite
GOAL_WORST_DB = 30.0
AEC_ONLY = ProcessingConfig(echo_cancellation=True, noise_suppression=False,
                            auto_gain_control=False, high_pass_filter=False)
ALL_ON = ProcessingConfig()


# -- the far end --------------------------------------------------------------------------
def far_end(seconds: float, seed: int = SEED) -> npt.NDArray[np.int16]:
    """Speech-like int16 audio at FAR_RMS_DBFS while active."""
    return speech_like(seconds, FAR_RMS_DBFS, seed)


def _looping(signal: npt.NDArray[np.int16]) -> Any:
    def gen(pos: int, n: int) -> npt.NDArray[np.int16]:
        out: npt.NDArray[np.int16] = signal[(pos + np.arange(n)) % signal.shape[0]]
        return out
    return gen


# -- what reaches the AudioSource -----------------------------------------------------------
@dataclass
class AfterTap:
    """Copies of the frames handed to the AudioSource with the time of each hand-over."""

    frames: list[tuple[float, npt.NDArray[np.int16]]] = field(default_factory=list)

    def watch(self, feed: SourceFeed) -> None:
        """Ours: the engine hands frames over through a SourceFeed, not capture_frame."""
        frames = self.frames
        feed.watchers.append(lambda x: frames.append((time.monotonic(), x.copy())))

    def wrap(self, source: rtc.AudioSource) -> None:
        original = source.capture_frame
        frames = self.frames

        async def capture_frame(frame: rtc.AudioFrame) -> None:
            frames.append((time.monotonic(), np.frombuffer(frame.data, dtype=np.int16).copy()))
            await original(frame)

        source.capture_frame = capture_frame  # type: ignore[method-assign]

    def signal(self) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.float64]]:
        """All samples and their times. Frames handed over in one burst (a 100 ms block, or
        a catch-up) were captured 10 ms apart: each is dated back from the burst's last."""
        frames = list(self.frames)
        if not frames:
            return np.zeros(0, dtype=np.int16), np.zeros(0)
        calls = np.array([t for t, _ in frames])
        ends = calls.copy()
        for i in range(len(frames) - 2, -1, -1):
            if calls[i + 1] - calls[i] < 0.003:  # same burst as the next frame
                ends[i] = ends[i + 1] - FRAME / SAMPLE_RATE
        x = np.concatenate([pcm for _, pcm in frames])
        offs = np.arange(FRAME - 1, -1, -1) / SAMPLE_RATE
        t = (ends[:, None] - offs[None, :]).reshape(-1)
        return x, t


# -- ERLE from outside ----------------------------------------------------------------------
def _cell_power(x: npt.NDArray[np.int16], t: npt.NDArray[np.float64], start: float,
                cells: int) -> npt.NDArray[np.float64]:
    k = np.floor((t - start) / CELL_S).astype(np.int64)
    ok = (k >= 0) & (k < cells)
    xf = x.astype(np.float64)
    power = np.bincount(k[ok], weights=xf[ok] ** 2, minlength=cells)[:cells]
    return power.astype(np.float64)


@dataclass(frozen=True)
class Erle:
    windows: list[float]  # dB per counted 1 s window
    echo_dbfs: float      # RMS before the APM over the active cells
    residual_dbfs: float  # RMS reaching capture_frame over the same cells


def _dbfs(power_sum: float, samples: float) -> float:
    if samples <= 0:
        return math.nan
    return round(10 * math.log10(max(power_sum / samples, 1e-12) / 32768.0 ** 2), 1)


def external_erle(before: tuple[npt.NDArray[np.int16], npt.NDArray[np.float64]],
                  after: tuple[npt.NDArray[np.int16], npt.NDArray[np.float64]],
                  start: float, end: float) -> Erle:
    """ERLE (dB) per 1 s window from ``start``; windows with too little echo are skipped."""
    cells = int((end - start) / CELL_S)
    pre = _cell_power(*before, start, cells)
    post = _cell_power(*after, start, cells)
    cell_samples = CELL_S * SAMPLE_RATE
    threshold = (10 ** (ACTIVE_DBFS / 20) * 32768) ** 2 / 2 * cell_samples
    loud = np.flatnonzero(pre > threshold)
    active = np.zeros(cells, dtype=bool)
    for lag in range(TAIL_CELLS + 1):
        idx = loud + lag
        active[idx[idx < cells]] = True
    per_window = round(1.0 / CELL_S)
    out: list[float] = []
    counted = np.zeros(cells, dtype=bool)
    for w in range(cells // per_window):
        sl = slice(w * per_window, (w + 1) * per_window)
        a = active[sl]
        if int(a.sum()) < MIN_ACTIVE_CELLS:
            continue
        counted[sl] = a
        p_pre = float(pre[sl][a].sum())
        p_post = float(post[sl][a].sum())
        out.append(10 * math.log10(p_pre / max(p_post, POWER_FLOOR)))
    n = float(counted.sum()) * cell_samples
    return Erle(out, _dbfs(float(pre[counted].sum()), n), _dbfs(float(post[counted].sum()), n))


def _summary(windows: list[float] | tuple[float, ...]) -> dict[str, Any]:
    arr = np.asarray(windows, dtype=np.float64)
    return {
        "erle_db_median": round(float(np.median(arr)), 2) if arr.size else math.nan,
        "erle_db_worst": round(float(arr.min()), 2) if arr.size else math.nan,
        "erle_db_p10": _pct(arr, 10),
        "windows": arr.size,
    }


def _far_track(run: Callable[[Coroutine[Any, Any, BenchTrack]], BenchTrack],
               seconds: float) -> BenchTrack:
    """The far end's track, made on the loop that ``run`` runs coroutines on."""
    signal = far_end(seconds + 10.0)
    return run(open_track("far", _looping(signal)))


# -- phases -----------------------------------------------------------------------------------
def run_ours(seconds: float, speaker: str, mic: str, config: ProcessingConfig,
             output_latency: DeviceLatency = "low",
             backend: str = "auto") -> dict[str, Any]:
    from console.engine.audio_engine import AudioEngine

    engine = AudioEngine(input_device=mic, processing=config, output_device=speaker,
                         output_latency=output_latency, backend=backend)
    recorder = MicRecorder(mic)
    tap = AfterTap()
    far: BenchTrack | None = None
    delays: list[float] = []
    try:
        engine.start()
        in_use = devices.backend()
        feed = engine.chain.feed
        assert feed is not None  # the engine publishes (its default)
        tap.watch(feed)
        recorder.start()
        far = _far_track(engine.run, seconds)
        with StallWatch() as stalls:
            engine.add_track("far", far.track)
            t0 = time.monotonic()
            cpu = _Cpu()
            time.sleep(CONVERGE_S)
            skip = len(engine.echo_stats().windows)
            while time.monotonic() < t0 + seconds:
                time.sleep(0.25)
                d = engine.echo_stats().echo_delay_ms
                if not math.isnan(d):
                    delays.append(d)
            t_end = time.monotonic()
            cpu_pct = cpu.percent()
        echo = engine.echo_stats()
        out = engine.output_stats()
        cap = engine.capture_stats()
        chans = engine.channel_stats()
        capture_lat = engine.capture_latencies_ms()
        recorder.stop()
    finally:
        recorder.stop()
        if far is not None and engine.running:
            with contextlib.suppress(Exception):
                engine.run(far.aclose())
        engine.stop()
    external = external_erle(recorder.signal(), tap.signal(), t0 + CONVERGE_S, t_end)
    internal = list(echo.windows[skip:])
    ext, inn = _summary(external.windows), _summary(internal)
    return {
        "processing": _config_json(config),
        "backend": in_use,
        **ext,
        "internal": {**inn, "note": "EchoMetrics: the chain's own before/after-APM ERLE"},
        "internal_minus_external_median_db": round(inn["erle_db_median"]
                                                   - ext["erle_db_median"], 2),
        "echo_delay_ms": round(echo.echo_delay_ms, 1),
        "echo_delay_ms_p50": _pct(delays, 50),
        "delay_confidence": round(echo.delay_confidence, 3),
        "echo_rms_dbfs": external.echo_dbfs,
        "residual_rms_dbfs": external.residual_dbfs,
        "external_windows_db": [round(v, 1) for v in external.windows],
        "underruns": out.underruns + sum(c.underruns for c in chans),
        "underruns_after_host_stall": (out.underruns_after_stall
                                       + sum(c.underruns_after_stall for c in chans)),
        "host_stalls_seen_by_output": out.host_stalls,
        "output_device_latency_ms": round(out.device_latency_ms, 1),
        "capture_latency_ms_p95": _pct(capture_lat, 95),
        "echo_reference": {"timed": cap.reference_timed, "waits": cap.reference_waits,
                           "note": "timed: the echo reference stamped with play times; "
                                   "waits: microphone frames that waited for their reference"},
        "cpu_percent": cpu_pct,
        **stalls.figures(),
    }


def run_reference(seconds: float, speaker: str, mic: str,
                  config: ProcessingConfig) -> dict[str, Any]:
    """livekit's open_input (100 ms blocks, APM in the callback) + open_output for reverse."""
    mic_dev = devices.find_device(mic, "input")
    spk_dev = devices.find_device(speaker, "output")
    media = MediaThread("reference-media")
    media.start()
    recorder = MicRecorder(mic)
    tap = AfterTap()
    far: BenchTrack | None = None
    capture: Any = None
    player: Any = None

    async def open_devices() -> tuple[Any, Any]:
        md = rtc.MediaDevices(loop=asyncio.get_running_loop())
        cap = md.open_input(input_device=mic_dev.index,
                            enable_aec=config.echo_cancellation,
                            noise_suppression=config.noise_suppression,
                            high_pass_filter=config.high_pass_filter,
                            auto_gain_control=config.auto_gain_control)
        tap.wrap(cap.source)
        out = md.open_output(output_device=spk_dev.index)  # feeds cap's APM its reverse
        return cap, out

    async def play(track: rtc.LocalAudioTrack) -> None:
        await player.add_track(track)
        await player.start()

    try:
        recorder.start()
        far = _far_track(media.run, seconds)
        capture, player = media.run(open_devices())
        with StallWatch() as stalls:
            media.run(play(far.track))
            t0 = time.monotonic()
            cpu = _Cpu()
            time.sleep(max(0.0, t0 + seconds - time.monotonic()))
            t_end = time.monotonic()
            cpu_pct = cpu.percent()
        time.sleep(0.15)  # the last 100 ms block reaches capture_frame
        recorder.stop()
    finally:
        recorder.stop()
        with contextlib.suppress(Exception):
            if player is not None:
                media.run(player.aclose())
        with contextlib.suppress(Exception):
            if capture is not None:
                media.run(capture.aclose())
                media.run(capture.source.aclose())
        with contextlib.suppress(Exception):
            if far is not None:
                media.run(far.aclose())
        media.close()
    external = external_erle(recorder.signal(), tap.signal(), t0 + CONVERGE_S, t_end)
    return {
        "processing": _config_json(config),
        **_summary(external.windows),
        "echo_delay_ms": None,
        "echo_delay_note": "MediaDevices exposes no echo statistics",
        "echo_rms_dbfs": external.echo_dbfs,
        "residual_rms_dbfs": external.residual_dbfs,
        "external_windows_db": [round(v, 1) for v in external.windows],
        "cpu_percent": cpu_pct,
        **stalls.figures(),
    }


def _config_json(config: ProcessingConfig) -> dict[str, bool]:
    return {"aec": config.echo_cancellation, "ns": config.noise_suppression,
            "agc": config.auto_gain_control, "hpf": config.high_pass_filter}


def run(seconds: float = 30.0, speaker: str = "lkc_speaker_a", mic: str = "lkc_mic_a",
        all_stages: bool = False, output_latency: DeviceLatency = "low",
        backend: str = "auto", freeze_every_s: float = 0.0,
        freeze_ms: float = 30.0) -> dict[str, Any]:
    """``freeze_every_s``: stop the whole process ``freeze_ms`` that often, in both runs
    (:mod:`console.bench.freezer`): the VM's freezes, made on purpose and alike for both."""
    if seconds <= CONVERGE_S + 1:
        raise ValueError(f"--seconds must be more than {CONVERGE_S + 1:.0f}")
    devices.find_device(mic, "input")  # clear errors before anything starts
    devices.find_device(speaker, "output")
    with freezing(freeze_every_s, freeze_ms):
        ours = run_ours(seconds, speaker, mic, AEC_ONLY, output_latency, backend)
    with freezing(freeze_every_s, freeze_ms):
        reference = run_reference(seconds, speaker, mic, AEC_ONLY)
    result: dict[str, Any] = {
        "benchmark": "aec",
        "seconds": seconds,
        "output": speaker,
        "input": mic,
        "backend_asked": backend,
        "freezes": ({"every_s": freeze_every_s, "ms": freeze_ms} if freeze_every_s > 0
                    else None),
        "signal": (f"speech-like far end (seed {SEED}), {FAR_RMS_DBFS:.0f} dBFS RMS while "
                   "active, syllables at 3-5 Hz, phrases with pauses"),
        "erle_note": (f"per 1 s window after the first {CONVERGE_S:.0f} s: raw mic power / "
                      "power reaching capture_frame over the cells where the far end was "
                      "active; a silent residual is floored at a sum of squares of 1"),
        **ours,
        "goals": {
            "worst_window_ge_30db": ours["erle_db_worst"] >= GOAL_WORST_DB,
            "worst_window_ge_60db": ours["erle_db_worst"] >= 60.0,  # issue 18, goal 3
        },
        "reference": {
            **reference,
            "note": ("open_input(enable_aec=True, noise_suppression=False, "
                     "high_pass_filter=False, auto_gain_control=False): like with like; "
                     "its defaults turn all four on"),
        },
    }
    if all_stages:
        result["all_stages"] = run_ours(seconds, speaker, mic, ALL_ON, output_latency, backend)
        result["reference_defaults"] = {
            **run_reference(seconds, speaker, mic, ALL_ON),
            "note": "open_input() defaults: AEC, NS, HPF and AGC on",
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench aec")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--output", default="lkc_speaker_a")
    parser.add_argument("--input", default="lkc_mic_a", help="microphone that hears --output")
    parser.add_argument("--all-stages", action="store_true",
                        help="also run both systems with NS, AGC and HPF on (doubles the time)")
    parser.add_argument("--output-latency", default="low", metavar="LOW|HIGH|MS",
                        help="our output device's buffer (default low)")
    parser.add_argument("--backend", choices=("auto", "portaudio", "pulse"), default="auto",
                        help="how our engine opens the devices (default auto, as the app: "
                             "the sound server's own streams when one answers)")
    parser.add_argument("--freeze-every", type=float, default=0.0, metavar="S",
                        help="stop the whole process every S seconds (both runs)")
    parser.add_argument("--freeze-ms", type=float, default=30.0,
                        help="for this long (default 30)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.seconds <= CONVERGE_S + 1:
        parser.error(f"--seconds must be more than {CONVERGE_S + 1:.0f}")
    try:
        latency = parse_latency(args.output_latency)
    except ValueError as exc:
        parser.error(str(exc))
    result = run(args.seconds, args.output, args.input, args.all_stages, latency, args.backend,
                 args.freeze_every, args.freeze_ms)
    return emit(result, args.json)
