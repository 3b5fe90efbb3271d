"""A participant channel: one remote audio track on its way to the mixer.

A :class:`~console.engine.block_source.BlockSource` (a
:class:`~console.engine.track_tap.TrackTap` on a live track) is drained into a small FIFO on
each mixer tick; the mixer pulls exactly one 10 ms frame per tick.
The channel meters what arrives (pre-fader, so a locally muted participant still shows
that they talk), applies local mute and gain with a per-frame ramp (never a click), and
keeps its depth near a target: when the sender's clock runs fast or slow against the
output device, it consumes up to 1.25 % more or fewer samples per frame (linear
interpolation, inaudible on voice) and counts what it dropped or inserted.
The target adapts like a jitter buffer (``adaptive_target.CHANNEL``): underruns raise it,
calm lowers it again. Underruns right after a freeze of this process are counted apart and
leave the target alone: a bigger jitter buffer cannot help against a host that stops us,
and would only add latency for good.
Running dry never clicks: the missing part of the frame continues the last samples played
backwards (a mirror: no jump in the waveform) fading to silence, and playback that resumes
fades in over its first frame (see ``conceal``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from livekit import rtc

from console.engine import adaptive_target, conceal
from console.engine.adaptive_target import AdaptiveTarget
from console.engine.block_source import BlockSource
from console.engine.format import FRAME, FRAME_MS, SAMPLE_RATE
from console.engine.gain_ramp import GainRamp
from console.engine.meter import LevelMeter, MeterSnapshot
from console.engine.ring import SampleFifo
from console.engine.stream_clock import StreamClock
from console.engine.track_tap import TrackTap, open_taps
from console.engine.vad import VoiceActivity

MAX_GAIN_DB = 12.0
STREAM_CAPACITY_MS = 100  # waiting in the tap at most; livekit's AudioStream is unbounded
# From this many open tracks on, the next ones arrive in 20 ms blocks: half the FFI events
# (each one runs Python on livekit's thread), which a big room needs more than it needs the
# 10 ms of latency they add.
BIG_ROOM_TRACKS = 8
TARGET_MS = 30.0      # what the channel keeps buffered ahead of the mixer
MAX_MS = 200.0        # beyond this the oldest audio is dropped (counted)
DEADBAND_MS = 4.0     # no clock correction while the average depth is this close to target
SKEW_PER_MS = 1.0     # samples per frame of correction per ms of average depth error
SMOOTHING = 0.05      # weight of each frame in the average depth (about 200 ms)
MAX_SKEW = 6          # samples per frame the drift control may add or take (1.25 %)
CATCH_UP_MS = 40.0    # an average depth this far above target is cut at once, not stretched
MAX_TARGET_MS = 100.0  # the adaptive target's cap, whatever the channel's base
ACTIVE_S = 0.5        # a channel that received audio this recently is expected to keep up
VOICE_RESYNC_S = 0.2  # a gap this long in a track's blocks starts a new voice timeline
LATE_MS = (15.0, 30.0)  # a block is counted late when it lands this long after it was due


@functools.cache
def _stretch_grid(n: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Where FRAME output samples fall among ``n`` input samples (n = FRAME +- MAX_SKEW)."""
    return (np.linspace(0.0, n - 1, FRAME, dtype=np.float32), np.arange(n, dtype=np.float32))


def db_to_gain(db: float) -> float:
    return 0.0 if db == -math.inf else float(10 ** (min(db, MAX_GAIN_DB) / 20))


@dataclass(frozen=True)
class ChannelStats:
    """What the window and the monitor show for one participant channel."""

    key: str
    label: str
    muted: bool
    gain_db: float
    meter: MeterSnapshot
    stream_queue_ms: float
    channel_queue_ms: float
    frames_received: int
    underruns: int
    frames_dropped: int
    samples_dropped: int   # clock correction: sender faster than the device
    samples_inserted: int  # clock correction: sender slower than the device
    ended: bool
    target_ms: float = TARGET_MS  # the jitter target now (raised by underruns)
    underruns_after_stall: int = 0  # the part of ``underruns`` that followed a host stall
    # Blocks that landed more than 15 / 30 ms after they were due (a block's length after the
    # one before): what the jitter target has to absorb, from the sender to livekit's thread.
    blocks_late_15ms: int = 0
    blocks_late_30ms: int = 0

    @property
    def queue_ms(self) -> float:
        """Audio waiting for this participant: in its source plus in the channel."""
        return self.stream_queue_ms + self.channel_queue_ms


class Channel:
    """One participant's audio between its block source and the mixer."""

    def __init__(
        self,
        key: str,
        source: BlockSource,
        *,
        label: str | None = None,
        gain_db: float = 0.0,
        muted: bool = False,
        target_ms: float = TARGET_MS,
    ) -> None:
        self.key = key
        self.label = label or key
        self._source = source
        self._fifo = SampleFifo(int(SAMPLE_RATE * MAX_MS / 1000))
        # Longer blocks empty the FIFO further before the next one lands: keep the same
        # margin for a late block.
        target_ms += source.frame_ms - FRAME_MS
        self._base = int(SAMPLE_RATE * target_ms / 1000)
        self._target = self._base
        self._adaptive = AdaptiveTarget(replace(
            adaptive_target.CHANNEL, max_extra_ms=max(0.0, MAX_TARGET_MS - target_ms)))
        self._depth_avg = float(self._target)
        self.meter = LevelMeter(SAMPLE_RATE, FRAME)
        self._gain_db = gain_db
        self._muted = muted
        self._gain = GainRamp(FRAME, 0.0 if muted else db_to_gain(gain_db))
        self._primed = False
        self._played: npt.NDArray[np.float32] | None = None  # the last frame, to conceal from
        self._fade_in = False
        self._last_rx = -math.inf
        # Voice edges are stamped on the stream's own timeline, not by when this process
        # got to take each block (a block held up for the GIL would read as a late onset).
        self._voice_clock = StreamClock(SAMPLE_RATE, resync_s=VOICE_RESYNC_S)
        self._late = [0, 0]  # blocks later than LATE_MS[0], LATE_MS[1]
        self._received = 0
        self._underruns = 0
        self._underruns_stall = 0
        self._dropped = 0
        self._skew_dropped = 0
        self._skew_inserted = 0
        self._ended = False
        self._voice: VoiceActivity | None = None

    # -- controls (any thread: plain attribute writes) ----------------------------------------
    @property
    def gain_db(self) -> float:
        return self._gain_db

    def set_gain_db(self, db: float) -> None:
        """Local volume: -inf (off) up to +12 dB; ramped over the next frame."""
        self._gain_db = -math.inf if db == -math.inf else min(float(db), MAX_GAIN_DB)

    @property
    def muted(self) -> bool:
        return self._muted

    def set_muted(self, muted: bool) -> None:
        self._muted = bool(muted)

    @property
    def voice(self) -> VoiceActivity | None:
        return self._voice

    def set_voice(self, voice: VoiceActivity | None) -> None:
        """Feed every 10 ms that arrives (pre-fader, stamped with its arrival) to ``voice``
        (the mixer's thread); each frame's detail is how long it waits here before it is
        mixed."""
        self._voice = voice

    # -- receiving (the mixer's thread, in pull) ---------------------------------------------
    def _accept_block(self, data: npt.NDArray[np.int16], arrived: float,
                      now: float = math.nan) -> None:
        self.meter.process(data)
        voice = self._voice
        if voice is not None:
            stamp = self._voice_clock.stamp(data.shape[0], arrived)
            # Waiting before it is mixed: since it was due, plus what is queued ahead of it.
            ahead = (now - stamp if not math.isnan(now) else arrived - stamp) \
                + len(self._fifo) / SAMPLE_RATE
            for i in range(0, data.shape[0] - FRAME + 1, FRAME):
                voice.frame(data[i:i + FRAME], stamp, ahead + i / SAMPLE_RATE)
        self._received += max(1, data.shape[0] // FRAME)
        late_ms = (arrived - self._last_rx) * 1000.0 - data.shape[0] / (SAMPLE_RATE / 1000)
        if late_ms > LATE_MS[0] and self._last_rx > -math.inf:  # the first is never late
            self._late[0] += 1
            if late_ms > LATE_MS[1]:
                self._late[1] += 1
        self._last_rx = arrived
        room = self._fifo.capacity - len(self._fifo)
        if data.shape[0] > room:
            self._dropped += math.ceil((data.shape[0] - room) / FRAME)
        self._fifo.push(data)

    def close(self) -> None:
        """Close the source; nothing is left running (no task: the mixer drains the source)."""
        self._source.close()
        self._ended = True

    # -- mixing (the output device's callback, or the media loop without a device) ---------
    def pull(self, now: float, *, after_stall: bool = False) -> npt.NDArray[np.float32] | None:
        """One 10 ms frame after gain, or None when the channel has nothing to play."""
        source = self._source
        blocks = source.drain()
        for arrived, block in blocks:
            self._accept_block(block, arrived, now)
        if not blocks and self._voice is not None and now - self._last_rx > 0.05:
            self._voice.silence(now)  # nothing arrives (muted, ended): speech has stopped
        if source.ended:
            self._ended = True
        fifo = self._fifo
        depth = len(fifo)
        if not self._primed:
            if depth < self._target:
                return None
            # Start at the target: a burst that arrived before playback is trimmed silently.
            excess = depth - self._target
            if excess >= FRAME:
                fifo.drop(excess)
                self._dropped += excess // FRAME
                depth = len(fifo)
            self._depth_avg = float(depth)
            self._primed = True
        self._adapt_target(now)
        if depth < FRAME:
            if now - self._last_rx < ACTIVE_S and not self._ended:
                self._underruns += 1
                if after_stall:
                    self._underruns_stall += 1
                elif self._adaptive.on_underruns(1, now):
                    self._set_target()
            self._primed = False  # wait for the target depth again: one clean restart
            return self._conceal(depth)
        out = self._apply_gain(self._take_with_drift(depth, after_stall))
        if self._fade_in:
            self._fade_in = False
            conceal.fade_in(out)
        self._played = out  # the mixer only reads it
        return out

    def _conceal(self, depth: int) -> npt.NDArray[np.float32] | None:
        """The last ``depth`` samples, then the frame's missing part faded out; None once
        nothing is left to fade."""
        played, self._played = self._played, None
        if depth == 0 and played is None:
            return None
        raw = np.zeros(FRAME, dtype=np.float32)
        raw[:depth] = self._fifo.pop(depth, np.float32)
        out = self._apply_gain(raw)
        conceal.fade_out_into(out, depth, played)
        self._fade_in = True
        return out

    def _adapt_target(self, now: float) -> None:
        # Calm is counted in frames played (one per primed pull), not in wall-clock time.
        if self._adaptive.relax(now, FRAME_MS / 1000):
            self._set_target()

    def _set_target(self) -> None:
        self._target = self._base + int(self._adaptive.extra_ms * SAMPLE_RATE / 1000)

    def _take_with_drift(self, depth: int, after_stall: bool) -> npt.NDArray[np.float32]:
        # Arrival jitter makes the instant depth swing by a frame or two: steer on its average.
        self._depth_avg += SMOOTHING * (depth - self._depth_avg)
        if after_stall and depth - self._target >= 2 * FRAME:
            # What piled up while this process was frozen: the average has not seen it yet.
            self._depth_avg = float(depth)
        error_ms = (self._depth_avg - self._target) / (SAMPLE_RATE / 1000)
        if error_ms > (FRAME_MS if after_stall else CATCH_UP_MS):
            # A backlog (after a stall upstream): stretching would take seconds of pitch
            # shift, so cut it once, whole frames, counted as dropped.
            cut = (int(self._depth_avg) - self._target) // FRAME * FRAME
            self._fifo.drop(cut)
            self._dropped += cut // FRAME
            depth -= cut
            self._depth_avg -= cut
            error_ms = (self._depth_avg - self._target) / (SAMPLE_RATE / 1000)
        skew = 0
        if abs(error_ms) > DEADBAND_MS:
            excess = error_ms - math.copysign(DEADBAND_MS, error_ms)
            skew = max(-MAX_SKEW, min(MAX_SKEW, round(excess * SKEW_PER_MS)))
        n = min(FRAME + skew, depth)
        src: npt.NDArray[np.float32] = self._fifo.pop(n, np.float32)
        if n == FRAME:
            return src
        if n > FRAME:
            self._skew_dropped += n - FRAME
        else:
            self._skew_inserted += FRAME - n
        pos, grid = _stretch_grid(n)
        return np.interp(pos, grid, src).astype(np.float32)

    def _apply_gain(self, raw: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        # ``raw`` is this frame's own array (popped, stretched or padded): scaled in place.
        return self._gain.apply(raw, 0.0 if self._muted else db_to_gain(self._gain_db))

    # -- reading ------------------------------------------------------------------------------
    def stats(self) -> ChannelStats:
        source = self._source
        return ChannelStats(
            key=self.key, label=self.label, muted=self._muted, gain_db=self._gain_db,
            meter=self.meter.snapshot(),
            stream_queue_ms=float(source.queued * source.frame_ms),
            channel_queue_ms=len(self._fifo) / SAMPLE_RATE * 1000.0,
            frames_received=self._received, underruns=self._underruns,
            frames_dropped=self._dropped + source.dropped * (source.frame_ms // 10),
            samples_dropped=self._skew_dropped,
            samples_inserted=self._skew_inserted, ended=self._ended,
            target_ms=self._target / SAMPLE_RATE * 1000.0,
            underruns_after_stall=self._underruns_stall,
            blocks_late_15ms=self._late[0], blocks_late_30ms=self._late[1],
        )


def open_track_stream(track: rtc.Track) -> TrackTap:
    """A bounded 48 kHz mono tap on a track (call on a running event loop: the engine asks
    on its caller's): 10 ms blocks, or 20 ms once :data:`BIG_ROOM_TRACKS` taps are open."""
    frame_ms = 20 if open_taps() >= BIG_ROOM_TRACKS else 10
    return TrackTap(track, capacity=STREAM_CAPACITY_MS // frame_ms, sample_rate=SAMPLE_RATE,
                    frame_ms=frame_ms)
