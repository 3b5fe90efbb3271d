"""One participant's connection: its signalling websocket and two peer connections.

The client offers its publisher connection; the sandbox answers and takes in each audio
track the client publishes. The sandbox offers the subscriber connection: it carries the
``_reliable`` / ``_lossy`` data channels the client receives on, and one sending m-line per
track this participant is subscribed to, whose stream id is ``<participant sid>|<track
sid>`` (how the SDK matches media to a publication). As livekit-server does for clients of
protocol 4 and later, an m-line whose track ended is made inactive and, once the client
has accepted that, carries the next track subscribed to: the description does not grow by
a track per visit. Renegotiations of the subscriber connection are serialised: one offer
in flight, changes in the meantime batched into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.sdp import SessionDescription, candidate_from_sdp
from livekit.protocol import models
from livekit.protocol import rtc as proto

from console.sandbox import opus_sdp
from console.sandbox.auth import Grant
from console.sandbox.forward import Fanout, ForwardTrack
from console.sandbox.room import Peer, Published, Room, new_sid

log = logging.getLogger(__name__)
ANSWER_TIMEOUT_S = 10.0
SENDER_START_S = 10.0  # how long an idle sender's transport may take to connect
DATA_BACKLOG = 256  # data packets held for a subscriber whose channels are still opening
REUSE_FROM_PROTOCOL = 4  # livekit-server re-uses idle m-lines for clients from this on
Reason = Any  # a models.DisconnectReason value (the protobuf stubs type enums loosely)


@dataclass
class Subscription:
    """A track this participant receives."""

    track_sid: str
    publisher: Peer
    sink: ForwardTrack
    sender: RTCRtpSender
    transceiver: Any
    fanout: Fanout  # what feeds ``sink`` (the publication may be gone first)


class ClientPeer:
    """A participant in a room, for as long as its websocket lives."""

    def __init__(self, room: Room, grant: Grant, ws: web.WebSocketResponse,
                 protocol: int, on_gone: Callable[[Peer], None],
                 transport: asyncio.BaseTransport | None = None, *,
                 auto_subscribe: bool = True) -> None:
        self.room = room
        self.auto_subscribe = auto_subscribe and grant.can_subscribe
        self.grant = grant
        self.ws = ws
        self._transport = transport  # to cut the connection without a close frame
        self.protocol = protocol
        self._on_gone = on_gone
        now = time.time()
        self.info = models.ParticipantInfo(
            sid=new_sid("PA_"), identity=grant.identity, name=grant.name,
            state=models.ParticipantInfo.State.JOINED, metadata=grant.metadata,
            joined_at=int(now), joined_at_ms=int(now * 1000), version=1,
            permission=models.ParticipantPermission(
                can_subscribe=grant.can_subscribe, can_publish=grant.can_publish,
                can_publish_data=grant.can_publish_data),
            is_publisher=False,
        )
        if grant.attributes:
            self.info.attributes.update(grant.attributes)
        if grant.kind == "agent":
            self.info.kind = models.ParticipantInfo.Kind.AGENT
        self.published: dict[str, Published] = {}      # by track sid
        self._pending: dict[str, Published] = {}       # by client cid, media not yet seen
        self.subscriptions: dict[str, Subscription] = {}
        self._idle: list[tuple[Any, ForwardTrack]] = []  # unsubscribed m-lines, for re-use
        self._config = RTCConfiguration(iceServers=[])
        self.pub_pc = RTCPeerConnection(self._config)
        self.sub_pc = RTCPeerConnection(self._config)
        self._sub_channels: dict[str, RTCDataChannel] = {}
        self._early_candidates: dict[int, list[Any]] = {}  # trickled before the remote SDP
        self._data_backlog: list[tuple[bytes, str]] = []     # for channels not open yet
        self._negotiating = False
        self._dirty = False
        self._answer: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._send_lock = asyncio.Lock()
        self.closed = False
        self.forward_data: Callable[[Peer, models.DataPacket, str], None] | None = None
        self.pub_pc.on("track", self._on_track)
        self.pub_pc.on("datachannel", self._on_datachannel)

    # -- sending ------------------------------------------------------------------------
    def send(self, msg: proto.SignalResponse) -> None:
        if self.closed or self.ws.closed:
            return
        self.spawn(self._send(msg.SerializeToString()))

    async def _send(self, data: bytes) -> None:
        async with self._send_lock:  # keep messages in order
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_bytes(data)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("peer %s: %r", self.info.identity, task.exception())

    # -- joining ------------------------------------------------------------------------
    def join_response(self, server_version: str, node_id: str) -> proto.SignalResponse:
        return proto.SignalResponse(join=proto.JoinResponse(
            room=self.room.info(), participant=self.info,
            other_participants=[p.info for p in self.room.others(self)],
            server_version=server_version,
            server_info=models.ServerInfo(
                edition=models.ServerInfo.Edition.Standard, version=server_version,
                protocol=self.protocol, node_id=node_id, region="sandbox"),
            subscriber_primary=False, fast_publish=True,
            ping_interval=5, ping_timeout=15,
        ))

    def start(self) -> None:
        """After the join response: open the subscriber connection and subscribe to all."""
        self.info.state = models.ParticipantInfo.State.ACTIVE
        for label, ordered in (("_reliable", True), ("_lossy", False)):
            kwargs: dict[str, Any] = {"ordered": ordered}
            if not ordered:
                kwargs["maxRetransmits"] = 0
            channel = self.sub_pc.createDataChannel(label, **kwargs)
            self._sub_channels[label] = channel
            channel.on("open", self._flush_data)
        if self.auto_subscribe:
            for other in self.room.others(self):
                for pub in other.published.values():
                    if pub.fanout is not None:
                        self.subscribe(other, pub, negotiate=False)
        self.spawn(self.negotiate())  # its answer arrives through the message loop

    # -- signalling in ------------------------------------------------------------------
    async def handle(self, req: proto.SignalRequest) -> None:
        kind = req.WhichOneof("message")
        if kind == "offer":
            await self._on_publisher_offer(req.offer)
        elif kind == "answer":
            await self.sub_pc.setRemoteDescription(
                RTCSessionDescription(sdp=req.answer.sdp, type="answer"))
            await self._flush_candidates(self.sub_pc)
            self.spawn(self._start_senders())
            if self._answer is not None and not self._answer.done():
                self._answer.set_result(None)
        elif kind == "trickle":
            await self._on_trickle(req.trickle)
        elif kind == "add_track":
            self._on_add_track(req.add_track)
        elif kind == "mute":
            self.set_track_muted(req.mute.sid, req.mute.muted)
        elif kind == "update_metadata":
            self._on_update_metadata(req.update_metadata)
        elif kind == "ping_req":
            self.send(proto.SignalResponse(pong_resp=proto.Pong(
                last_ping_timestamp=req.ping_req.timestamp, timestamp=int(time.time() * 1000))))
        elif kind == "ping":
            self.send(proto.SignalResponse(pong=int(time.time() * 1000)))
        elif kind == "leave":
            await self.close(notify_client=False)
        elif kind == "subscription":
            self._on_subscription(req.subscription)
        # track_setting, sync_state, simulate...: accepted and ignored

    async def _on_publisher_offer(self, offer: proto.SessionDescription) -> None:
        self._unpublish_stopped(offer.sdp)
        await self.pub_pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp,
                                                                     type="offer"))
        await self._flush_candidates(self.pub_pc)
        answer = await self.pub_pc.createAnswer()
        cids = opus_sdp.offered_track_ids(offer.sdp)
        sdp = opus_sdp.rewrite(answer.sdp,
                               lambda mid, _msid: self._published_features(mid, cids.get(mid)))
        await self.pub_pc.setLocalDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        self.send(proto.SignalResponse(answer=proto.SessionDescription(
            type="answer", sdp=self.pub_pc.localDescription.sdp, id=offer.id)))

    async def _on_trickle(self, trickle: proto.TrickleRequest) -> None:
        try:
            init = json.loads(trickle.candidateInit)
        except ValueError:
            return
        text = init.get("candidate") or ""
        if not text or " tcp " in text.lower():
            return  # end of candidates, or TCP (aioice does UDP only)
        cand = candidate_from_sdp(text.split(":", 1)[1] if text.startswith("candidate:")
                                  else text)
        cand.sdpMid = init.get("sdpMid")
        cand.sdpMLineIndex = init.get("sdpMLineIndex")
        pc = self.pub_pc if trickle.target == proto.SignalTarget.PUBLISHER else self.sub_pc
        if pc.remoteDescription is None:
            self._early_candidates.setdefault(id(pc), []).append(cand)
            return
        with contextlib.suppress(Exception):
            await pc.addIceCandidate(cand)

    async def _flush_candidates(self, pc: RTCPeerConnection) -> None:
        for cand in self._early_candidates.pop(id(pc), []):
            with contextlib.suppress(Exception):
                await pc.addIceCandidate(cand)

    def _published_features(self, mid: str,
                            cid: str | None) -> opus_sdp.OpusFeatures | None:
        """What the track on the publisher's m-line ``mid`` asked for (by its cid while its
        media has not arrived yet); ``None`` for a track never announced."""
        for pub in self.published.values():
            if pub.mid == mid:
                return opus_sdp.OpusFeatures.of(pub.info)
        pending = self._pending.get(cid) if cid is not None else None
        return opus_sdp.OpusFeatures.of(pending.info) if pending is not None else None

    def _subscribed_features(self, _mid: str, msid: str) -> opus_sdp.OpusFeatures | None:
        """What the publisher of the track on a subscriber m-line asked for; the stream id
        ``<participant sid>|<track sid>`` names it."""
        stream = msid.split(" ", 1)[0]
        sub = self.subscriptions.get(stream.rpartition("|")[2])
        if sub is None:
            return None
        pub = sub.publisher.published.get(sub.track_sid)
        return opus_sdp.OpusFeatures.of(pub.info) if pub is not None else None

    def _on_add_track(self, req: proto.AddTrackRequest) -> None:
        if not self.grant.can_publish:
            return
        info = models.TrackInfo(
            sid=new_sid("TR_"), type=req.type, name=req.name, muted=req.muted,
            source=req.source, mime_type="audio/opus", disable_dtx=req.disable_dtx,
            stereo=req.stereo, disable_red=req.disable_red, stream=req.stream,
            audio_features=req.audio_features,
        )
        pub = Published(info=info, cid=req.cid)
        self._pending[req.cid] = pub
        self.send(proto.SignalResponse(track_published=proto.TrackPublishedResponse(
            cid=req.cid, track=info)))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            return
        pub = self._pending.pop(track.id, None)
        if pub is None and self._pending:
            pub = self._pending.pop(next(iter(self._pending)))  # oldest request
        if pub is None:
            return
        receiver = None
        for transceiver in self.pub_pc.getTransceivers():
            if transceiver.receiver.track is track:
                pub.mid = transceiver.mid
                pub.info.mid = transceiver.mid or ""
                receiver = transceiver.receiver
        if receiver is None:
            return
        pub.fanout = Fanout(pub.info.sid, receiver)
        pub.fanout.start()
        self.published[pub.info.sid] = pub
        self.info.tracks.append(pub.info)
        self.info.is_publisher = True
        self.info.version += 1
        self.room.publish(self, pub)

    def _unpublish_stopped(self, sdp: str) -> None:
        """Tracks whose m-line the client stopped sending on (unpublish has no message)."""
        try:
            parsed = SessionDescription.parse(sdp)
        except Exception:
            return
        stopped = {m.rtp.muxId for m in parsed.media
                   if m.kind == "audio" and m.direction in ("inactive", "recvonly")}
        for sid, pub in list(self.published.items()):
            if pub.mid is not None and pub.mid in stopped:
                self.unpublish(sid)

    def unpublish(self, track_sid: str) -> None:
        pub = self.published.pop(track_sid, None)
        if pub is None:
            return
        for i, t in enumerate(self.info.tracks):
            if t.sid == track_sid:
                del self.info.tracks[i]
                break
        self.info.version += 1
        for other in self.room.others(self):
            other.unsubscribe(track_sid)
        if pub.fanout is not None:
            self.spawn(pub.fanout.stop())
        self.send(proto.SignalResponse(track_unpublished=proto.TrackUnpublishedResponse(
            track_sid=track_sid)))
        self.room.broadcast_participant(self)

    def set_track_muted(self, track_sid: str, muted: bool) -> None:
        pub = self.published.get(track_sid)
        if pub is None:
            for pending in self._pending.values():
                if pending.info.sid == track_sid:
                    pending.info.muted = muted
            return
        self.room.mark_muted(self, pub, muted)

    def _on_update_metadata(self, req: proto.UpdateParticipantMetadata) -> None:
        if req.metadata:
            self.info.metadata = req.metadata
        if req.name:
            self.info.name = req.name
        for key, value in req.attributes.items():
            if value:
                self.info.attributes[key] = value
            else:
                self.info.attributes.pop(key, None)
        self.info.version += 1
        self.send(proto.SignalResponse(request_response=proto.RequestResponse(
            request_id=req.request_id, reason=proto.RequestResponse.Reason.OK)))
        self.room.broadcast_participant(self, include_self=True)

    def _on_subscription(self, req: proto.UpdateSubscription) -> None:
        sids = set(req.track_sids) | {s for pt in req.participant_tracks for s in pt.track_sids}
        for sid in sids:
            if req.subscribe and not self.grant.can_subscribe:
                continue
            if not req.subscribe:
                self.unsubscribe(sid)
                continue
            for other in self.room.others(self):
                pub = other.published.get(sid)
                if pub is not None and pub.fanout is not None:
                    self.subscribe(other, pub)

    # -- data ---------------------------------------------------------------------------
    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        label = channel.label

        @channel.on("message")
        def on_message(message: bytes | str) -> None:
            if isinstance(message, str) or self.forward_data is None:
                return
            packet = models.DataPacket()
            try:
                packet.ParseFromString(message)
            except Exception:
                return
            if not self.grant.can_publish_data:
                return
            self.forward_data(self, packet, label)

    def deliver_data(self, packet: bytes, label: str) -> None:
        """Send on the subscriber channel; held back (up to DATA_BACKLOG) until it opens."""
        channel = self._sub_channels.get(label) or self._sub_channels.get("_reliable")
        if channel is None or channel.readyState in ("closing", "closed"):
            return
        if channel.readyState != "open":
            if len(self._data_backlog) < DATA_BACKLOG:
                self._data_backlog.append((packet, label))
            return
        with contextlib.suppress(Exception):
            channel.send(packet)

    def _flush_data(self) -> None:
        backlog, self._data_backlog = self._data_backlog, []
        for packet, label in backlog:
            self.deliver_data(packet, label)

    # -- subscribing ----------------------------------------------------------------------
    def subscribe(self, publisher: Peer, pub: Published, *, negotiate: bool = True) -> None:
        """Send ``pub`` on an idle m-line if one is negotiated inactive, else on a new one:
        as livekit-server does, so that a room where people come and go all day does not
        grow the subscriber's description (and its peer connection) by a track a visit."""
        sid = pub.info.sid
        if sid in self.subscriptions or pub.fanout is None or self.closed:
            return
        idle = self._take_idle()
        if idle is not None:
            transceiver, sink = idle
            pub.fanout.subscribe(sink)
            transceiver.sender.replaceTrack(sink)  # the m-line's msid names the new track
            transceiver.direction = "sendonly"
        else:
            sink = pub.fanout.subscribe()
            transceiver = self.sub_pc.addTransceiver(sink, direction="sendonly")
        transceiver.sender._stream_id = f"{publisher.info.sid}|{sid}"
        self.subscriptions[sid] = Subscription(sid, publisher, sink, transceiver.sender,
                                               transceiver, pub.fanout)
        if negotiate:
            self.spawn(self.negotiate())

    def unsubscribe(self, track_sid: str) -> None:
        sub = self.subscriptions.pop(track_sid, None)
        if sub is None:
            return
        keep = (self.protocol >= REUSE_FROM_PROTOCOL and not self.closed
                and _still_sending(sub.sender))
        sub.fanout.unsubscribe(sub.sink, keep=keep)
        with contextlib.suppress(Exception):
            sub.transceiver.direction = "inactive"
        if keep:
            self._idle.append((sub.transceiver, sub.sink))
        if not self.closed:
            self.spawn(self.negotiate())

    def reusable(self) -> int:
        """How many idle m-lines the next tracks could go out on now."""
        return sum(1 for transceiver, _ in self._idle if _reusable(transceiver))

    def _take_idle(self) -> tuple[Any, ForwardTrack] | None:
        for i, (transceiver, sink) in enumerate(self._idle):
            if _reusable(transceiver):
                del self._idle[i]
                return transceiver, sink
        return None

    async def _start_senders(self) -> None:
        """Start the senders aiortc left idle: when a renegotiation lands while the first
        DTLS handshake is still running, aiortc's connect step finds the transport neither
        new nor connected and skips them, and nothing starts them later (seen about once
        in 25-50 joins: a subscribed track that never plays). Once the transport is up, its
        connect step is run again; it starts only senders not yet started."""
        pc = self.sub_pc
        deadline = time.monotonic() + SENDER_START_S
        while not self.closed and time.monotonic() < deadline:
            idle = [t for t in pc.getTransceivers()
                    if t.currentDirection in ("sendonly", "sendrecv")
                    and not getattr(t.sender, "_RTCRtpSender__started", True)]
            if not idle:
                return
            if all(t.receiver.transport.state == "connected" for t in idle):
                await pc._RTCPeerConnection__connect()  # type: ignore[attr-defined]
                return
            await asyncio.sleep(0.05)

    async def negotiate(self) -> None:
        """Offer the subscriber connection's current state (serialised)."""
        if self._negotiating:
            self._dirty = True
            return
        self._negotiating = True
        try:
            while not self.closed:
                self._dirty = False
                offer = await self.sub_pc.createOffer()
                sdp = opus_sdp.rewrite(offer.sdp, self._subscribed_features)
                await self.sub_pc.setLocalDescription(RTCSessionDescription(sdp=sdp,
                                                                            type="offer"))
                self._answer = asyncio.get_running_loop().create_future()
                self.send(proto.SignalResponse(offer=proto.SessionDescription(
                    type="offer", sdp=self.sub_pc.localDescription.sdp)))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._answer, ANSWER_TIMEOUT_S)
                if not self._dirty:
                    break
        finally:
            self._negotiating = False

    # -- leaving --------------------------------------------------------------------------
    def leave_request(self, reason: Reason, *,
                      can_reconnect: bool = False) -> None:
        action = (proto.LeaveRequest.Action.RECONNECT if can_reconnect
                  else proto.LeaveRequest.Action.DISCONNECT)
        self.send(proto.SignalResponse(leave=proto.LeaveRequest(
            can_reconnect=can_reconnect, reason=reason, action=action)))

    async def close(self, *, notify_client: bool = False,
                    reason: Reason = 0,
                    abrupt: bool = False) -> None:
        """Leave the room: tell the others, stop media, close everything this peer holds."""
        if self.closed:
            return
        if notify_client:
            self.leave_request(reason)
            await asyncio.sleep(0.05)  # let the leave go out before the socket closes
        self.closed = True
        self._on_gone(self)
        for sid in list(self.subscriptions):
            sub = self.subscriptions.pop(sid)
            pub = sub.publisher.published.get(sid)
            if pub is not None and pub.fanout is not None:
                pub.fanout.unsubscribe(sub.sink)
        for sid in list(self.published):
            pub = self.published.pop(sid)
            for other in self.room.others(self):
                other.unsubscribe(sid)
            if pub.fanout is not None:
                await pub.fanout.stop()
        self.info.state = models.ParticipantInfo.State.DISCONNECTED
        self.info.disconnect_reason = reason
        self.info.version += 1
        self.room.broadcast_participant(self)
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        if abrupt and isinstance(self._transport, asyncio.Transport):
            self._transport.abort()
        else:
            with contextlib.suppress(Exception):
                await self.ws.close()
        for pc in (self.pub_pc, self.sub_pc):
            with contextlib.suppress(Exception):
                await pc.close()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _still_sending(sender: RTCRtpSender) -> bool:
    """aiortc's sending task for ``sender`` has not ended (a sink that ended, or an error,
    ends it for good): one not started yet starts when its m-line is sending again."""
    task = getattr(sender, "_RTCRtpSender__rtp_task", None)
    return task is None or not task.done()


def _reusable(transceiver: Any) -> bool:
    """An idle m-line the client has accepted as inactive (so that sending on it again is
    a new track to the client, not a change of the old one), whose sender still runs."""
    return (transceiver.direction == "inactive" and transceiver.currentDirection == "inactive"
            and _still_sending(transceiver.sender))
