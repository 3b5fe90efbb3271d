"""The one audio format of the engine: 48 kHz mono int16 in 10 ms frames.

48 kHz is what livekit's Opus path, the APM and PulseAudio's null sinks all run at, so no
stage resamples. 10 ms is the block the APM requires and livekit's AudioSource and
AudioStream deliver; every ring, FIFO and meter counts in these frames.
"""

from __future__ import annotations

SAMPLE_RATE = 48000
FRAME = 480  # samples in one 10 ms frame
FRAME_MS = FRAME / SAMPLE_RATE * 1000
