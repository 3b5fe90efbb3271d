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
which come late for a few blocks after a freeze). A microphone frame pairs with the
reference played by its own capture time plus :data:`LEAD_S`, then each frame takes one
frame while the stamps agree (:meth:`EchoReference.feed`), and a frame waits (at most
:data:`MAX_WAIT_S`) for a reference not pushed yet instead of going without it. The echo
path the canceller sees then stays put across freezes (``bench aec --freeze-every``,
docs/BENCHMARKS.md).
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
CENTRE_S = 0.005    # pairing afresh: the frame that ends nearest the lead, this far either way
WANDER_S = 0.015    # paired: the stamps may wander this far from the lead before they win
MAX_OWED = 5        # frames a paired microphone may go without before it pairs afresh
SLACK_S = 0.010     # a frame goes on with this much less lead than it wanted, not waiting
MAX_WAIT_S = 0.05   # a microphone frame waits at most this long for its reference
GONE_S = 0.1        # no block for this long: the output is not playing, nobody waits
BLOCK_S = FRAME / SAMPLE_RATE

Sink = Callable[[npt.NDArray[np.int16]], None]


class EchoReference:
    """Blocks pushed by the output's callback thread (one producer); frames taken by the
    thread that processes the microphone (one consumer)."""

    def __init__(self, capacity: int = SAMPLE_RATE // 2) -> None:
        self._ring = SampleRing(capacity)
        self._clock = StreamClock(SAMPLE_RATE)
        self._pcm = np.zeros(FRAME, dtype=np.int16)
        self._paired = False            # each microphone frame takes one frame (see feed)
        self._owed = 0                  # frames the paired microphone has gone without
        self._end = -math.inf           # the stamp of the last pushed sample
        self._pushed = -math.inf        # when a block last came (time.monotonic())
        self.timed = False              # the last block came with its play time
        self.dropped = 0                # blocks that found the reference full

    # -- producer: the output's callback thread ----------------------------------------------
    def reset(self) -> None:
        """Another output stream: its blocks start a new timeline."""
        self._clock.reset()
        self._paired = False

    def push(self, samples: npt.NDArray[np.int16], played_end: float | None = None) -> None:
        """Queue a played block; ``played_end``: when its last sample will have left the
        speaker (``time.monotonic()``), or None when the output cannot say."""
        now = time.monotonic()
        self._pushed = now
        timed = played_end is not None
        if timed != self.timed:
            # Play times and arrivals are two timelines 20-40 ms apart (the server's
            # buffer): a stream's first block, written before the server said anything,
            # came by arrival, and the stamps then took 20-40 s to creep (MAX_SLOW_PPM)
            # up to the play times. A pairing made on the old timeline is off by that
            # much: it held, owing frames for good, until a freeze broke it.
            self._clock.reset()
            self._paired = False
        self.timed = timed
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

        A frame that goes on without its reference owes it, and the next takes two (see
        :meth:`feed`), but the canceller has then seen that frame's echo before what made
        it: a run of such frames (the output thread still catching up after a freeze) is
        an echo burst. The output pushes a block 19-35 ms before it plays (the server's
        buffer), and a late push of its thread made frames wait a tenth of the time with
        no slack."""
        if not self.timed or now - self._pushed > GONE_S or now - mic_ready > MAX_WAIT_S:
            return False
        return self._end < mic_ready + LEAD_S - SLACK_S

    def available(self) -> int:
        """Samples pushed and not yet fed (or dropped)."""
        return self._ring.available()

    def feed(self, mic_ready: float, sink: Sink | None) -> None:
        """Hand ``sink`` the 10 ms frames played by ``mic_ready`` plus :data:`LEAD_S`, in
        order; NaN: everything there is. Without a sink they are dropped (nobody cancels
        echo).

        Both streams are rigid: a sample plays, or is captured, at a fixed place on its
        stream's timeline (the server skips what a freeze missed), so once paired, the
        microphone's frame k goes with the reference's frame k + c for good, and that is
        what the canceller needs to keep its echo path. The stamps are not that steady: the
        server hands the microphone over a few milliseconds later for seconds after a
        freeze, and the stamps follow that (1 ms a second) until an early frame snaps them
        back. So pairing follows the stamps only to start (the frame that ends nearest the
        lead), then each microphone frame takes one frame, or catches up on frames it went
        without (the reference came late), while that frame's stamp stays within
        :data:`WANDER_S` of the lead. Beyond it the stamps win and pairing starts afresh
        (another output, a device that drifts, one that lost samples). Following the stamps
        every frame instead flipped the pairing a frame at the wander's edges, each flip
        moving the echo path 10 ms (a test on the virtual card failed one run in eight).
        """
        ring = self._ring
        if math.isnan(mic_ready):  # the chain's own silence: no timeline to keep
            while ring.available() >= FRAME:
                self._take(sink)
            self._paired = False
            return
        limit = mic_ready + LEAD_S
        if not self._paired:
            self._owed = 0
            while ring.available() >= FRAME:
                if ring.next_ready(FRAME, SAMPLE_RATE) > limit + CENTRE_S:
                    self._paired = True  # the frames on both sides of the lead were seen
                    return
                self._take(sink)
            return
        self._owed += 1
        while ring.available() >= FRAME:
            end = ring.next_ready(FRAME, SAMPLE_RATE)
            # The next frame goes with the microphone frame ``owed - 1`` before this one
            # (the next one, when nothing is owed): its stamp is held against that
            # frame's lead.
            due = limit - (self._owed - 1) * BLOCK_S
            if end > due + WANDER_S:
                if self._owed:
                    self._paired = False  # owed frames the stamps say are not played yet
                return
            if not self._owed:
                if end > due - WANDER_S:
                    return
                self._paired = False  # behind the stamps by more than they wander
            self._take(sink)
            self._owed = max(0, self._owed - 1)
        if self._owed > MAX_OWED:
            self._paired = False  # the output stopped: pair afresh when it plays again

    def discard(self, mic_ready: float) -> None:
        """Nobody cancels echo: drop what was played by the microphone frame captured by
        ``mic_ready`` (plus the lead; NaN: everything), and pair afresh when someone does.
        For a batch of microphone frames that are only metered (:meth:`feed` pairs one
        frame at a time)."""
        self._paired = False
        self._owed = 0
        ring = self._ring
        limit = math.inf if math.isnan(mic_ready) else mic_ready + LEAD_S + CENTRE_S
        while ring.available() >= FRAME and ring.next_ready(FRAME, SAMPLE_RATE) <= limit:
            self._take(None)

    def _take(self, sink: Sink | None) -> None:
        """Take the next frame, to ``sink`` if there is one."""
        self._ring.take(self._pcm, SAMPLE_RATE)
        if sink is not None:
            sink(self._pcm)
