"""Agent dispatch as livekit-server does it, with the scripted agent as every worker.

Agents registered by name (``--agent NAME``) join a room only when dispatched there:
by the joining token's room configuration, when that join creates the room, or through
the AgentDispatchService API (``twirp.py``). As a real worker does, a second dispatch of
an agent already in the room is declined (the dispatch is kept, no second agent joins),
and a dispatch naming no registered agent joins nobody. A dispatched agent leaves a room
that has been left empty (``AgentOptions.departure_timeout_s``), as its job would end
when livekit-server closes the room.

"Creates the room": livekit-server closes an empty room and makes a new one on the next
join; the sandbox keeps its rooms, so a room counts as created by a join when no client
and no agent is in it (its own demo voices do not count, so the demo room behaves like a
fresh one for the console's first join).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from livekit.protocol import agent, agent_dispatch, models

from console.sandbox.agent import AgentOptions, ScriptedAgent, render_replies
from console.sandbox.agent_turns import AgentTurn
from console.sandbox.agent_voice import Phrase
from console.sandbox.auth import Grant
from console.sandbox.peer import ClientPeer
from console.sandbox.room import Peer, Room

log = logging.getLogger(__name__)
DEMO_AGENT_NAME = "demo"   # lk.agent.name of the demo room's own agent


class AgentDispatcher:
    """The sandbox's agents: who may be dispatched, what was dispatched, who is where."""

    def __init__(self, options: AgentOptions | None = None) -> None:
        self.options = options or AgentOptions()
        self.registered: dict[str, AgentOptions] = {}
        self.house: set[str] = set()         # the sandbox's own voices: never listened to
        self.agents: list[ScriptedAgent] = []
        self.turns: list[AgentTurn] = []
        self._dispatches: dict[str, dict[str, agent_dispatch.AgentDispatch]] = {}
        self._starting: set[tuple[str, str]] = set()
        self._voice: tuple[tuple[Phrase, ...], bytes] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def register(self, name: str, options: AgentOptions | None = None) -> None:
        """Let ``name`` be dispatched (with these options, else the dispatcher's)."""
        self.registered[name] = options or self.options

    def listens_to(self, peer: Peer) -> bool:
        """Whom an agent may listen to: a connected client that is no agent and no voice
        of the sandbox's own."""
        return (isinstance(peer, ClientPeer) and not peer.closed
                and peer.info.kind != models.ParticipantInfo.Kind.AGENT
                and peer.info.identity not in self.house)

    def is_fresh(self, room: Room) -> bool:
        """No client and no agent in it: a join now would create it on livekit-server."""
        return not any(self.listens_to(p) or isinstance(p, ScriptedAgent)
                       for p in room.peers.values())

    def in_room(self, room: Room, agent_name: str) -> ScriptedAgent | None:
        for a in self.agents:
            if a.room is room and a.agent_name == agent_name and not a.closed:
                return a
        return None

    # -- dispatching -----------------------------------------------------------------------
    def on_join(self, room: Room, grant: Grant, fresh: bool) -> None:
        """A participant joined: its token's dispatches apply if the join created the room."""
        if not fresh or not grant.agents:
            return
        for dispatch in grant.agents:
            task = asyncio.get_running_loop().create_task(
                self._dispatch_quietly(room, dispatch.agent_name, dispatch.metadata))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dispatch_quietly(self, room: Room, name: str, metadata: str) -> None:
        try:
            await self.dispatch(room, name, metadata)
        except Exception:
            log.exception("dispatch of agent %r to room %s failed", name, room.name)

    async def dispatch(self, room: Room, agent_name: str,
                       metadata: str = "") -> agent_dispatch.AgentDispatch:
        """Record a dispatch and, if the agent is known and not there yet, bring it in."""
        record = agent_dispatch.AgentDispatch(
            id="AD_" + secrets.token_hex(6), agent_name=agent_name, room=room.name,
            metadata=metadata,
            state=agent_dispatch.AgentDispatchState(created_at=time.time_ns()))
        self._dispatches.setdefault(room.name, {})[record.id] = record
        options = self.registered.get(agent_name)
        key = (room.name, agent_name)
        if options is None:
            log.warning("dispatch %s: no agent named %r runs here (sandbox --agent NAME); "
                        "nobody joins room %s", record.id, agent_name, room.name)
            return record
        if self.in_room(room, agent_name) is not None or key in self._starting:
            log.info("dispatch %s: agent %r is already in room %s; declined", record.id,
                     agent_name, room.name)
            return record
        job_id = "AJ_" + secrets.token_hex(6)
        self._starting.add(key)
        try:
            joined = await self._start(room, identity=f"agent-{job_id}", agent_name=agent_name,
                                       options=options, dispatched=True)
        finally:
            self._starting.discard(key)
        now = time.time_ns()
        record.state.jobs.append(agent.Job(
            id=job_id, dispatch_id=record.id, type=agent.JobType.JT_ROOM, room=room.info(),
            agent_name=agent_name, metadata=metadata,
            state=agent.JobState(status=agent.JobStatus.JS_RUNNING, started_at=now,
                                 updated_at=now, participant_identity=joined.identity)))
        return record

    async def seat(self, room: Room, identity: str, name: str) -> ScriptedAgent:
        """The demo room's own agent: there from the start, whoever comes (no dispatch)."""
        return await self._start(room, identity=identity, agent_name=DEMO_AGENT_NAME,
                                 name=name, options=self.options, dispatched=False)

    async def _start(self, room: Room, *, identity: str, agent_name: str,
                     options: AgentOptions, dispatched: bool,
                     name: str = "") -> ScriptedAgent:
        if self._voice is None:
            self._voice = await render_replies()
        replies, silence = self._voice
        joined = ScriptedAgent(room, identity=identity, agent_name=agent_name, name=name,
                               options=options, replies=replies, silence=silence,
                               listens_to=self.listens_to, on_turn=self.turns.append,
                               leaves_when_alone=dispatched, on_close=self._closed)
        self.agents.append(joined)
        await joined.join()
        return joined

    def _closed(self, gone: ScriptedAgent) -> None:
        if gone in self.agents:
            self.agents.remove(gone)

    # -- the API's bookkeeping -------------------------------------------------------------
    def list(self, room: str, dispatch_id: str = "") -> list[agent_dispatch.AgentDispatch]:
        return [d for d in self._dispatches.get(room, {}).values()
                if not dispatch_id or d.id == dispatch_id]

    def delete(self, room: str, dispatch_id: str) -> agent_dispatch.AgentDispatch | None:
        """Forget a dispatch (an agent it brought in stays, as with livekit-server)."""
        record = self._dispatches.get(room, {}).pop(dispatch_id, None)
        if record is not None:
            record.state.deleted_at = time.time_ns()
        return record

    async def stop(self) -> None:
        """Every agent leaves and every dispatch is forgotten (the turns are kept)."""
        self._dispatches.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for joined in list(self.agents):
            await joined.close()
        self.agents.clear()
