"""A recording in place of the microphone: ``monitor --input-file`` holds a conversation.

A CI job talking to a voice agent needs a user who says the same thing every run. The
recording goes through everything a microphone's samples go through (the ring, the
processing, the meters, the AudioSource), because it is fed to the capture chain's own
callback by :class:`FileInputStream`, a stand-in for a PortAudio input stream that calls
back every 10 ms in real time from a thread of its own. When the recording ends it is
played again (``loop``) or the "microphone" falls silent, as a user who stopped talking:
it never "goes away", so nothing falls back to another device.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from console.engine.devices import AudioDevice, DeviceError
from console.engine.format import FRAME, SAMPLE_RATE
from console.os_thread_name import name_this_thread

HOSTAPI = "file"
MAX_BEHIND_S = 0.2  # further behind than this (a frozen host), skip ahead: no burst


def read_audio(path: Path) -> npt.NDArray[np.int16]:
    """The recording as 48 kHz mono int16 (channels averaged, other rates resampled)."""
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
        raise DeviceError(f"cannot read {path}: {exc}") from exc
    mono: npt.NDArray[np.float32] = np.asarray(data, dtype=np.float32).mean(axis=1)
    if rate != SAMPLE_RATE and len(mono):
        mono = _resample(mono, int(rate), SAMPLE_RATE)
    if not len(mono):
        raise DeviceError(f"{path} holds no audio")
    pcm: npt.NDArray[np.int16] = np.clip(np.round(mono * 32767.0), -32768, 32767).astype(
        np.int16)
    return pcm


def _resample(x: npt.NDArray[np.float32], rate: int, to: int) -> npt.NDArray[np.float32]:
    """Band-limited resampling of a whole recording in the frequency domain."""
    n = max(1, round(len(x) * to / rate))
    spectrum = np.fft.rfft(x)
    keep = min(len(spectrum), n // 2 + 1)
    out = np.fft.irfft(spectrum[:keep], n) * (n / len(x))
    return out.astype(np.float32)


def file_device(path: Path) -> AudioDevice:
    """How the recording shows where a device would (``mic_state``, the status bar)."""
    return AudioDevice(index=-1, name=f"file:{path.name}", hostapi=HOSTAPI,
                       max_input_channels=1, max_output_channels=0,
                       default_samplerate=float(SAMPLE_RATE), is_default_input=False,
                       is_default_output=False)


class FileInputStream:
    """Calls ``callback(indata, frames, time_info, status)`` with 10 ms of the recording
    every 10 ms, like a sounddevice input stream; ``start``/``stop``/``abort``/``close``."""

    def __init__(self, samples: npt.NDArray[np.int16], callback: Callable[..., None], *,
                 loop: bool = False, blocksize: int = FRAME) -> None:
        self._samples = samples
        self._callback = callback
        self._loop = loop
        self._block = blocksize
        self._pos = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.latency = 0.0
        self.ended = False  # the recording played to its end (without loop): silence now

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="file-input", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)

    abort = stop

    def close(self) -> None:
        self.stop()

    def next_block(self) -> npt.NDArray[np.int16]:
        """The next block: the recording, then (without loop) silence."""
        n = self._block
        out = np.zeros((n, 1), dtype=np.int16)
        filled = 0
        while filled < n and not self.ended:
            take = min(n - filled, len(self._samples) - self._pos)
            out[filled:filled + take, 0] = self._samples[self._pos:self._pos + take]
            filled += take
            self._pos += take
            if self._pos >= len(self._samples):
                if self._loop:
                    self._pos = 0
                else:
                    self.ended = True
        return out

    def _run(self) -> None:
        name_this_thread()
        period = self._block / SAMPLE_RATE
        due = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now - due > MAX_BEHIND_S:
                due = now  # the host froze: go on from now, as a device's clock would
            self._callback(self.next_block(), self._block, None, None)
            due += period
            wait = due - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)

