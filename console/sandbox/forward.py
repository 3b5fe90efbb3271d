"""Forwarding one published audio track to its subscribers, as an SFU does, with test
impairments.

A ``Fanout`` takes the publisher's Opus packets as they arrive at its RTP receiver, before
aiortc's jitter buffer and decoder, and hands each one to every subscriber's
``ForwardTrack``, which aiortc packs again without decoding or encoding. Like LiveKit's
SFU, the sandbox adds no buffering of its own: aiortc's audio jitter buffer holds four
frames (80 ms) before it lets one go, and much longer after a lost packet, and a decode and
an encode per subscriber grow with every voice and every listener.

The level for active speakers comes from each packet's ``ssrc-audio-level`` header
extension (RFC 6464), which WebRTC senders attach. The track's impairment (random loss, a
fixed delay, or a pause) drops or holds packets: a dropped or paused packet leaves a gap in
the RTP timestamps, which the receiver conceals as loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from av.packet import Packet

if TYPE_CHECKING:
    from typing import TypeAlias

    Encoded: TypeAlias = Packet[Any]
else:
    Encoded = Packet

SUBSCRIBER_QUEUE = 25      # packets (20 ms each) a slow subscriber may fall behind
TIME_BASE = fractions.Fraction(1, 48000)
FRAME_S = 0.02             # an Opus packet's length, as WebRTC senders send them
FRAME_TICKS = 960          # the same in RTP time (48 kHz)
SILENT_DBOV = 127          # the quietest level the header extension can carry


@dataclass
class Impairment:
    """What the sandbox does to one forwarded track (test control)."""

    loss: float = 0.0       # fraction of packets dropped, 0..1
    delay_ms: float = 0.0   # extra delay added to every packet
    paused: bool = False    # forward nothing until resumed

    @property
    def active(self) -> bool:
        return self.loss > 0 or self.delay_ms > 0 or self.paused


class ForwardTrack(MediaStreamTrack):
    """One subscriber's copy of a published track: encoded packets, packed as they are.

    A copy can be handed on to another track (:meth:`detach`, then :meth:`attach`), as
    livekit-server re-uses a subscriber's idle m-line for the next track instead of adding
    one: the RTP timestamps then go on from where the last track left them, by the time
    that passed, so the receiver sees one continuous stream."""

    kind = "audio"

    def __init__(self, track_sid: str) -> None:
        super().__init__()
        self._id = track_sid
        self._queue: asyncio.Queue[Encoded | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._offset = 0                    # added to the source's pts (after a hand-on)
        self._rebase = False                # the next packet sets the offset
        self._last: tuple[int, float] | None = None  # the last pts sent, and when

    def offer(self, packet: Encoded | None) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()  # a slow subscriber loses the oldest packet
        self._queue.put_nowait(packet)

    def detach(self) -> None:
        """No more packets of this track: what is queued is dropped, the copy waits."""
        while not self._queue.empty():
            self._queue.get_nowait()

    def attach(self, track_sid: str) -> None:
        """Carry ``track_sid`` from its next packet on (after :meth:`detach`)."""
        self._id = track_sid
        self._rebase = True

    async def recv(self) -> Encoded:  # type: ignore[override]  # aiortc packs a Packet as is
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        now = time.monotonic()
        if self._rebase:
            self._rebase = False
            if self._last is not None and packet.pts is not None:
                last_pts, at = self._last
                frames = max(1, round((now - at) / FRAME_S))
                self._offset = last_pts + frames * FRAME_TICKS - packet.pts
        if self._offset and packet.pts is not None:
            moved = Packet(bytes(packet))
            moved.pts = packet.pts + self._offset
            moved.time_base = TIME_BASE
            packet = moved
        if packet.pts is not None:
            self._last = (packet.pts, now)
        return packet


class Fanout:
    """Takes a publisher's packets off its RTP receiver and feeds every subscriber."""

    def __init__(self, track_sid: str, receiver: RTCRtpReceiver | None = None) -> None:
        self.receiver = receiver
        self.track_sid = track_sid
        self.impairment = Impairment()
        self._sinks: set[ForwardTrack] = set()
        self._listeners: list[Callable[[bytes], None]] = []
        self._delayed: deque[tuple[float, Encoded]] = deque()
        self._power = 0.0          # sum of the packets' mean-square levels (full scale 1.0)
        self._count = 0
        self._last_ts: int | None = None  # the newest RTP timestamp seen
        self._pts = 0                     # unwrapped RTP time since the first packet
        self._hooked = False
        self.frames_in = 0
        self.frames_dropped = 0

    def start(self) -> None:
        """Take the receiver's packets from now on (aiortc neither buffers nor decodes them).
        Without a receiver, packets come through :meth:`feed`."""
        receiver = self.receiver
        if receiver is None or self._hooked:
            return
        self._hooked = True
        codecs: dict[int, Any] = getattr(receiver, "_RTCRtpReceiver__codecs", {})

        async def handle(packet: RtpPacket, arrival_time_ms: int = 0) -> None:
            codec = codecs.get(packet.payload_type)
            if codec is not None and codec.mimeType.lower() == "audio/opus" and packet.payload:
                level = packet.extensions.audio_level
                self.feed(packet.payload, packet.timestamp,
                          level[1] if level is not None else SILENT_DBOV)

        receiver._handle_rtp_packet = handle  # type: ignore[method-assign]

    def subscribe(self, sink: ForwardTrack | None = None) -> ForwardTrack:
        """A new copy of this track, or ``sink`` (a detached copy) carrying it from now."""
        if sink is None:
            sink = ForwardTrack(self.track_sid)
        else:
            sink.attach(self.track_sid)
        self._sinks.add(sink)
        return sink

    def unsubscribe(self, sink: ForwardTrack, *, keep: bool = False) -> None:
        """Stop feeding ``sink``: it ends, or with ``keep`` it waits for another track."""
        self._sinks.discard(sink)
        if keep:
            sink.detach()
        else:
            sink.offer(None)

    def listen(self, listener: Callable[[bytes], None]) -> None:
        """Also hand every forwarded packet's Opus payload to ``listener`` (the sandbox's
        agent hears a track this way: what a subscriber gets, with no peer connection)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def unlisten(self, listener: Callable[[bytes], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def take_level(self) -> float:
        """RMS level (linear, full scale 1.0) since the last call."""
        level = (self._power / self._count) ** 0.5 if self._count else 0.0
        self._power, self._count = 0.0, 0
        return level

    def feed(self, payload: bytes, ts: int, dbov: int) -> None:
        """One Opus packet: its RTP timestamp and its level in -dBov (0 loudest, 127 silent)."""
        self.frames_in += 1
        self._power += 0.0 if dbov >= SILENT_DBOV else 10.0 ** (-dbov / 10.0)
        self._count += 1
        last = ts if self._last_ts is None else self._last_ts
        step = (ts - last) & 0xFFFFFFFF
        if step >= 0x80000000:
            step -= 0x100000000  # an older packet, reordered on the way
        self._last_ts = ts if step > 0 else last
        pts = self._pts + step
        self._pts = max(self._pts, pts)
        out = Packet(payload)
        out.pts = pts
        out.time_base = TIME_BASE
        self._forward(out)

    def _forward(self, packet: Encoded) -> None:
        imp = self.impairment
        now = time.monotonic()
        if imp.paused or (imp.loss > 0 and random.random() < imp.loss):
            self.frames_dropped += 1
            return
        if imp.delay_ms > 0 or self._delayed:
            self._delayed.append((now + imp.delay_ms / 1000.0, packet))
            while self._delayed and self._delayed[0][0] <= now:
                self._send(self._delayed.popleft()[1])
            if self._delayed:
                loop = asyncio.get_running_loop()
                loop.call_at(loop.time() + (self._delayed[0][0] - now), self._release)
            return
        self._send(packet)

    def _release(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            self._send(self._delayed.popleft()[1])

    def _send(self, packet: Encoded) -> None:
        for sink in self._sinks:
            sink.offer(packet)
        if self._listeners:
            payload = bytes(packet)
            for listener in list(self._listeners):
                listener(payload)

    async def stop(self) -> None:
        hooked, self._hooked = self._hooked, False
        if hooked and self.receiver is not None:
            with contextlib.suppress(AttributeError):
                del self.receiver._handle_rtp_packet  # the class's own handler again
        self._delayed.clear()
        for sink in list(self._sinks):
            sink.offer(None)
        self._sinks.clear()
        self._listeners.clear()
