"""Test helpers that play known signals on the virtual speakers (real sounddevice streams)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

SR = 48000


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
