"""``bench output``: our playback path against livekit's ``MediaDevices.open_output``.

N local tracks (stand-ins for remote participants) play quiet tones; the first one is
silent but for a 2 ms click every 500 ms. The click is found again on the loopback
microphone of the speaker (a raw PortAudio stream, each sample stamped with its arrival
time), and the latency of each click is counted from the moment its frame was handed to
the track's ``AudioSource.capture_frame``. Ours plays every track through the engine's
mixer; the reference (same run, after ours, fresh tracks) plays through ``OutputPlayer``,
which keys tracks by ``track.sid``: unpublished local tracks all report ``TR_unknown``, so
it accepts only the first one (the click track) and the refusals are counted.

Both latencies include the loopback's own delay (device buffers and PulseAudio), measured
once with a plain output stream as ``loopback_ms``, and the track source's small queue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc

from console.bench import emit
from console.bench.capture import _Cpu, _pct
from console.engine import devices
from console.engine.apm import ProcessingConfig
from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.media_thread import MediaThread
from console.engine.output import DeviceLatency, parse_latency

TRACK_QUEUE_MS = 20            # the stand-in tracks' AudioSource queue (counted in latency)
CLICK_EVERY = SAMPLE_RATE // 2  # 500 ms, on a frame boundary
CLICK_SAMPLES = SAMPLE_RATE // 500  # 2 ms
CLICK_DBFS = -6.0
BACKGROUND_DBFS = -40.0        # peak level of each background tone
CLICK_AMP = int(10 ** (CLICK_DBFS / 20) * 32768)
THRESHOLD = CLICK_AMP // 2     # onset: first sample at -12 dBFS or above
REARM_S = 0.1                  # samples above the threshold this close belong to one click
MATCH_S = 0.2                  # a click is looked for this close to where it is expected
FIRST_MATCH_S = 1.5            # ... and, for the first one, this long after it was sent
WARMUP_S = 1.0
TAIL_S = 1.0
DRIFT_SPAN_S = 5.0

Generator = Callable[[int, int], npt.NDArray[np.int16]]


# -- signals ------------------------------------------------------------------------------
def tone(hz: float, amp: float) -> Generator:
    """A sine of peak ``amp`` (int16 units), continuous across frames."""
    def gen(pos: int, n: int) -> npt.NDArray[np.int16]:
        t = np.arange(pos, pos + n) / SAMPLE_RATE
        return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    return gen


def silence(pos: int, n: int) -> npt.NDArray[np.int16]:
    return np.zeros(n, dtype=np.int16)


def background_amp(participants: int) -> float:
    """Each background tone's peak: -40 dBFS, lower if their sum could reach a quarter of
    the click (so the threshold sits well clear of the background)."""
    amp = 10 ** (BACKGROUND_DBFS / 20) * 32768
    others = max(1, participants - 1)
    return min(amp, CLICK_AMP / 4 / others)


def signals(participants: int) -> list[Generator]:
    """Track 0: the clicks' carrier (silence); the others: distinct quiet tones."""
    amp = background_amp(participants)
    return [silence, *(tone(173.0 + 131.0 * i, amp) for i in range(1, participants))]


# -- stand-in tracks ------------------------------------------------------------------------
@dataclass
class BenchTrack:
    """An AudioSource -> LocalAudioTrack fed in real time on its loop."""

    source: rtc.AudioSource
    track: rtc.LocalAudioTrack
    clicks: list[tuple[float, float]] | None  # (time handed to capture_frame, queued ms)
    armed: bool = False
    task: asyncio.Task[None] | None = None

    async def aclose(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.source.aclose()


async def open_track(name: str, gen: Generator, clicks: bool = False,
                     queue_ms: int = TRACK_QUEUE_MS) -> BenchTrack:
    """Create a track fed by ``gen`` at the source's pace (call on the media loop).

    A clicking track adds a click at the start of every 500 ms while ``armed`` and records
    when that frame was handed to ``capture_frame``.
    """
    loop = asyncio.get_running_loop()
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=queue_ms, loop=loop)
    track = rtc.LocalAudioTrack.create_audio_track(name, source)
    bt = BenchTrack(source, track, [] if clicks else None)

    async def feed() -> None:
        pos = 0
        while True:
            pcm = gen(pos, FRAME).astype(np.int16)
            click = bt.clicks is not None and bt.armed and pos % CLICK_EVERY == 0
            if click:
                pcm[:CLICK_SAMPLES] = np.clip(pcm[:CLICK_SAMPLES].astype(np.int32) + CLICK_AMP,
                                              -32768, 32767)
            frame = rtc.AudioFrame(pcm.tobytes(), SAMPLE_RATE, 1, FRAME)
            if click and bt.clicks is not None:
                bt.clicks.append((time.monotonic(), source.queued_duration * 1000.0))
            await source.capture_frame(frame)
            pos += FRAME

    bt.task = loop.create_task(feed(), name=f"feed-{name}")
    return bt


async def open_tracks(participants: int) -> list[BenchTrack]:
    return [await open_track(f"p{i}", gen, clicks=i == 0)
            for i, gen in enumerate(signals(participants))]


async def close_tracks(tracks: list[BenchTrack]) -> None:
    for t in tracks:
        with contextlib.suppress(Exception):
            await t.aclose()


# -- the loopback microphone ----------------------------------------------------------------
class MicRecorder:
    """A raw PortAudio input; every 10 ms block is kept with its arrival time."""

    def __init__(self, device: str | int) -> None:
        self._dev = devices.find_device(device, "input")
        self._blocks: list[tuple[float, npt.NDArray[np.int16]]] = []
        self._stream: Any = None

    def start(self) -> None:
        blocks = self._blocks

        def callback(indata: npt.NDArray[np.int16], frames: int, _t: Any, _s: Any) -> None:
            blocks.append((time.monotonic(), indata[:, 0].copy()))

        self._stream = devices.sd().InputStream(
            device=self._dev.index, channels=1, samplerate=SAMPLE_RATE, dtype="int16",
            blocksize=FRAME, latency="low", callback=callback)
        self._stream.start()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.stop()
                stream.close()

    def signal(self) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.float64]]:
        """All samples so far and each one's time (its block's arrival less the samples
        after it in the block)."""
        blocks = list(self._blocks)
        if not blocks:
            return np.zeros(0, dtype=np.int16), np.zeros(0)
        x = np.concatenate([b for _, b in blocks])
        t = np.concatenate([at - np.arange(b.shape[0] - 1, -1, -1) / SAMPLE_RATE
                            for at, b in blocks])
        return x, t


def onsets(x: npt.NDArray[np.int16], t: npt.NDArray[np.float64],
           threshold: int = THRESHOLD) -> npt.NDArray[np.float64]:
    """Times of the first sample of each click (|x| at or above ``threshold``)."""
    idx = np.flatnonzero(np.abs(x.astype(np.int32)) >= threshold)
    if idx.size == 0:
        return np.zeros(0)
    first = np.concatenate(([True], np.diff(idx) > int(REARM_S * SAMPLE_RATE)))
    return t[idx[first]]


def match_clicks(sent: list[float], found: npt.NDArray[np.float64]) -> list[tuple[float, float]]:
    """Pair each sent click with its onset: (sent time, latency in s).

    The first click is the first onset after it was sent (nothing clicks before it); each
    later one is looked for within 200 ms of where the last latency puts it (clicks are
    500 ms apart, so the pairing cannot slip by one).
    """
    pairs: list[tuple[float, float]] = []
    used = np.zeros(found.shape[0], dtype=bool)
    expected: float | None = None
    for s in sent:
        if expected is None:
            ok = (found >= s) & (found <= s + FIRST_MATCH_S) & ~used
        else:
            ok = (np.abs(found - (s + expected)) <= MATCH_S) & ~used
        cand = np.flatnonzero(ok)
        if cand.size == 0:
            continue
        j = int(cand[0]) if expected is None else int(
            cand[np.argmin(np.abs(found[cand] - (s + expected)))])
        used[j] = True
        expected = float(found[j] - s)
        pairs.append((s, expected))
    return pairs


def click_figures(sent: list[tuple[float, float]], recorder: MicRecorder,
                  t0: float, seconds: float) -> dict[str, Any]:
    """Latency percentiles, drift and counts for the clicks sent in a phase."""
    x, t = recorder.signal()
    sent_t = [s for s, _ in sent]
    pairs = match_clicks(sent_t, onsets(x, t))
    lat = np.array([d for _, d in pairs]) * 1000.0
    first = [d * 1000 for s, d in pairs if s < t0 + DRIFT_SPAN_S]
    last = [d * 1000 for s, d in pairs if s >= t0 + seconds - DRIFT_SPAN_S]
    drift = (float(np.median(last)) - float(np.median(first))) if first and last else math.nan
    queued = [q for _, q in sent]
    slope = math.nan
    if len(pairs) >= 3:
        ts = np.array([s for s, _ in pairs]) - t0
        slope = float(np.polyfit(ts, lat, 1)[0]) * 60.0
    return {
        "latency_ms_p50": _pct(lat, 50),
        "latency_ms_p95": _pct(lat, 95),
        "latency_ms_min": round(float(lat.min()), 3) if lat.size else math.nan,
        "latency_ms_max": round(float(lat.max()), 3) if lat.size else math.nan,
        "drift_ms": round(drift, 3),
        "drift_fit_ms_per_min": round(slope, 3),
        "clicks_sent": len(sent),
        "clicks_found": len(pairs),
        "track_queue_ms_p50": _pct(queued, 50),
        "latencies_ms": [round(float(v), 1) for v in lat],
        "mic_peak_dbfs": round(20 * math.log10(max(1, int(np.abs(x.astype(np.int32)).max(
            initial=0))) / 32768), 1),
    }


class StallWatch:
    """A side thread sleeping 5 ms at a time; wake-ups 15 ms late or more are stalls of the
    whole process (the host's scheduler, or the GIL held elsewhere), counted per phase."""

    def __init__(self, late_s: float = 0.015) -> None:
        self._late = late_s
        self._stalls: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-watch", daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            before = time.monotonic()
            time.sleep(0.005)
            late = time.monotonic() - before - 0.005
            if late >= self._late:
                self._stalls.append((before, late))

    def __enter__(self) -> StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(1.0)

    def figures(self) -> dict[str, Any]:
        late = [d * 1000 for _, d in self._stalls]
        return {"stalls_ge_15ms": len(late),
                "stall_ms_max": round(max(late), 1) if late else 0.0}


# -- phases -----------------------------------------------------------------------------------
def _play_phase(tracks: list[BenchTrack], seconds: float,
                poll: Callable[[], None] | None = None,
                at_start: Callable[[], None] | None = None) -> tuple[float, float]:
    """Warm up, click for ``seconds``, wait for the last click; returns (t0, CPU %)."""
    time.sleep(WARMUP_S)
    if at_start is not None:
        at_start()
    t0 = time.monotonic()
    cpu = _Cpu()
    tracks[0].armed = True
    t_end = t0 + seconds
    while (now := time.monotonic()) < t_end:
        if poll is not None:
            poll()
        time.sleep(min(0.05, max(0.0, t_end - now)))
    tracks[0].armed = False
    cpu_pct = cpu.percent()
    time.sleep(TAIL_S)
    return t0, cpu_pct


def measure_loopback(speaker: str, mic: str, clicks: int = 6) -> dict[str, Any]:
    """The loopback's own delay: a click written by a plain output callback -> mic onset."""
    sd = devices.sd()
    dev = devices.find_device(speaker, "output")
    recorder = MicRecorder(mic)
    sent: list[float] = []
    blocks = [0]

    def callback(out: npt.NDArray[np.int16], frames: int, _t: Any, _s: Any) -> None:
        out.fill(0)
        blocks[0] += 1
        if blocks[0] >= 20 and blocks[0] % 20 == 0 and len(sent) < clicks:
            out[:CLICK_SAMPLES, :] = CLICK_AMP
            sent.append(time.monotonic())

    recorder.start()
    stream = sd.OutputStream(device=dev.index, channels=1, samplerate=SAMPLE_RATE,
                             dtype="int16", blocksize=FRAME, latency="low", callback=callback)
    try:
        stream.start()
        deadline = time.monotonic() + 5.0
        while len(sent) < clicks and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.4)
    finally:
        stream.stop()
        stream.close()
        recorder.stop()
    x, t = recorder.signal()
    lat = np.array([d for _, d in match_clicks(sent, onsets(x, t))]) * 1000.0
    return {
        "loopback_ms": _pct(lat, 50),
        "loopback_ms_min": round(float(lat.min()), 3) if lat.size else math.nan,
        "loopback_ms_max": round(float(lat.max()), 3) if lat.size else math.nan,
        "loopback_clicks": f"{lat.size}/{len(sent)}",
    }


def run_ours(participants: int, seconds: float, speaker: str, mic: str,
             engine_mic: str, output_latency: DeviceLatency = "low",
             backend: str = "portaudio") -> dict[str, Any]:
    from console.engine.audio_engine import AudioEngine

    engine = AudioEngine(input_device=engine_mic, processing=ProcessingConfig.off(),
                         output_device=speaker, output_latency=output_latency,
                         backend=backend)
    recorder = MicRecorder(mic)
    tracks: list[BenchTrack] = []
    ring_ms: list[float] = []
    warm: list[int] = []
    played: list[tuple[float, int]] = []  # (time, frames the device has played)

    def underruns() -> int:
        return engine.output_stats().underruns + sum(c.underruns for c in engine.channel_stats())

    def poll() -> None:
        out = engine.output_stats()
        ring_ms.append(out.ring_ms)
        played.append((time.monotonic(), out.frames_played))

    def at_start() -> None:
        warm.append(underruns())
        played.append((time.monotonic(), engine.output_stats().frames_played))

    try:
        engine.start()
        recorder.start()
        tracks = engine.run(open_tracks(participants))
        with StallWatch() as stalls:
            for i, t in enumerate(tracks):
                engine.add_track(f"p{i}", t.track)
            t0, cpu_pct = _play_phase(tracks, seconds, poll, at_start)
        out = engine.output_stats()
        chans = engine.channel_stats()
        recorder.stop()
        clicks = list(tracks[0].clicks or [])
    finally:
        recorder.stop()
        if engine.running:
            with contextlib.suppress(Exception):
                engine.run(close_tracks(tracks))
        engine.stop()
    channel_underruns = sum(c.underruns for c in chans)
    (t_first, f_first), (t_last, f_last) = played[0], played[-1]
    after_stall = out.underruns_after_stall + sum(c.underruns_after_stall for c in chans)
    return {
        **click_figures(clicks, recorder, t0, seconds),
        "underruns": out.underruns + channel_underruns,
        "underruns_note": "output + all channels, from the first add_track to the end",
        "underruns_in_warmup": warm[0] if warm else None,
        "output_underruns": out.underruns,
        "channel_underruns": channel_underruns,
        "underruns_after_host_stall": after_stall,
        "underruns_after_host_stall_note": (
            "the part of underruns within 300 ms after the output device's callbacks "
            "stopped for 30 ms or more (the host froze this process)"),
        "host_stalls_seen_by_output": out.host_stalls,
        "host_stall_ms_max": round(out.host_stall_ms_max, 1),
        "channel_frames_dropped": sum(c.frames_dropped for c in chans),
        "clock_samples_dropped": sum(c.samples_dropped for c in chans),
        "clock_samples_inserted": sum(c.samples_inserted for c in chans),
        "tracks_playing": len(chans),
        "output_frames_played": f_last - f_first,
        "output_frames_per_s": (round((f_last - f_first) / (t_last - t_first), 1)
                                if t_last > t_first else math.nan),
        "output_frames_note": "10 ms frames the device consumed while clicking",
        "output_ring_ms_p50": _pct(ring_ms, 50),
        "output_ring_ms_p95": _pct(ring_ms, 95),
        "device_latency_ms": round(out.device_latency_ms, 3),
        "frames_limited": out.frames_limited,
        "samples_clipped": out.samples_clipped,
        "cpu_percent": cpu_pct,
        **stalls.figures(),
    }


@contextlib.contextmanager
def stamped_output_streams(blocks: list[tuple[float, int]]) -> Iterator[None]:
    """While open, every ``sounddevice.OutputStream`` made (as livekit's ``OutputPlayer``
    makes its own) appends (time, frames) to ``blocks`` on each callback: its block size is
    measured, not taken from livekit's defaults (as ``bench capture`` does for the input)."""
    sd: Any = devices.sd()
    original = sd.OutputStream
    lock = threading.Lock()

    class StampedOutputStream(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, callback: Any = None, **kwargs: Any) -> None:
            def stamped(outdata: Any, frames: int, t: Any, status: Any) -> None:
                with lock:
                    blocks.append((time.monotonic(), frames))
                callback(outdata, frames, t, status)
            super().__init__(*args, callback=stamped, **kwargs)

    sd.OutputStream = StampedOutputStream
    try:
        yield
    finally:
        sd.OutputStream = original


def block_figures(blocks: list[tuple[float, int]], t0: float, t1: float) -> dict[str, Any]:
    """The device callbacks' block size and spacing between ``t0`` and ``t1``."""
    seen = [(t, n) for t, n in blocks if t0 <= t <= t1]
    sizes = [n for _, n in seen]
    gaps = np.diff([t for t, _ in seen]) * 1000.0 if len(seen) > 1 else np.zeros(0)
    return {
        "block_ms": (round(float(np.median(sizes)) / SAMPLE_RATE * 1000, 3)
                     if sizes else math.nan),
        "block_callbacks": len(seen),
        "block_interval_ms_p50": _pct(gaps, 50),
    }


def run_reference(participants: int, seconds: float, speaker: str, mic: str) -> dict[str, Any]:
    """livekit's OutputPlayer (AudioMixer, its own block size), instrumented from outside."""
    dev = devices.find_device(speaker, "output")
    media = MediaThread("reference-media")
    media.start()
    recorder = MicRecorder(mic)
    tracks: list[BenchTrack] = []
    player: Any = None
    refused: list[str] = []
    blocks: list[tuple[float, int]] = []

    async def open_player() -> Any:
        md = rtc.MediaDevices(loop=asyncio.get_running_loop())
        with stamped_output_streams(blocks):
            p = md.open_output(output_device=dev.index)
        for t in tracks:  # the click track first: it is the one that plays
            try:
                await p.add_track(t.track)
            except ValueError as exc:
                refused.append(str(exc))
        await p.start()
        return p

    try:
        recorder.start()
        tracks = media.run(open_tracks(participants))
        with StallWatch() as stalls:
            player = media.run(open_player())
            t0, cpu_pct = _play_phase(tracks, seconds)
        recorder.stop()
        clicks = list(tracks[0].clicks or [])
        played = block_figures(blocks, t0, t0 + seconds)
    finally:
        recorder.stop()
        if player is not None:
            with contextlib.suppress(Exception):
                media.run(player.aclose())
        with contextlib.suppress(Exception):
            media.run(close_tracks(tracks))
        media.close()
    return {
        **click_figures(clicks, recorder, t0, seconds),
        "underruns": None,
        "underruns_note": "OutputPlayer keeps no underrun counter (its callback zero-fills "
                          "silently)",
        "tracks_added": participants - len(refused),
        "tracks_refused": len(refused),
        "refusal": refused[0] if refused else None,
        **played,
        "block_note": ("frames per callback of the OutputStream that OutputPlayer opened "
                       "(median while clicking), and the callbacks' spacing"),
        "cpu_percent": cpu_pct,
        **stalls.figures(),
    }


def run(participants: int = 8, seconds: float = 20.0, speaker: str = "lkc_speaker_a",
        mic: str = "lkc_mic_a", engine_mic: str = "lkc_mic_b",
        output_latency: DeviceLatency = "low", backend: str = "portaudio") -> dict[str, Any]:
    if participants < 1:
        raise ValueError("at least one participant (the click track) is needed")
    devices.find_device(mic, "input")  # clear errors before anything starts
    devices.find_device(speaker, "output")
    loop = measure_loopback(speaker, mic)
    ours = run_ours(participants, seconds, speaker, mic, engine_mic, output_latency, backend)
    reference = run_reference(participants, seconds, speaker, mic)
    ratio = (ours["latency_ms_p95"] / reference["latency_ms_p95"]
             if reference["latency_ms_p95"] else math.nan)
    lb = loop["loopback_ms"]
    bg = background_amp(participants)
    return {
        "benchmark": "output",
        "seconds": seconds,
        "participants": participants,
        "backend": backend,
        "output": speaker,
        "loopback_mic": mic,
        "signal": (f"p0: a {CLICK_SAMPLES / SAMPLE_RATE * 1000:.0f} ms click at "
                   f"{CLICK_DBFS:.0f} dBFS every {CLICK_EVERY / SAMPLE_RATE * 1000:.0f} ms; "
                   f"p1..: tones at {20 * math.log10(bg / 32768):.1f} dBFS peak each"),
        "onset_threshold_dbfs": round(20 * math.log10(THRESHOLD / 32768), 1),
        "latency_note": ("click handed to the track's capture_frame -> onset on the loopback "
                         "mic; includes the track source queue and loopback_ms"),
        "cpu_note": ("process CPU over wall time while clicking; both phases feed all N "
                     "tracks and run the raw mic; ours also runs its capture chain on "
                     f"{engine_mic} (APM off)"),
        "stalls_note": ("stalls_ge_15ms: a 5 ms sleep in a side thread woke 15 ms late or "
                        "more (the host froze the process, or the GIL was held)"),
        **loop,
        **ours,
        "added_latency_ms_p50": round(ours["latency_ms_p50"] - lb, 3),
        "p95_ratio_vs_reference": round(ratio, 3),
        "goals": {
            "latency_p95_le_half_of_reference": ratio <= 0.5,
            "abs_drift_lt_5ms": abs(ours["drift_ms"]) < 5.0,
            "zero_underruns": ours["underruns"] == 0,
            "zero_underruns_outside_host_stalls": (
                ours["underruns"] - ours["underruns_after_host_stall"] == 0),
        },
        "reference": {
            **reference,
            "added_latency_ms_p50": round(reference["latency_ms_p50"] - lb, 3),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench output")
    parser.add_argument("--participants", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--output", default="lkc_speaker_a")
    parser.add_argument("--input", default="lkc_mic_a", help="microphone that hears --output")
    parser.add_argument("--output-latency", default="low", metavar="LOW|HIGH|MS",
                        help="our output device's buffer (default low)")
    parser.add_argument("--backend", choices=("portaudio", "pulse"), default="portaudio",
                        help="how our engine opens the devices (default portaudio)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.participants < 1 or args.seconds < 1:
        parser.error("--participants and --seconds must be at least 1")
    try:
        latency = parse_latency(args.output_latency)
    except ValueError as exc:
        parser.error(str(exc))
    result = run(args.participants, args.seconds, args.output, args.input,
                 output_latency=latency, backend=args.backend)
    return emit(result, args.json)


