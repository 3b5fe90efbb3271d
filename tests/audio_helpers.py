"""Test helpers that play known signals on the virtual speakers (real sounddevice streams)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from console.engine.format import SAMPLE_RATE as SR


def sine(amplitude_dbfs: float, hz: float) -> Callable[[int, int], np.ndarray]:
    amp = 10 ** (amplitude_dbfs / 20) * 32767

    def gen(start: int, n: int) -> np.ndarray:
        t = np.arange(start, start + n) / SR
        return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)

    return gen


@contextmanager
def playing(device: str, gen: Callable[[int, int], np.ndarray],
            tap: Callable[[np.ndarray], None] | None = None) -> Iterator[Any]:
    """Play ``gen`` on an output device; ``tap`` receives every block that was played."""
    import sounddevice as sd

    pos = [0]

    def callback(out: np.ndarray, frames: int, _t: Any, _s: Any) -> None:
        block = gen(pos[0], frames)
        out[:, 0] = block
        pos[0] += frames
        if tap is not None:
            tap(block)

    stream = sd.OutputStream(device=device, channels=1, samplerate=SR, dtype="int16",
                             blocksize=480, latency="low", callback=callback)
    stream.start()
    try:
        yield stream
    finally:
        stream.stop()
        stream.close()


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def steady_level(chain: Any, windows: int = 3) -> float:
    """The level (AES17 RMS, dBFS) of what a capture chain processes in steady state.

    Up to ``windows`` one-second windows are recorded (through a tap on the chain); each is
    cut into twenty 50 ms blocks and the window whose blocks agree best is used (its median
    block). This shared VM freezes for 15-65 ms every few seconds, and the gap or catch-up
    that follows (counted by the engine as underruns) must not move a figure held to 0.1 dB.
    """
    best: tuple[float, float] | None = None
    for _ in range(windows):
        got: list[np.ndarray] = []

        def tap(samples: np.ndarray, got: list[np.ndarray] = got) -> None:
            got.append(samples.copy())

        chain.add_tap(tap)
        time.sleep(1.0)
        chain.remove_tap(tap)
        x = np.concatenate(got).astype(np.float64) / 32768
        blocks = x[: x.size // 2400 * 2400].reshape(-1, 2400)
        rms = np.sqrt(np.mean(blocks ** 2, axis=1)) * math.sqrt(2)
        db = 20 * np.log10(np.maximum(rms, 1e-5))
        spread = float(db.max() - db.min())
        if best is None or spread < best[0]:
            best = (spread, float(np.median(db)))
        if spread < 0.2:
            break
    assert best is not None
    return best[1]


_TONE_CHILD = """
import sys, numpy as np, sounddevice as sd
device, dbfs, hz, sr = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
amp, pos = 10 ** (dbfs / 20) * 32767, [0]
def callback(out, frames, _t, _s):
    t = np.arange(pos[0], pos[0] + frames) / sr
    out[:, 0] = (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)
    pos[0] += frames
with sd.OutputStream(device=device, channels=1, samplerate=sr, dtype="int16",
                     blocksize=480, latency="low", callback=callback):
    print("playing", flush=True)
    sys.stdin.read()
"""


@contextmanager
def playing_apart(device: str, amplitude_dbfs: float, hz: float) -> Iterator[None]:
    """Play a sine on an output device from a child process.

    For tests that re-list the devices: re-initialising PortAudio ends every stream of this
    process, and a stream of the test's own (``playing``) torn down that way left PortAudio's
    ALSA thread spinning (endless "capture.ready" lines, an abort that never returned).
    """
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-c", _TONE_CHILD, device, str(amplitude_dbfs), str(hz), str(SR)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "playing"
        yield
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def running_engine(input_device: str, *, processing: Any = None,
                   output_device: str | None = None) -> Iterator[Any]:
    """A started ``AudioEngine`` on the virtual card (processing off unless given),
    stopped after: the engine fixtures of the audio tests."""
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine

    eng = AudioEngine(input_device=input_device,
                      processing=processing if processing is not None else ProcessingConfig.off(),
                      output_device=output_device)
    eng.start()
    try:
        yield eng
    finally:
        eng.stop()


@contextmanager
def pulse_engine(card: Any, *, publishing: bool = True) -> Iterator[Any]:
    """A started ``AudioEngine`` on the sound server's devices (mic A, speaker A,
    processing off), the server moving the streams of a device that goes away as a
    desktop's does; ``publishing=False``: as the window's app starts, no room taking the
    microphone. Stopped after, PortAudio's lists restored."""
    from console.engine import devices
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine

    eng = AudioEngine(input_device="lkc_mic_a", output_device="lkc_speaker_a",
                      processing=ProcessingConfig.off(), backend="pulse")
    eng.set_publishing(publishing)
    with card.rescuing():
        eng.start()
        try:
            yield eng
        finally:
            eng.stop()
            devices.use_backend("portaudio")
