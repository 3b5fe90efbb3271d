"""Rooms: who is in them, what they publish, and what everyone hears about it."""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol

from livekit.protocol import models
from livekit.protocol import rtc as proto

from console.engine.wakeup import cancel_and_wait
from console.sandbox.forward import Fanout

SPEAKER_EVERY_S = 0.25
QUALITY_EVERY_S = 2.0
SPEAKING_DBFS = -50.0     # a track this loud over the last 250 ms is speaking


def new_sid(prefix: str) -> str:
    """An id the SDK accepts: PA_ participants, TR_ tracks, RM_ rooms."""
    return prefix + secrets.token_hex(6)


@dataclass
class Published:
    """A track a participant publishes."""

    info: models.TrackInfo
    cid: str
    fanout: Fanout | None = None   # once its media has arrived
    mid: str | None = None


class Peer(Protocol):
    """A participant as the room and the other participants see it: a client connected
    over signalling (``console.sandbox.peer.ClientPeer``) or a voice the sandbox plays
    itself (``console.sandbox.server_voices.ServerVoice``)."""

    room: Room
    info: models.ParticipantInfo
    published: dict[str, Published]
    auto_subscribe: bool

    def send(self, msg: proto.SignalResponse) -> None: ...

    def subscribe(self, publisher: Peer, pub: Published, *, negotiate: bool = True) -> None: ...

    def unsubscribe(self, track_sid: str) -> None: ...

    def deliver_data(self, packet: bytes, label: str) -> None: ...

    async def close(self, *, notify_client: bool = False, reason: Any = 0,
                    abrupt: bool = False) -> None: ...


def quality_of(published: dict[str, Published]) -> tuple[Any, float]:
    """(ConnectionQuality, score) from the impairments on what a participant publishes."""
    fanouts = [p.fanout for p in published.values() if p.fanout is not None]
    loss = max((f.impairment.loss for f in fanouts), default=0.0)
    delay = max((f.impairment.delay_ms for f in fanouts), default=0.0)
    if any(f.impairment.paused for f in fanouts):
        return models.ConnectionQuality.LOST, 0.0
    if loss >= 0.1 or delay >= 300:
        return models.ConnectionQuality.POOR, 2.0
    if loss > 0 or delay > 0:
        return models.ConnectionQuality.GOOD, 3.5
    return models.ConnectionQuality.EXCELLENT, 4.8


class Room:
    """One room: its peers by identity, its speakers and connection-quality updates."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sid = new_sid("RM_")
        self.created = time.time()
        self.peers: dict[str, Peer] = {}
        self._speaking: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def info(self) -> models.Room:
        return models.Room(
            sid=self.sid, name=self.name, empty_timeout=300, creation_time=int(self.created),
            creation_time_ms=int(self.created * 1000), num_participants=len(self.peers),
            num_publishers=sum(1 for p in self.peers.values() if p.published),
        )

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._updates(),
                                                                name=f"room-{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    def others(self, peer: Peer) -> list[Peer]:
        return [p for p in self.peers.values() if p is not peer]

    async def admit(self, peer: Peer) -> None:
        """Seat ``peer`` under its identity; one already there is told and closed first."""
        old = self.peers.get(peer.info.identity)
        if old is not None:
            await old.close(notify_client=True,
                            reason=models.DisconnectReason.DUPLICATE_IDENTITY)
        self.peers[peer.info.identity] = peer

    def publish(self, peer: Peer, pub: Published) -> None:
        """Tell the room ``peer`` publishes ``pub``; whoever auto-subscribes gets it."""
        self.broadcast_participant(peer)
        for other in self.others(peer):
            if other.auto_subscribe:
                other.subscribe(peer, pub)

    def mark_muted(self, peer: Peer, pub: Published, muted: bool) -> None:
        """A published track's mute changed: in its info, the peer's, and for the room."""
        pub.info.muted = muted
        for track in peer.info.tracks:  # a copy of ``pub.info`` (protobuf appends copy)
            if track.sid == pub.info.sid:
                track.muted = muted
        peer.info.version += 1
        self.broadcast_participant(peer)

    def broadcast_participant(self, peer: Peer, *, include_self: bool = False) -> None:
        """Tell the room (and optionally the peer itself) about one participant's state."""
        update = proto.SignalResponse(update=proto.ParticipantUpdate(participants=[peer.info]))
        for other in self.peers.values():
            if other is not peer or include_self:
                other.send(update)

    # -- periodic updates ---------------------------------------------------------------
    async def _updates(self) -> None:
        next_quality = time.monotonic()
        while True:
            await asyncio.sleep(SPEAKER_EVERY_S)
            self._send_speakers()
            if time.monotonic() >= next_quality:
                next_quality += QUALITY_EVERY_S
                self._send_quality()

    def _send_speakers(self) -> None:
        levels: dict[str, float] = {}
        for peer in self.peers.values():
            level = 0.0
            for pub in peer.published.values():
                lvl = pub.fanout.take_level() if pub.fanout is not None else 0.0
                if not pub.info.muted:
                    level = max(level, lvl)
            dbfs = 20 * math.log10(level) if level > 0 else -math.inf
            if dbfs >= SPEAKING_DBFS:
                levels[peer.info.sid] = min(1.0, level * 2)  # speech at -6 dBFS RMS -> 1.0
        # Like livekit-server, only the changes: who started and who stopped speaking. The
        # SDK passes on the active ones among them, so a client cannot learn from one event
        # who else is still speaking.
        speakers = [models.SpeakerInfo(sid=sid, level=lvl, active=True)
                    for sid, lvl in sorted(levels.items(), key=lambda kv: -kv[1])
                    if sid not in self._speaking]
        speakers += [models.SpeakerInfo(sid=sid, level=0.0, active=False)
                     for sid in self._speaking if sid not in levels]
        self._speaking = levels
        if not speakers:
            return
        msg = proto.SignalResponse(speakers_changed=proto.SpeakersChanged(speakers=speakers))
        for peer in self.peers.values():
            peer.send(msg)

    def _send_quality(self) -> None:
        infos = []
        for peer in self.peers.values():
            quality, score = quality_of(peer.published)
            infos.append(proto.ConnectionQualityInfo(participant_sid=peer.info.sid,
                                                     quality=quality, score=score))
        if not infos:
            return
        msg = proto.SignalResponse(connection_quality=proto.ConnectionQualityUpdate(
            updates=infos))
        for peer in self.peers.values():
            peer.send(msg)
