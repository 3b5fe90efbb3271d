"""The echo reference: what the speaker played, on the timeline it was played on.

The echo canceller needs what was played, frame by frame, in step with the microphone.
Stamping each played block by when our callback ran is not enough: when this process
freezes (a shared VM stops it for 15-100 ms) the blocks written just after it come in a
burst, and the microphone's frames of the same moments come in a burst too, in no useful
order.

Our libpulse output says when each block will leave the speaker (the server's latency read
after each write: :mod:`console.engine.play_time`), and it plays with no prebuffering, so
that timeline never shifts: a freeze makes the speaker skip what it missed, never delay
what follows. Each block is stamped with that time (the lower envelope of the readings,
which come late for a few blocks after a freeze), a microphone frame takes the reference
up to its own capture time plus :data:`LEAD_S`, and it waits (at most :data:`MAX_WAIT_S`)
for a reference not pushed yet instead of going without it. The echo path the canceller
sees then stays put across freezes (``bench aec --freeze-every``, docs/BENCHMARKS.md).
With no play time (PortAudio's devices), blocks are stamped by arrival on a steady clock
and nothing waits: PortAudio's DAC times, tried the same way, made it worse.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.ring import SampleRing
from console.engine.stream_clock import StreamClock

LEAD_S = 0.020      # the reference runs this far ahead of the microphone frame it goes with
#                     (at 10 ms the canceller, left 2-7 ms of echo delay, fell to 9-12 dB)
STICK_S = 0.005     # the lead follows the two streams' phase this far either way: the
#                     range is a whole frame wide, so any phase can sit in its middle
SLACK_S = 0.010     # a frame goes on with this much less lead than it wanted, not waiting
MAX_WAIT_S = 0.05   # a microphone frame waits at most this long for its reference
GONE_S = 0.1        # no block for this long: the output is not playing, nobody waits

Sink = Callable[[npt.NDArray[np.int16]], None]


class EchoReference:
    """Blocks pushed by the output's callback thread (one producer); frames taken by the
    thread that processes the microphone (one consumer)."""

    def __init__(self, capacity: int = SAMPLE_RATE // 2) -> None:
        self._ring = SampleRing(capacity)
        self._clock = StreamClock(SAMPLE_RATE)
        self._pcm = np.zeros(FRAME, dtype=np.int16)
        self._lead = LEAD_S             # this stream pair's lead (see feed)
        self._end = -math.inf           # the stamp of the last pushed sample
        self._pushed = -math.inf        # when a block last came (time.monotonic())
        self.timed = False              # the last block came with its play time
        self.dropped = 0                # blocks that found the reference full

    # -- producer: the output's callback thread ----------------------------------------------
    def reset(self) -> None:
        """Another output stream: its blocks start a new timeline."""
        self._clock.reset()
        self._lead = LEAD_S

    def push(self, samples: npt.NDArray[np.int16], played_end: float | None = None) -> None:
        """Queue a played block; ``played_end``: when its last sample will have left the
        speaker (``time.monotonic()``), or None when the output cannot say."""
        now = time.monotonic()
        self._pushed = now
        self.timed = played_end is not None
        stamp = self._clock.stamp(samples.shape[0], now if played_end is None else played_end)
        self._end = stamp
        if not self._ring.write(samples, stamp):
            self.dropped += 1

    # -- consumer: the microphone's processing thread ----------------------------------------
    def waiting(self, mic_ready: float, now: float) -> bool:
        """Whether the microphone frame captured by ``mic_ready`` should wait for its
        reference: the output stamps blocks with play times, is playing, has not yet
        pushed what is played by then (plus the lead, less :data:`SLACK_S`), and the
        frame has not waited too long.

        The canceller counts frames: one that goes on with a frame less of reference is
        made up by the next one, within the lead. What it cannot make up is a run of
        frames with none (the output thread still catching up after a freeze): its echo
        path then moves. The output pushes a block 19-35 ms before it plays (the server's
        buffer), and a late push of its thread made frames wait a tenth of the time with
        no slack."""
        if not self.timed or now - self._pushed > GONE_S or now - mic_ready > MAX_WAIT_S:
            return False
        return self._end < mic_ready + self._lead - SLACK_S

    def available(self) -> int:
        """Samples pushed and not yet fed (or dropped)."""
        return self._ring.available()

    def feed(self, mic_ready: float, sink: Sink | None) -> None:
        """Hand ``sink`` each 10 ms frame played by ``mic_ready`` (plus the lead), in order;
        NaN: everything there is. Without a sink they are dropped (nobody cancels echo).

        Both streams come in 10 ms frames, each on its own grid, so the last frame taken
        ends up to 10 ms inside the limit. Where it falls is the pair's phase; with a fixed
        limit, a phase near its edge would flip between two frames at every tenth of a
        millisecond of jitter, and each flip moves the echo path 10 ms. So the limit is
        put half a frame past the last frame taken, within :data:`STICK_S` of the lead: a
        range a frame wide, so that whatever the phase, the limit settles (after one flip
        at most) half a frame from the frames on either side. A narrower range left some
        phases at its edge for good (a test saw the echo path move 10 ms at a freeze).
        """
        ring = self._ring
        pcm = self._pcm
        limit = mic_ready + self._lead
        taken = math.nan
        while ring.available() >= FRAME:
            if not math.isnan(limit) and ring.next_ready(FRAME, SAMPLE_RATE) > limit:
                if not math.isnan(taken):  # both sides of the limit seen: the phase
                    centred = taken - mic_ready + FRAME / SAMPLE_RATE / 2
                    self._lead = min(LEAD_S + STICK_S, max(LEAD_S - STICK_S, centred))
                return
            taken = ring.take(pcm, SAMPLE_RATE)
            if sink is not None:
                sink(pcm)
