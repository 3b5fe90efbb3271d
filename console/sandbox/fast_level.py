"""A numpy RFC 6465 audio level for aiortc's RTP senders.

aiortc computes the audio-level header extension of every outgoing audio packet with a
per-sample Python loop; with tens of forwarded tracks that loop alone would take most of
the server's CPU. This computes the same figure, the frame's RMS in
dBov clamped to -127..0, with numpy, and is installed once when the sandbox is imported.
"""

from __future__ import annotations

import math

import numpy as np
from aiortc import rtp
from av import AudioFrame

MIN_LEVEL = -127


def audio_level_dbov(frame: AudioFrame) -> int:
    samples = np.frombuffer(bytes(frame.planes[0]), dtype=np.int16)
    if samples.size == 0:
        return MIN_LEVEL
    x = samples.astype(np.float32)
    rms = math.sqrt(float(np.dot(x, x)) / samples.size) / 32767.0
    if rms <= 0:
        return MIN_LEVEL
    return round(min(0.0, max(float(MIN_LEVEL), 20 * math.log10(rms))))


def install() -> None:
    rtp.compute_audio_level_dbov = audio_level_dbov
