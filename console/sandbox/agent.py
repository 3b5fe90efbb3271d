"""The sandbox's scripted voice agent: a participant the sandbox runs itself that behaves,
to everyone in the room, as a livekit-agents voice agent does.

It joins with participant kind AGENT and the attributes ``lk.agent.name`` and
``lk.agent.state`` (initializing, then listening, thinking, speaking, listening ...). Like
livekit-agents' room I/O it listens to one participant, the first client to have joined
(never another agent or one of the sandbox's own voices), and to the next when that one
leaves. It hears that participant's microphone as the sandbox forwards it
(``agent_ears``); when an utterance has ended it publishes the user's transcript, thinks
for ``think_s`` and then speaks one of its pre-rendered replies (``agent_voice``) with the
reply's transcript paced word by word with its audio; if the user speaks over it for
``min_interruption_s`` it stops, as an agent does when interrupted. Every turn is recorded
(``agent_turns``) with the times the agent saw and did things.

Like the server's demo voices it has no peer connection: its packets go straight to the
forwarder, and it costs nothing between packets (no ticker while it is silent, only a
silence update and a DTX frame every 400 ms, as a libwebrtc sender with Opus DTX sends).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from livekit.protocol import models
from livekit.protocol import rtc as proto

from console.engine.wakeup import cancel_and_wait
from console.sandbox import agent_turns
from console.sandbox.agent_ears import BLOCK_S, Endpointer, OpusLevels, Utterance, VadOptions
from console.sandbox.agent_turns import AgentTurn
from console.sandbox.agent_voice import Phrase, phrases
from console.sandbox.forward import SILENT_DBOV, Fanout
from console.sandbox.room import Peer, Published, Room, new_sid
from console.sandbox.server_voices import PACKET, TICK_S, silence_packet
from console.sandbox.text_stream import TextStreamOut, send_text

log = logging.getLogger(__name__)

STATE = "lk.agent.state"
NAME = "lk.agent.name"
TOPIC_TRANSCRIPTION = "lk.transcription"
FINAL = "lk.transcription_final"
TRACK = "lk.transcribed_track_id"
SEGMENT = "lk.segment_id"
KEEPALIVE_S = 0.4          # how often a silent sender speaks up under Opus DTX
MAX_LATE_PACKETS = 5       # later than this (a frozen host), the reply skips ahead
TRACK_NAME = "roomio_audio"  # what livekit-agents calls its audio track


@dataclass(frozen=True)
class AgentOptions:
    """How the agent behaves (the defaults are livekit-agents' own where it has them)."""

    think_s: float = 0.6                 # endpoint to reply ("thinking")
    vad: VadOptions = field(default_factory=VadOptions)
    min_interruption_s: float = 0.5      # speech over the reply this long stops it
    interim_every_s: float = 0.5         # interim transcripts of the user while they speak
    departure_timeout_s: float = 20.0    # a dispatched agent leaves a room left empty this long
    empty_timeout_s: float = 300.0       # ... or never joined by anyone this long
    unanswered: frozenset[int] = frozenset()  # turn numbers it thinks about but never answers


@dataclass
class _Pending:
    """A turn between the endpoint and the end of its reply."""

    index: int
    user: str
    utterance: Utterance
    endpoint: float
    segment: str
    reply: Phrase | None = None
    reply_segment: str = ""
    reply_start: float | None = None
    spoken: int = 0                      # words of the reply sent so far
    stream: TextStreamOut | None = None


class ScriptedAgent:
    """One agent in one room (on the sandbox's loop)."""

    def __init__(self, room: Room, *, identity: str, agent_name: str, name: str = "",
                 options: AgentOptions | None = None, replies: tuple[Phrase, ...],
                 silence: bytes, listens_to: Callable[[Peer], bool],
                 on_turn: Callable[[AgentTurn], None] | None = None,
                 leaves_when_alone: bool = False,
                 on_close: Callable[[ScriptedAgent], None] | None = None) -> None:
        self.room = room
        self.agent_name = agent_name
        self.options = options or AgentOptions()
        self.auto_subscribe = True
        self.closed = False
        now = time.time()
        self.info = models.ParticipantInfo(
            sid=new_sid("PA_"), identity=identity, name=name or agent_name,
            state=models.ParticipantInfo.State.ACTIVE, joined_at=int(now),
            joined_at_ms=int(now * 1000), version=1, is_publisher=True,
            kind=models.ParticipantInfo.Kind.AGENT,
            permission=models.ParticipantPermission(can_subscribe=True, can_publish=True,
                                                    can_publish_data=True),
        )
        self.info.attributes[NAME] = agent_name
        self.info.attributes[STATE] = "initializing"
        track = models.TrackInfo(sid=new_sid("TR_"), type=models.TrackType.AUDIO,
                                 name=TRACK_NAME, source=models.TrackSource.MICROPHONE,
                                 mime_type="audio/opus")
        self.info.tracks.append(track)
        self._pub = Published(info=track, cid=track.sid, fanout=Fanout(track.sid))
        self.published = {track.sid: self._pub}
        self.state = "initializing"
        self.states: list[tuple[float, str]] = [(time.monotonic(), self.state)]
        self.turns: list[AgentTurn] = []
        self.linked: str | None = None       # the participant it listens to
        self._replies = replies
        self._silence = silence
        # A DTX frame: the TOC byte alone. After it, a receiver makes comfort noise of the
        # gap rather than concealing lost packets.
        self._dtx = bytes([silence[0] & 0xFC]) if silence else b""
        self._listens_to = listens_to
        self._on_turn = on_turn
        self._on_close = on_close
        self._leaves_when_alone = leaves_when_alone
        self._had_company = False
        self._tap: tuple[Fanout, str] | None = None  # the linked microphone: fanout, sid
        self._levels: OpusLevels | None = None
        self._ears = Endpointer(self.options.vad)
        self._segment: str | None = None     # the user's transcript segment in progress
        self._next_interim = 0.0
        self._turn_count = 0
        self._pending: _Pending | None = None  # thinking about it, or speaking its reply
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._playout: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()
        self._ts0 = random.getrandbits(32)
        self._slot = -1

    # -- in the room ---------------------------------------------------------------------
    @property
    def identity(self) -> str:
        return self.info.identity

    @property
    def track_sid(self) -> str:
        return self._pub.info.sid

    async def join(self) -> None:
        """Enter the room, publish the voice, pick whom to listen to, and listen."""
        await self.room.admit(self)
        self.room.publish(self, self._pub)
        self._keepalive()
        self._relink()
        self._presence()
        self._set_state("listening")
        log.info("agent %s (%s) joined room %s", self.identity, self.agent_name,
                 self.room.name)

    def _set_state(self, state: str) -> None:
        if state == self.state or self.closed:
            return
        self.state = state
        self.states.append((time.monotonic(), state))
        self.info.attributes[STATE] = state
        self.info.version += 1
        self.room.broadcast_participant(self)

    def _relink(self) -> None:
        """Listen to the linked participant, or to the first client to have joined."""
        linked = self.room.peers.get(self.linked) if self.linked else None
        if linked is None:
            candidates = [p for p in self.room.others(self) if self._listens_to(p)]
            if not candidates:
                self.linked = None
                return
            linked = min(candidates, key=lambda p: p.info.joined_at_ms)
            self.linked = linked.info.identity
            log.info("agent %s listens to %s", self.identity, self.linked)
        if self._tap is None:
            for pub in linked.published.values():
                if (pub.fanout is not None and pub.info.type == models.TrackType.AUDIO
                        and pub.info.source in (models.TrackSource.MICROPHONE,
                                                models.TrackSource.UNKNOWN)):
                    self._listen(pub)
                    break

    def _listen(self, pub: Published) -> None:
        assert pub.fanout is not None
        self._unlisten()
        pub.fanout.listen(self._on_packet)
        self._tap = (pub.fanout, pub.info.sid)
        self._levels = OpusLevels()
        self._ears = Endpointer(self.options.vad)

    def _unlisten(self) -> None:
        if self._tap is not None:
            self._tap[0].unlisten(self._on_packet)
        self._tap = None
        self._levels = None
        if self._segment is not None:
            self._segment = None
        self._cancel("endpoint")

    def _presence(self) -> None:
        """A dispatched agent leaves a room nobody is in any more (as a real one's job ends
        when livekit-server closes the room)."""
        if not self._leaves_when_alone:
            return
        if any(self._listens_to(p) for p in self.room.others(self)):
            self._had_company = True
            self._cancel("departure")
        elif "departure" not in self._timers:
            wait = (self.options.departure_timeout_s if self._had_company
                    else self.options.empty_timeout_s)
            self._timers["departure"] = asyncio.get_running_loop().call_later(
                wait, self._depart)

    def _depart(self) -> None:
        log.info("agent %s: room %s has been empty too long", self.identity, self.room.name)
        self._closing = asyncio.get_running_loop().create_task(self.close())

    # -- the participant interface -------------------------------------------------------
    def send(self, msg: proto.SignalResponse) -> None:
        """What the room tells it: joins and leaves are all it cares about."""
        if self.closed or msg.WhichOneof("message") != "update":
            return
        for info in msg.update.participants:
            if info.identity == self.identity:
                continue
            if (info.state == models.ParticipantInfo.State.DISCONNECTED
                    and info.identity == self.linked
                    and self.room.peers.get(info.identity) is None):
                log.info("agent %s: %s left", self.identity, info.identity)
                self.linked = None
                self._unlisten()
                self._abandon()
            self._relink()
        self._presence()

    def subscribe(self, publisher: Peer, pub: Published, *, negotiate: bool = True) -> None:
        if not self.closed and (self.linked is None or publisher.info.identity == self.linked):
            self._relink()

    def unsubscribe(self, track_sid: str) -> None:
        if self._tap is not None and self._tap[1] == track_sid:
            self._unlisten()

    def deliver_data(self, packet: bytes, label: str) -> None:
        pass

    async def close(self, *, notify_client: bool = False, reason: Any = 0,
                    abrupt: bool = False) -> None:
        """Leave: stop talking and listening, and tell the room."""
        if self.closed:
            return
        self._stop_reply(agent_turns.INTERRUPTED)
        self._abandon()
        self._unlisten()
        self.closed = True
        for name in list(self._timers):
            self._cancel(name)
        await cancel_and_wait(self._playout)
        if self.room.peers.get(self.identity) is self:
            del self.room.peers[self.identity]
        for other in self.room.others(self):
            other.unsubscribe(self.track_sid)
        if self._pub.fanout is not None:
            await self._pub.fanout.stop()
        self.published.clear()
        self.info.state = models.ParticipantInfo.State.DISCONNECTED
        self.info.disconnect_reason = reason
        self.info.version += 1
        self.room.broadcast_participant(self)
        log.info("agent %s left room %s", self.identity, self.room.name)
        if self._on_close is not None:
            self._on_close(self)

    # -- hearing -------------------------------------------------------------------------
    def _on_packet(self, payload: bytes) -> None:
        """A packet of the linked microphone, as it is forwarded."""
        if self.closed or self._levels is None:
            return
        try:
            now = time.monotonic()
            levels = self._levels.levels(payload)
            n = len(levels)
            for i, dbfs in enumerate(levels):
                end = now - (n - 1 - i) * BLOCK_S
                self._check_endpoint(end - BLOCK_S)  # an utterance may have ended before
                if self._ears.block(end, dbfs):
                    self._speech_started()
            if self._ears.confirmed:
                self._during_speech(now)
            self._arm_endpoint()
        except Exception:
            log.exception("agent %s: a packet could not be handled", self.identity)

    def _arm_endpoint(self) -> None:
        due = self._ears.due()
        if due is None or "endpoint" in self._timers:
            return
        self._timers["endpoint"] = asyncio.get_running_loop().call_later(
            max(0.0, due - time.monotonic()), self._endpoint_timer)

    def _endpoint_timer(self) -> None:
        self._timers.pop("endpoint", None)
        self._check_endpoint(time.monotonic())
        self._arm_endpoint()

    def _check_endpoint(self, now: float) -> None:
        utterance = self._ears.check(now)
        if utterance is not None:
            self._utterance_ended(utterance, time.monotonic())

    def _speech_started(self) -> None:
        start = self._ears.start
        assert start is not None
        self._segment = "SG_" + secrets.token_hex(6)
        self._next_interim = start + self.options.interim_every_s
        if self.state == "thinking" and self._pending is not None:
            # More to say: the reply being prepared is dropped, as an agent drops a
            # generation the user talked over.
            self._cancel("reply")
            self._record(self._pending, agent_turns.SUPERSEDED, None)
            self._pending = None
            self._set_state("listening")

    def _during_speech(self, now: float) -> None:
        start, last = self._ears.start, self._ears.last_voiced
        assert start is not None and last is not None
        if self._segment is not None and now >= self._next_interim and now - last < 0.1:
            self._next_interim += self.options.interim_every_s
            self._user_transcript(f"(speech {last - start:.1f} s)", final=False)
        if self.state == "speaking" and last - start >= self.options.min_interruption_s:
            log.info("agent %s interrupted by %s", self.identity, self.linked)
            self._stop_reply(agent_turns.INTERRUPTED)

    def _utterance_ended(self, utterance: Utterance, endpoint: float) -> None:
        if self._segment is not None:
            self._user_transcript(f"(speech {utterance.duration_s:.1f} s)", final=True)
        segment, self._segment = self._segment or "", None
        if self.state == "speaking" or self.linked is None:
            return  # too short to interrupt the reply: not a turn of its own
        self._turn_count += 1
        self._pending = _Pending(self._turn_count, self.linked, utterance, endpoint, segment)
        self._set_state("thinking")
        self._timers["reply"] = asyncio.get_running_loop().call_later(
            max(0.0, endpoint + self.options.think_s - time.monotonic()), self._reply)

    def _user_transcript(self, text: str, *, final: bool) -> None:
        """The user's words as livekit-agents sends an STT result: a short stream per update,
        sent on the user's behalf, naming the user's microphone track."""
        if self.linked is None or self._tap is None or self._segment is None:
            return
        send_text(self._deliver, text, topic=TOPIC_TRANSCRIPTION, sender=self.identity,
                  on_behalf_of=self.linked,
                  attributes={FINAL: "true" if final else "false", TRACK: self._tap[1],
                              SEGMENT: self._segment})

    # -- speaking ------------------------------------------------------------------------
    def _reply(self) -> None:
        self._timers.pop("reply", None)
        turn = self._pending
        if turn is None or self.closed:
            return
        if turn.index in self.options.unanswered:
            self._pending = None
            self._record(turn, agent_turns.UNANSWERED, None)
            self._set_state("listening")
            return
        turn.reply = self._replies[(turn.index - 1) % len(self._replies)]
        turn.reply_segment = "SG_" + secrets.token_hex(6)
        self._set_state("speaking")
        self._playout = asyncio.get_running_loop().create_task(
            self._play(turn), name=f"agent-{self.identity}")

    async def _play(self, turn: _Pending) -> None:
        """The reply's packets in real time, each word's text as its audio starts."""
        phrase = turn.reply
        assert phrase is not None
        loop = asyncio.get_running_loop()
        due = loop.time()
        slot = self._clock_slot()
        i = 0
        while i < len(phrase.payloads):
            self._feed(phrase.payloads[i], phrase.levels[i], slot)
            if i == 0:
                turn.reply_start = time.monotonic()
                turn.stream = TextStreamOut(
                    self._deliver, topic=TOPIC_TRANSCRIPTION, sender=self.identity,
                    attributes={FINAL: "false", TRACK: self.track_sid,
                                SEGMENT: turn.reply_segment})
            while turn.spoken < len(phrase.words) and phrase.word_packets[turn.spoken] <= i:
                assert turn.stream is not None
                turn.stream.write(phrase.words[turn.spoken])
                turn.spoken += 1
            i += 1
            slot += 1
            due += TICK_S
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif -wait > MAX_LATE_PACKETS * TICK_S:
                late = int(-wait / TICK_S)  # a frozen host: a gap rather than a burst
                i, slot, due = i + late, slot + late, due + late * TICK_S
        self._playout = None
        self._stop_reply(agent_turns.ANSWERED)

    def _stop_reply(self, outcome: str) -> None:
        """End the reply being spoken (to its end, or cut short) and go back to listening."""
        turn = self._pending
        if turn is None or turn.reply is None:
            return
        self._pending = None
        if self._playout is not None:
            self._playout.cancel()
            self._playout = None
        self._go_quiet()
        if turn.stream is not None:
            turn.stream.close({FINAL: "true", TRACK: self.track_sid})
        self._record(turn, outcome, time.monotonic())
        self._set_state("listening")

    def _abandon(self) -> None:
        """The user left while the agent was thinking: nobody to answer."""
        turn = self._pending
        if turn is not None and turn.reply is None:
            self._cancel("reply")
            self._pending = None
            self._record(turn, agent_turns.ABANDONED, None)
            self._set_state("listening")

    def _record(self, turn: _Pending, outcome: str, reply_end: float | None) -> None:
        phrase = turn.reply
        record = AgentTurn(
            agent=self.identity, room=self.room.name, user=turn.user, index=turn.index,
            user_start=turn.utterance.start, user_end=turn.utterance.end,
            endpoint=turn.endpoint, reply_start=turn.reply_start,
            reply_end=reply_end if turn.reply_start is not None else None, outcome=outcome,
            reply_text=phrase.text if phrase is not None else "",
            spoken_text="".join(phrase.words[:turn.spoken]) if phrase is not None else "",
            user_segment_id=turn.segment, reply_segment_id=turn.reply_segment,
            wall_offset=time.time() - time.monotonic())
        self.turns.append(record)
        log.info("%s", record.describe())
        if self._on_turn is not None:
            self._on_turn(record)

    # -- sending -------------------------------------------------------------------------
    def _clock_slot(self) -> int:
        """The next packet's slot: the wall clock's, after a silence (RTP time runs on
        through it, as with DTX), never one already used."""
        self._slot = max(self._slot + 1, round((time.monotonic() - self._t0) / TICK_S))
        return self._slot

    def _feed(self, payload: bytes, level: int, slot: int) -> None:
        self._slot = max(self._slot, slot)
        fanout = self._pub.fanout
        if fanout is not None and not self.closed:
            fanout.feed(payload, (self._ts0 + slot * PACKET) & 0xFFFFFFFF, level)

    def _go_quiet(self) -> None:
        """What a WebRTC sender with DTX sends when its source falls silent, and then every
        400 ms: a silence update and a DTX frame."""
        slot = self._clock_slot()
        self._feed(self._silence, SILENT_DBOV, slot)
        self._feed(self._dtx, SILENT_DBOV, slot + 1)

    def _keepalive(self) -> None:
        if self.closed:
            return
        if self._playout is None:
            self._go_quiet()
        self._timers["keepalive"] = asyncio.get_running_loop().call_later(
            KEEPALIVE_S, self._keepalive)

    def _deliver(self, data: bytes) -> None:
        for peer in self.room.others(self):
            peer.deliver_data(data, "_reliable")

    def _cancel(self, name: str) -> None:
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()


async def render_replies() -> tuple[tuple[Phrase, ...], bytes]:
    """The replies and an encoded silence packet (rendered once, off the loop)."""
    return await asyncio.to_thread(lambda: (phrases(), silence_packet()))
