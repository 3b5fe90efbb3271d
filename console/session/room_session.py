"""One ``rtc.Room`` on a loop of its own: join, publish the microphone, hear everyone.

The room lives on the session's **room loop** (a thread named "room", started by a join
and stopped by :meth:`RoomSession.leave`), never on the engine's media loop: livekit hands
every room event, text stream and stats report to the loop its ``Room`` was made on, and a
burst of them (an agent's interim transcripts: hundreds a second) would hold up the mixer
and the capture chain there. Channels are opened and closed through the engine's facade,
which does that on the media loop. Every remote audio track gets an engine channel (key
``identity/track sid``) the moment it is subscribed and loses it when unsubscribed, so the
mixer always plays exactly who is there. The participant views are rebuilt on the room
loop after every event and read from any thread through :meth:`RoomSession.snapshot`;
every change of the snapshot happens on the room loop (two threads replacing it could lose
an update, such as the self-mute). Agents'
states ride in the views (``agents.py``); the transcript has a snapshot of its own
(:meth:`RoomSession.transcript`, ``text_streams.py``). Only the engine's public facade is
used. Every failure ends as a state with a one-line reason, never as an exception in a
caller's face, and :meth:`leave` leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from livekit import rtc

from console.engine.audio_engine import AudioEngine, EngineNotRunning
from console.loop_thread import LoopThread
from console.redact import redact
from console.session import room_events
from console.session.agent_dispatch import dispatch_agent
from console.session.agents import AgentTracker, is_agent, publishes_for
from console.session.explain import Cause, Explanation, NoAnswer, RoomLost, explain
from console.session.join import JoinError, Resolved
from console.session.model import (
    ConnState,
    ParticipantView,
    SessionSnapshot,
    StateChange,
    TrackStats,
    TrackView,
)
from console.session.participant_prefs import ParticipantPrefs
from console.session.text_streams import TranscriptFeed
from console.session.track_stats import StatsReader
from console.session.transcript import Speaker, TranscriptSnapshot
from console.session.turns import TIMEOUT_S, TurnsSnapshot, TurnTracker

log = logging.getLogger(__name__)
JOIN_TIMEOUT_S = 10.0
STATS_EVERY_S = 2.0
HISTORY = 50
SPEAKING_DBFS = -50.0   # our own meter's RMS: this loud is speaking ...
SPEAKING_HOLD_S = 0.4   # ... and stays so this long after it falls below
SPEAKING_EVERY_S = 0.1
TURNS_EVERY_S = 0.05    # how often turns are looked for (their times come from the audio)
QUALITY = {
    rtc.ConnectionQuality.QUALITY_POOR: "poor",
    rtc.ConnectionQuality.QUALITY_GOOD: "good",
    rtc.ConnectionQuality.QUALITY_EXCELLENT: "excellent",
    rtc.ConnectionQuality.QUALITY_LOST: "lost",
}


def channel_key(identity: str, track_sid: str) -> str:
    return f"{identity}/{track_sid}"


class RoomSession:
    """Joins rooms for one AudioEngine (which must be started); one room at a time."""

    def __init__(self, engine: AudioEngine, *, publish: bool = True, dtx: bool = True,
                 red: bool = True, prefs: ParticipantPrefs | None = None,
                 turn_timeout_s: float = TIMEOUT_S, agent_features: bool = True) -> None:
        """``turn_timeout_s``: the user's speech left without an agent's reply this long
        is an unanswered turn. ``agent_features=False`` reads no transcript and measures
        no turns (what ``bench agent`` compares their cost against); agents' states are
        still shown."""
        self.engine = engine
        # Local volume and mute per participant: applied when their audio opens and
        # whenever the window changes them (prefs tells every listener which identity).
        self.prefs = prefs if prefs is not None else ParticipantPrefs()
        self.prefs.listeners.append(self._apply_prefs)
        self.publish = publish
        self.dtx = dtx
        self.red = red
        self._room: rtc.Room | None = None
        self._loop = LoopThread("room")
        self._left = False   # no room is wanted: the last given-up connect stops the loop
        self._loop_lock = threading.Lock()   # a join starting vs. the loop being stopped
        self._track: rtc.LocalAudioTrack | None = None
        self._snap = SessionSnapshot()
        self._views: dict[str, ParticipantView] = {}
        self._order = 0
        self._speaking: set[str] = set()
        self._loud_at: dict[str, float] = {}       # identity -> last time it was loud
        self._quality: dict[str, str] = {}
        self._track_stats: dict[str, TrackStats] = {}
        self._stats_reader = StatsReader()
        self._agents = AgentTracker()
        # The transcript outlives a room: a rejoin, or Leave then Save, keeps it.
        self._transcript = TranscriptFeed()
        # Turn latency, like the transcript, outlives a room; voice detection runs only
        # while an agent is in the room.
        self._turns = TurnTracker(timeout_s=turn_timeout_s)
        self.agent_features = agent_features
        self._voice_keys: set[str] = set()
        # Channels being opened: the SDK's track-subscribed event and the walk over the
        # tracks already there at connect can name the same track in one instant.
        self._opening: set[str] = set()
        self._mic_watched = False
        self._turns_task: asyncio.Task[None] | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self._speaking_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._let_go: set[asyncio.Task[Any]] = set()  # connects given up, still running
        self._stop_connect: asyncio.Event | None = None
        self._aborts = 0
        # Called on the room loop when the room is lost without our leave (the server
        # shut down, the SDK gave up reconnecting): the controller's rejoin starts here.
        self.on_lost: Callable[[Explanation], None] | None = None

    # -- from any thread ------------------------------------------------------------------
    def snapshot(self) -> SessionSnapshot:
        return self._snap

    def transcript(self) -> TranscriptSnapshot:
        """The transcript (``lk.transcription`` and ``lk.chat``), replaced at most 30 times
        a second; compare ``version`` to redraw only on change."""
        return self._transcript.snapshot()

    def turns(self) -> TurnsSnapshot:
        """Every agent turn measured so far (latency at the wire and at the ear,
        interruptions, unanswered turns) and the figures over them; any thread."""
        return self._turns.snapshot()

    def clear_transcript(self) -> None:
        self._on_loop(self._transcript.clear)

    def join(self, resolved: Resolved, timeout: float = JOIN_TIMEOUT_S + 5,
             aborts: int | None = None) -> SessionSnapshot:
        """Join and wait (not from the room loop); the snapshot says how it went.

        ``aborts`` is :attr:`aborts` as read before deciding to join: an :meth:`abort`
        since then gives this join up too.
        """
        seen = self._aborts if aborts is None else aborts
        if not self.engine.running:
            raise EngineNotRunning
        with self._loop_lock:
            self._left = False
            self._loop.start()
            joining = self._loop.submit(self.connect(resolved, aborts=seen))
        snap = joining.result(timeout)
        if not snap.state.in_room:  # nothing for the loop to do until the next join
            self._stop_loop(left=True)
        return snap

    @property
    def aborts(self) -> int:
        """How many times :meth:`abort` was called."""
        return self._aborts

    def abort(self) -> None:
        """Give up a join under way, from any thread: :meth:`connect` returns at once.

        The SDK's connect itself is not cancelled (the native room would be lost, connected
        or not): it runs on, and a room it still connects is left again at once.
        """
        self._aborts += 1  # a connect that has not started yet sees it
        self._on_loop(self._abort_connect)

    def _abort_connect(self) -> None:
        if self._stop_connect is not None:
            self._stop_connect.set()

    def leave(self, timeout: float = 10.0) -> None:
        """Leave the room (if any) and stop the room loop: nothing of it stays running
        (but a join given up that is still connecting: the loop stays until it is done,
        the SDK's connect being left to finish)."""
        loop = self._loop
        if not loop.running:
            return
        try:
            loop.run(self.disconnect(), timeout)
        finally:
            self._stop_loop(left=True)

    def _stop_loop(self, *, left: bool = False) -> None:
        """Stop the room loop (not from it) once no room is wanted (``left``: from now
        on) and no given-up connect is still running on it."""
        with self._loop_lock:
            if left:
                self._left = True
            if self._left and not self._let_go:
                self._loop.close()

    def set_self_muted(self, muted: bool) -> None:
        """Mute the published microphone: the others see it (track muted)."""
        self._on_loop(self._apply_self_muted, bool(muted))

    def set_push_to_talk(self, enabled: bool) -> None:
        """With push-to-talk on, silence is sent unless :meth:`set_talking` (key held)."""
        self.engine.set_mic_gate(not enabled)  # at once: the gate is one flag
        self._on_loop(self._set, push_to_talk=bool(enabled), talking=not enabled)

    def set_talking(self, talking: bool) -> None:
        self._on_loop(self._apply_talking, bool(talking))

    def set_participant_volume(self, identity: str, gain_db: float) -> None:
        """Local volume for everything ``identity`` publishes (off = -inf .. +12 dB)."""
        self.prefs.set_volume_db(identity, gain_db)

    def set_participant_muted(self, identity: str, muted: bool) -> None:
        """Mute ``identity`` here only (they keep talking to the others)."""
        self.prefs.set_muted(identity, muted)

    def _apply_prefs(self, identity: str) -> None:
        """``identity``'s preferences changed (any thread): their playing channels follow."""
        gain_db, muted = self.prefs.volume_db(identity), self.prefs.muted(identity)
        for key in self._keys_of(identity):
            self.engine.set_channel_gain_db(key, gain_db)
            self.engine.set_channel_muted(key, muted)

    def _on_loop(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        """Run a snapshot change on the room loop; with no loop there is no race."""
        if self._loop.running:
            try:
                self._loop.call_soon(lambda: fn(*args, **kwargs))
                return
            except RuntimeError:  # stopped meanwhile: nothing else changes the snapshot
                pass
        fn(*args, **kwargs)

    def _apply_self_muted(self, muted: bool) -> None:
        self._set(self_muted=muted)
        track = self._track
        if track is not None:
            if muted:
                track.mute()
            else:
                track.unmute()

    def _apply_talking(self, talking: bool) -> None:
        if self._snap.push_to_talk:
            self._set(talking=talking)
            self.engine.set_mic_gate(talking)

    def _keys_of(self, identity: str) -> tuple[str, ...]:
        view = self._views.get(identity)
        return view.channel_keys if view is not None else ()

    # -- state ----------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        self._snap = replace(self._snap, **changes)

    def _state(self, state: ConnState, detail: str = "",
               problem: Explanation | None = None) -> None:
        """A new state; ``problem`` (if any) is why, and ``detail`` its short form."""
        if problem is not None:
            detail = problem.short
        history = (*self._snap.history[-(HISTORY - 1):],
                   StateChange(time.monotonic(), state, detail))
        self._set(state=state, detail=detail, problem=problem, history=history)
        if problem is not None and problem.full != problem.short:
            log.info("session %s: %s (%s)", state.value, detail,
                     problem.full.replace("\n\n", " ").replace("\n", " "))
        else:
            log.info("session %s%s", state.value, f": {detail}" if detail else "")

    def _publish_views(self) -> None:
        views = sorted(self._views.values(), key=lambda v: v.joined_order)
        self._set(participants=tuple(views), agent_events=self._agents.events)

    # -- room loop ------------------------------------------------------------------------
    async def connect(self, resolved: Resolved, aborts: int | None = None) -> SessionSnapshot:
        """Join (leaving any room first); never raises for a failed join.

        ``aborts`` is :attr:`_aborts` as the caller saw it: an :meth:`abort` since then
        gives the join up before it starts.
        """
        await self.disconnect()
        self._set(url=resolved.url, room=resolved.room, identity=resolved.identity,
                  published=False, rtt_ms=math.nan, agent_dispatch="",
                  agent_dispatch_failed=False)
        self._state(ConnState.CONNECTING)
        loop = asyncio.get_running_loop()
        stop = self._stop_connect = asyncio.Event()
        if aborts is not None and aborts != self._aborts:
            stop.set()
        room = rtc.Room(loop=loop)
        self._room = room
        self._wire(room)
        options = rtc.RoomOptions(auto_subscribe=True,
                                  single_peer_connection=False if resolved.sandbox else None)
        attempt = loop.create_task(room.connect(resolved.url, resolved.token, options),
                                   name="session-connect")
        stopped = loop.create_task(stop.wait(), name="session-connect-abort")
        try:
            await asyncio.wait((attempt, stopped), timeout=JOIN_TIMEOUT_S,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            self._stop_connect = None
        if not attempt.done():
            self._let_go_of(room, attempt)
            if stop.is_set():
                self._state(ConnState.DISCONNECTED, "left the room")
            else:
                self._state(ConnState.FAILED, problem=explain(NoAnswer(JOIN_TIMEOUT_S),
                                                              resolved.url))
            return self._snap
        error = attempt.exception()  # rtc.ConnectError and whatever the FFI raises
        if error is not None:
            await self._abandon(room)
            self._state(ConnState.FAILED, problem=explain(error, resolved.url))
            return self._snap
        if stop.is_set():  # Leave came as the connect finished
            await self.disconnect()
            return self._snap
        room_events.narrow(room)
        self._set(room=room.name or resolved.room,
                  identity=room.local_participant.identity or resolved.identity)
        for participant in room.remote_participants.values():
            self._upsert(participant)
            for pub in participant.track_publications.values():
                if pub.track is not None and pub.kind == rtc.TrackKind.KIND_AUDIO:
                    await self._open(pub.track, pub, participant)
        self._publish_views()
        self._state(ConnState.CONNECTED)
        if self.publish:
            await self._publish_mic(room)
        loop = asyncio.get_running_loop()
        self._stats_task = loop.create_task(self._stats_loop(room), name="session-stats")
        self._speaking_task = loop.create_task(self._speaking_loop(), name="session-speaking")
        if self.agent_features:
            self._turns_task = loop.create_task(self._turns_loop(), name="session-turns")
        if resolved.agent:
            await self._dispatch_agent(resolved)
        return self._snap

    async def _dispatch_agent(self, resolved: Resolved) -> None:
        """Say what became of the agent asked for; dispatch it through the server's API
        when the token could not carry it (a given token, with a key and secret known)."""
        name = resolved.agent
        if resolved.dispatch == "token":
            self._set(agent_dispatch=f"agent {name!r} asked for in the token")
            return
        if resolved.dispatch != "api":
            log.warning("%s", resolved.dispatch_note)
            self._set(agent_dispatch=resolved.dispatch_note, agent_dispatch_failed=True)
            return
        try:
            await dispatch_agent(resolved.url, resolved.api_key, resolved.api_secret,
                                 resolved.room, name)
        except Exception as exc:  # the join stands; the agent did not come
            why = redact(str(exc).strip() or type(exc).__name__)[:160]
            log.warning("agent %r: dispatch refused: %s", name, why)
            self._set(agent_dispatch=f"agent {name!r} not dispatched: {why}",
                      agent_dispatch_failed=True)
            return
        log.info("agent %r dispatched to %r through the server API", name, resolved.room)
        self._set(agent_dispatch=f"agent {name!r} dispatched")

    async def _publish_mic(self, room: rtc.Room) -> None:
        self.engine.set_publishing(True)  # the chain processes and sends from here
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self.engine.source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE,
                                          dtx=self.dtx, red=self.red)
        try:
            await room.local_participant.publish_track(track, options)
        except Exception as exc:
            self._set(detail=f"could not publish the microphone: {str(exc)[:120]}")
            return
        self._track = track
        if self._snap.self_muted:
            track.mute()
        self._set(published=True, mic_track_sid=track.sid)

    async def _abandon(self, room: rtc.Room) -> None:
        with contextlib.suppress(Exception):
            await room.disconnect()
        self._room = None

    def _let_go_of(self, room: rtc.Room, attempt: asyncio.Task[None]) -> None:
        """A connect no longer waited for: should it still succeed, leave that room at once
        (its events are already ignored: it is not :attr:`_room`)."""
        self._room = None
        self._let_go.add(attempt)

        def finished(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is None:
                log.info("session: a join given up connected after all; leaving it")
                leaving = asyncio.get_running_loop().create_task(self._quietly_leave(room))
                self._let_go.add(leaving)
                leaving.add_done_callback(self._let_go_done)
            self._let_go_done(task)

        attempt.add_done_callback(finished)

    def _let_go_done(self, task: asyncio.Task[None]) -> None:
        """A given-up connect (or the leave of its room) is over: after a leave, the last
        one stops the room loop, which the leave left running for it."""
        self._let_go.discard(task)
        if self._left and not self._let_go:  # (a loop cannot join its own thread)
            threading.Thread(target=self._stop_loop, name="room-stopper", daemon=True).start()

    @staticmethod
    async def _quietly_leave(room: rtc.Room) -> None:
        with contextlib.suppress(Exception):
            await room.disconnect()

    async def disconnect(self) -> None:
        """Leave the room: close channels, stop the stats loop; nothing stays running."""
        room, self._room = self._room, None
        for task in (self._stats_task, self._speaking_task, self._turns_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._stats_task = self._speaking_task = self._turns_task = None
        self._unwatch_voices()
        others = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in others:
            t.cancel()
        if others:
            await asyncio.gather(*others, return_exceptions=True)
        if room is not None:
            with contextlib.suppress(Exception):
                await room.disconnect()
        for view in list(self._views.values()):
            for key in view.channel_keys:
                await self.engine.close_channel(key)
        self._track = None
        self.engine.set_publishing(False)
        self._views.clear()
        self._agents.reset(time.monotonic())
        self._transcript.flush()
        self._speaking.clear()
        self._loud_at.clear()
        self._quality.clear()
        self._track_stats.clear()
        self._stats_reader.clear()
        self._publish_views()
        self._set(rtt_ms=math.nan, mic_track_sid="")  # no round trip outside a room
        if room is not None and self._snap.state is not ConnState.FAILED:
            self._set(published=False)
            if self._snap.state is not ConnState.DISCONNECTED:
                self._state(ConnState.DISCONNECTED, "left the room")

    # -- room events (room loop) ----------------------------------------------------------
    def _wire(self, room: rtc.Room) -> None:
        def mine(fn: Any) -> Any:
            def handler(*args: Any) -> None:
                if self._room is room:  # ignore a room we already left
                    fn(*args)
            return handler

        room.on("participant_connected", mine(self._on_joined))
        room.on("participant_disconnected", mine(self._on_left))
        room.on("track_subscribed", mine(self._on_subscribed))
        room.on("track_unsubscribed", mine(self._on_unsubscribed))
        room.on("track_published", mine(lambda pub, p: self._refresh(p)))
        room.on("track_unpublished", mine(lambda pub, p: self._refresh(p)))
        room.on("track_muted", mine(lambda p, pub: self._refresh(p)))
        room.on("track_unmuted", mine(lambda p, pub: self._refresh(p)))
        room.on("connection_quality_changed", mine(self._on_quality))
        room.on("participant_metadata_changed", mine(lambda p, old, new: self._refresh(p)))
        room.on("participant_name_changed", mine(lambda p, old, new: self._refresh(p)))
        room.on("participant_attributes_changed",
                mine(lambda changed, p: self._refresh(p)))
        room.on("reconnecting", mine(lambda: self._state(ConnState.RECONNECTING)))
        room.on("reconnected", mine(lambda: self._state(ConnState.RECONNECTED)))
        room.on("disconnected", mine(self._on_disconnected))
        if self.agent_features:
            self._transcript.attach(room, alive=lambda: self._room is room,
                                    spawn=self._spawn, attribute=self._speaker_of)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_joined(self, participant: rtc.RemoteParticipant) -> None:
        self._upsert(participant)
        self._publish_views()

    def _on_left(self, participant: rtc.RemoteParticipant) -> None:
        view = self._views.pop(participant.identity, None)
        self._agents.forget(participant.identity, time.monotonic())
        self._publish_views()
        if view is not None:
            for key in view.channel_keys:
                self._spawn(self.engine.close_channel(key))

    def _on_subscribed(self, track: rtc.Track, pub: rtc.RemoteTrackPublication,
                       participant: rtc.RemoteParticipant) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._spawn(self._open_and_show(track, pub, participant))

    async def _open_and_show(self, track: rtc.Track, pub: rtc.RemoteTrackPublication,
                             participant: rtc.RemoteParticipant) -> None:
        await self._open(track, pub, participant)
        self._publish_views()

    async def _open(self, track: rtc.Track, pub: rtc.RemoteTrackPublication,
                    participant: rtc.RemoteParticipant) -> None:
        key = channel_key(participant.identity, pub.sid)
        if key in self._opening:  # the other opener shows it when its channel is made
            return
        if not self.engine.has_channel(key):
            self._opening.add(key)
            try:
                await self.engine.open_channel(
                    key, track, label=participant.name or participant.identity,
                    gain_db=self.prefs.volume_db(participant.identity),
                    muted=self.prefs.muted(participant.identity))
            finally:
                self._opening.discard(key)
            if not self._present(participant):  # they left while the channel opened
                await self.engine.close_channel(key)
                return
        self._upsert(participant)

    def _on_unsubscribed(self, track: rtc.Track, pub: rtc.RemoteTrackPublication,
                         participant: rtc.RemoteParticipant) -> None:
        key = channel_key(participant.identity, pub.sid)
        self._spawn(self._close_and_show(key, participant))

    async def _close_and_show(self, key: str, participant: rtc.RemoteParticipant) -> None:
        await self.engine.close_channel(key)
        self._refresh(participant)

    def _refresh(self, participant: rtc.Participant) -> None:
        if isinstance(participant, rtc.RemoteParticipant):
            self._upsert(participant)
            self._publish_views()

    def _present(self, participant: rtc.RemoteParticipant) -> bool:
        """Still in the room we are in (not left, not from a room we already left)."""
        room = self._room
        return (room is not None
                and room.remote_participants.get(participant.identity) is participant)

    def _upsert(self, participant: rtc.RemoteParticipant) -> None:
        """Build ``participant``'s view; never for someone who has left.

        The SDK reports track-unsubscribed, track-unpublished and participant-left in one
        instant; work started by the first (a channel closing) ends after the last, and
        would otherwise bring the departed back as a ghost nothing removes again.
        """
        if not self._present(participant):
            return
        identity = participant.identity
        old = self._views.get(identity)
        if old is None:
            self._order += 1
        has_channel = self.engine.has_channel
        tracks = []
        for pub in participant.track_publications.values():
            if pub.kind != rtc.TrackKind.KIND_AUDIO:
                continue
            key = channel_key(identity, pub.sid)
            tracks.append(TrackView(sid=pub.sid, name=pub.name, muted=pub.muted,
                                    channel_key=key if has_channel(key) else None,
                                    stats=self._track_stats.get(pub.sid, TrackStats())))
        attributes = participant.attributes
        agent = is_agent(participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT,
                         attributes)
        state = self._agents.observe(identity, attributes, time.monotonic())
        self._views[identity] = ParticipantView(
            identity=identity, name=participant.name or identity, sid=participant.sid,
            is_agent=agent, tracks=tuple(tracks), speaking=identity in self._speaking,
            quality=self._quality.get(identity, "unknown"), metadata=participant.metadata,
            joined_order=old.joined_order if old is not None else self._order,
            agent_state=state.state, agent_state_since=state.since,
            on_behalf_of=publishes_for(attributes))

    def _speaker_of(self, track_sid: str | None, sender: str) -> Speaker:
        """Whose words a text stream carries: the owner of the transcribed track (our own
        microphone included: "you"), else the sender, which may be our own identity (an
        agent sends the user's words under the user's identity); an avatar worker's words
        are its agent's."""
        room = self._room
        if room is None:
            return Speaker(sender, sender)
        local = room.local_participant
        remote = room.remote_participants
        identity = sender
        if track_sid:
            if track_sid in local.track_publications:
                identity = local.identity
            else:
                for participant in remote.values():
                    if track_sid in participant.track_publications:
                        identity = participant.identity
                        break
        who = remote.get(identity)
        behalf = publishes_for(who.attributes) if who is not None else None
        if behalf:
            identity, who = behalf, remote.get(behalf)
        if identity == local.identity:
            return Speaker(identity, local.name or identity, local=True)
        return Speaker(identity, (who.name or identity) if who is not None else identity)

    async def _speaking_loop(self) -> None:
        """Who is speaking, from our own channel meters, 10 times a second.

        The SDK's ``active_speakers_changed`` carries only the speakers whose state changed
        and are active now, so it cannot say who stopped: a steady speaker would lose the
        dot whenever someone else starts or stops. What we hear is also what matters here.
        """
        while True:
            await asyncio.sleep(SPEAKING_EVERY_S)
            self._update_speaking(time.monotonic())

    def _update_speaking(self, now: float) -> None:
        loud = {key for key, meter in self.engine.channel_meters().items()
                if meter.rms_db >= SPEAKING_DBFS}
        speaking = set()
        for identity, view in self._views.items():
            if not view.muted and any(key in loud for key in view.channel_keys):
                self._loud_at[identity] = now
            if now - self._loud_at.get(identity, -math.inf) <= SPEAKING_HOLD_S:
                speaking.add(identity)
        if speaking != self._speaking:
            self._speaking = speaking
            self._views = {identity: replace(view, speaking=identity in speaking)
                           for identity, view in self._views.items()}
            self._publish_views()

    async def _turns_loop(self) -> None:
        """Turns from the engine's voice spans, 20 times a second (the times come from
        the audio, so this rate only sets how soon a turn is reported)."""
        while True:
            await asyncio.sleep(TURNS_EVERY_S)
            try:
                self._update_turns(time.monotonic())
            except EngineNotRunning:
                return

    def _update_turns(self, now: float) -> None:
        snap = self._snap
        agents = snap.agents
        if not agents and not self._mic_watched:
            return
        engine = self.engine
        if not self._mic_watched:
            engine.watch_mic_voice(True)
            self._mic_watched = True
        voices = []
        for agent in agents:
            for key in snap.voice_keys(agent.identity):
                if key not in self._voice_keys and engine.watch_channel_voice(key):
                    self._voice_keys.add(key)
                voices.append((agent.identity, key, engine.channel_voice_spans(key)))
        out = engine.output_stats()
        output_s = ((out.ring_ms + out.device_latency_ms) / 1000.0 if out.device is not None
                    else math.nan)
        self._turns.update(now, engine.mic_voice_spans(), voices,
                           self._transcript.snapshot().finals, output_s)

    def _unwatch_voices(self) -> None:
        # The microphone stays watched (2 µs a frame): its spans go on numbering.
        self._voice_keys.clear()  # their channels are closed with the room

    def _on_quality(self, participant: rtc.Participant, quality: Any) -> None:
        self._quality[participant.identity] = QUALITY.get(quality, "unknown")
        self._refresh(participant)

    def _on_disconnected(self, reason: Any) -> None:
        """The room ended without our leave (ours unwires it first): say why, and tell the
        controller, which may join again."""
        try:
            name = rtc.DisconnectReason.Name(reason)
        except (ValueError, TypeError):
            name = str(reason)
        snap = self._snap
        problem = explain(RoomLost(name), snap.url, room=snap.room, identity=snap.identity)
        self._state(ConnState.DISCONNECTED, problem=problem)
        self._set(published=False, rtt_ms=math.nan)
        self._spawn(self.disconnect())
        if self.on_lost is not None and problem.cause is not Cause.LEFT:
            try:
                self.on_lost(problem)
            except Exception:  # the listener's trouble must not end the room loop's
                log.exception("session: the on_lost listener failed")

    # -- stats ----------------------------------------------------------------------------
    async def _stats_loop(self, room: rtc.Room) -> None:
        """Every 2 s, one stats report for the whole subscriber connection, split by track.

        WebRTC builds the full report even for one track's stats (on the threads that carry
        the audio): asking per track, once for each track in a row, starves every channel
        at once in a big room (docs/BENCHMARKS.md). Tracks the report does not name (another
        server's track ids) are asked for one by one.
        """
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            try:
                report = (await room.get_rtc_stats()).subscriber_stats
            except Exception:
                report = []
            shared = [s for s in report if s.WhichOneof("stats") != "inbound_rtp"]
            inbound = {s.inbound_rtp.inbound.track_identifier: s for s in report
                       if s.WhichOneof("stats") == "inbound_rtp"}
            rtt = math.nan
            seen: list[str] = []
            for participant in list(room.remote_participants.values()):
                for pub in list(participant.track_publications.values()):
                    track = pub.track
                    if track is None or pub.kind != rtc.TrackKind.KIND_AUDIO:
                        continue
                    seen.append(pub.sid)
                    stats: list[Any]
                    if pub.sid in inbound:
                        stats = [inbound[pub.sid], *shared]
                    else:
                        try:
                            stats = await track.get_stats()
                        except Exception:
                            continue
                    parsed = self._stats_reader.read(pub.sid, stats)
                    self._track_stats[pub.sid] = parsed
                    if not math.isnan(parsed.rtt_ms):
                        rtt = parsed.rtt_ms
                self._upsert(participant)
            self._stats_reader.keep(seen)
            for sid in [s for s in self._track_stats if s not in seen]:
                del self._track_stats[sid]
            self._set(rtt_ms=rtt)
            self._publish_views()


__all__ = ["JoinError", "RoomSession", "channel_key"]
