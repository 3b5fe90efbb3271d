"""Demo voices the sandbox plays itself: participants with no client behind them.

Each voice sends the same signal as the SDK bot of the same spec (``voices.py``), but its
audio is encoded to Opus once, at start, as a loop of 20 ms packets, and one ticker hands
every voice's next packet to its track's :class:`~console.sandbox.forward.Fanout` every
20 ms, as if it had come from a publisher. No peer connection, no codec work while
running: a big room of them costs the server little, where as many SDK bots (each a full
client, with its own WebRTC stack and encoder) would need several cores and their joins
would time out (figures: docs/BENCHMARKS.md).

To the room they are participants like any other: they are listed, publish one microphone
track, speak (levels from the packets), mute (the blinker) and can be kicked or impaired.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import random
import time
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from livekit.protocol import models
from livekit.protocol import rtc as proto

from console.engine.wakeup import cancel_and_wait
from console.sandbox.forward import SILENT_DBOV, Fanout
from console.sandbox.room import Peer, Published, Room, new_sid
from console.sandbox.voices import MUTE_EVERY_S, SPEECH_LOOP_S, Signal, VoiceSpec
from console.signals import FRAME, SAMPLE_RATE

PACKET = 960                # samples per Opus packet (20 ms)
TICK_S = PACKET / SAMPLE_RATE
TONE_LOOP_S = 1.0           # a whole number of cycles for the integer pitches the specs use
MAX_LATE_TICKS = 5          # further behind than this, the ticker skips ahead (a gap)
BITRATE = 32000


@dataclass(frozen=True)
class EncodedLoop:
    """A signal as Opus packets that can be played round and round without a seam."""

    payloads: tuple[bytes, ...]
    levels: tuple[int, ...]  # each packet's RMS in -dBov (0 full scale, 127 silence)


def signal_loop(spec: VoiceSpec) -> npt.NDArray[np.int16]:
    """One period of the voice's signal, a whole number of packets long."""
    seconds = {"speech": SPEECH_LOOP_S, "silent": TICK_S}.get(spec.signal, TONE_LOOP_S)
    signal = Signal(spec)
    frames = round(seconds * SAMPLE_RATE / PACKET) * (PACKET // FRAME)
    return np.concatenate([signal.next_frame() for _ in range(frames)])


def _dbov(block: npt.NDArray[np.int16]) -> int:
    rms = float(np.sqrt(np.mean(block.astype(np.float64) ** 2))) / 32768.0
    return SILENT_DBOV if rms <= 0 else int(min(SILENT_DBOV, max(0, round(-20 * math.log10(rms)))))


def _encode(samples: npt.NDArray[np.int16]) -> list[bytes]:
    """Opus packets of 20 ms from a fresh encoder (a whole number of packets in)."""
    ctx: Any = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = SAMPLE_RATE
    ctx.layout = "mono"
    ctx.format = "s16"
    ctx.bit_rate = BITRATE
    ctx.time_base = fractions.Fraction(1, SAMPLE_RATE)
    payloads: list[bytes] = []
    for start in range(0, samples.shape[0], PACKET):
        frame = av.AudioFrame.from_ndarray(samples[start:start + PACKET].reshape(1, -1),
                                           format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        payloads.extend(bytes(p) for p in ctx.encode(frame))
    payloads.extend(bytes(p) for p in ctx.encode(None))
    return payloads


def _levels(samples: npt.NDArray[np.int16]) -> tuple[int, ...]:
    n = samples.shape[0] // PACKET
    return tuple(_dbov(samples[i * PACKET:(i + 1) * PACKET]) for i in range(n))


def encode_loop(samples: npt.NDArray[np.int16]) -> EncodedLoop:
    """Encode the loop twice and keep the second pass: its first packet was encoded right
    after the loop's end, so replaying it round and round has no seam."""
    n = samples.shape[0] // PACKET
    payloads = _encode(np.concatenate([samples, samples]))
    return EncodedLoop(tuple(payloads[n:2 * n]), _levels(samples))


def silence_packet() -> bytes:
    """One 20 ms Opus packet of silence (what a muted or silent sender sends)."""
    return encode_loop(np.zeros(PACKET * 2, dtype=np.int16)).payloads[0]


def encode_clip(samples: npt.NDArray[np.int16]) -> EncodedLoop:
    """Encode a clip played once from its start (a reply), padded to whole packets."""
    pad = -samples.shape[0] % PACKET
    whole = np.concatenate([samples, np.zeros(pad, dtype=np.int16)])
    n = whole.shape[0] // PACKET
    return EncodedLoop(tuple(_encode(whole)[:n]), _levels(whole))


class ServerVoice:
    """A participant the sandbox plays: one microphone track fed from an encoded loop."""

    def __init__(self, room: Room, spec: VoiceSpec, loop: EncodedLoop, silence: bytes) -> None:
        self.room = room
        self.spec = spec
        self.auto_subscribe = False
        self.closed = False
        now = time.time()
        self.info = models.ParticipantInfo(
            sid=new_sid("PA_"), identity=spec.identity, name=spec.name,
            state=models.ParticipantInfo.State.ACTIVE, joined_at=int(now),
            joined_at_ms=int(now * 1000), version=1, is_publisher=True,
            permission=models.ParticipantPermission(can_subscribe=False, can_publish=True,
                                                    can_publish_data=False),
        )
        if spec.agent:
            self.info.kind = models.ParticipantInfo.Kind.AGENT
        track = models.TrackInfo(sid=new_sid("TR_"), type=models.TrackType.AUDIO,
                                 name=spec.identity, source=models.TrackSource.MICROPHONE,
                                 mime_type="audio/opus")
        self.info.tracks.append(track)
        self._pub = Published(info=track, cid=track.sid, fanout=Fanout(track.sid))
        self.published = {track.sid: self._pub}
        self._loop = loop
        self._silence = silence
        self._pos = 0
        self._ts = random.getrandbits(32)
        self._next_toggle = time.monotonic() + MUTE_EVERY_S

    # -- in the room ---------------------------------------------------------------------
    async def join(self) -> None:
        """Enter the room, replacing a participant of the same identity, and be heard."""
        await self.room.admit(self)
        self.room.publish(self, self._pub)

    def tick(self, now: float) -> None:
        """Send the next 20 ms packet (muted: encoded silence, as a muted WebRTC sender)."""
        if self.spec.mutes and now >= self._next_toggle:
            self._next_toggle += MUTE_EVERY_S
            self.room.mark_muted(self, self._pub, not self._pub.info.muted)
        fanout = self._pub.fanout
        assert fanout is not None
        if self._pub.info.muted:
            fanout.feed(self._silence, self._ts, SILENT_DBOV)
        else:
            fanout.feed(self._loop.payloads[self._pos], self._ts, self._loop.levels[self._pos])
        self.skip(1)

    def skip(self, packets: int) -> None:
        self._pos = (self._pos + packets) % len(self._loop.payloads)
        self._ts = (self._ts + packets * PACKET) & 0xFFFFFFFF

    # -- the participant interface (a voice listens to nobody) -----------------------------
    def send(self, msg: proto.SignalResponse) -> None:
        pass

    def subscribe(self, publisher: Peer, pub: Published, *, negotiate: bool = True) -> None:
        pass

    def unsubscribe(self, track_sid: str) -> None:
        pass

    def deliver_data(self, packet: bytes, label: str) -> None:
        pass

    async def close(self, *, notify_client: bool = False, reason: Any = 0,
                    abrupt: bool = False) -> None:
        """Leave: the others drop their subscription and hear that it left."""
        if self.closed:
            return
        self.closed = True
        if self.room.peers.get(self.info.identity) is self:
            del self.room.peers[self.info.identity]
        for other in self.room.others(self):
            other.unsubscribe(self._pub.info.sid)
        if self._pub.fanout is not None:
            await self._pub.fanout.stop()
        self.published.clear()
        self.info.state = models.ParticipantInfo.State.DISCONNECTED
        self.info.disconnect_reason = reason
        self.info.version += 1
        self.room.broadcast_participant(self)


class Choir:
    """Every server voice, ticked together every 20 ms on the server's loop."""

    def __init__(self) -> None:
        self.voices: list[ServerVoice] = []
        self._task: asyncio.Task[None] | None = None
        self.skipped = 0  # ticks skipped because the loop was far behind

    async def add(self, room: Room, specs: list[VoiceSpec]) -> list[ServerVoice]:
        """Encode the voices' loops (off the loop) and bring them into ``room``."""
        loops = await asyncio.to_thread(_encode_all, specs)
        voices = [ServerVoice(room, spec, loops[_loop_key(spec)], loops[None].payloads[0])
                  for spec in specs]
        for voice in voices:
            await voice.join()
        self.voices.extend(voices)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="choir")
        return voices

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += TICK_S
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif -wait > MAX_LATE_TICKS * TICK_S:
                late = int(-wait / TICK_S)
                due += late * TICK_S  # a host freeze: leave a gap rather than a burst
                self.skipped += late
                for voice in self.voices:
                    voice.skip(late)
            now = time.monotonic()
            self.voices = [v for v in self.voices if not v.closed]
            for voice in self.voices:
                voice.tick(now)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        for voice in self.voices:
            await voice.close()
        self.voices.clear()


def _loop_key(spec: VoiceSpec | None) -> tuple[str, float, float, int] | None:
    return None if spec is None else (spec.signal, spec.level_dbfs, spec.hz, spec.seed)


def _encode_all(specs: list[VoiceSpec]) -> dict[Any, EncodedLoop]:
    loops: dict[Any, EncodedLoop] = {
        None: encode_loop(np.zeros(PACKET * 2, dtype=np.int16))}  # the muted packet
    for spec in specs:
        key = _loop_key(spec)
        if key not in loops:
            loops[key] = encode_loop(signal_loop(spec))
    return loops
