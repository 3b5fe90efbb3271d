"""A real livekit SDK participant playing a LiveKit voice agent (or an avatar worker) in the
sandbox: it sets the attributes agents set and sends text streams as agents send them."""

from __future__ import annotations

import asyncio
from typing import Any

from livekit import rtc

from console.sandbox.server import SandboxThread
from console.sandbox.voices import make_token
from console.session.join import JoinSpec, resolve
from console.session.model import ConnState
from console.session.room_session import RoomSession
from tests.sandbox_helpers import Publisher, join

ROOM = "test"


class AgentBot:
    """Lives on the sandbox thread's loop; every method is called from the test's thread."""

    def __init__(self, sandbox: SandboxThread, identity: str = "agent", *,
                 agent: bool = True, tone_hz: float | None = None,
                 tone_dbfs: float = -20.0) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self.agent = agent
        self.tone_hz, self.tone_dbfs = tone_hz, tone_dbfs
        self.room: rtc.Room | None = None
        self.tone: Publisher | None = None
        self.publication: rtc.LocalTrackPublication | None = None

    def start(self, attributes: dict[str, str] | None = None) -> AgentBot:
        async def go() -> None:
            self.room = await join(self.sandbox.url, self.identity, ROOM, agent=self.agent)
            if attributes:
                await self.room.local_participant.set_attributes(attributes)
            if self.tone_hz is not None:
                self.tone = Publisher(self.tone_hz, self.tone_dbfs)
                self.publication = await self.tone.publish(self.room)
        self.sandbox.call(go())
        return self

    @property
    def participant(self) -> rtc.LocalParticipant:
        assert self.room is not None
        return self.room.local_participant

    def run(self, coro: Any, timeout: float = 20.0) -> Any:
        return self.sandbox.call(coro, timeout)

    def set_attributes(self, attributes: dict[str, str]) -> None:
        self.run(self.participant.set_attributes(attributes))

    def set_states(self, states: list[tuple[str, float]]) -> None:
        """``lk.agent.state`` through ``states``, each held the given seconds."""
        async def go() -> None:
            for state, hold in states:
                await self.participant.set_attributes({"lk.agent.state": state})
                await asyncio.sleep(hold)
        self.run(go())

    async def stream(self, chunks: list[str], *, topic: str = "lk.transcription",
                     attributes: dict[str, str] | None = None,
                     trailer: dict[str, str] | None = None, gap_s: float = 0.0,
                     sender_identity: str | None = None) -> None:
        """One text stream: the chunks ``gap_s`` apart, then the closing trailer."""
        writer = await self.participant.stream_text(topic=topic, attributes=attributes,
                                                    sender_identity=sender_identity)
        for chunk in chunks:
            await writer.write(chunk)
            if gap_s:
                await asyncio.sleep(gap_s)
        await writer.aclose(attributes=trailer)

    def send(self, *args: Any, **kwargs: Any) -> None:
        self.run(self.stream(*args, **kwargs))

    def send_text(self, text: str, *, topic: str = "lk.transcription",
                  attributes: dict[str, str] | None = None) -> None:
        self.run(self.participant.send_text(text, topic=topic, attributes=attributes))

    def stop(self) -> None:
        async def go() -> None:
            if self.tone is not None:
                await self.tone.stop()
            if self.room is not None:
                await self.room.disconnect()
        self.sandbox.call(go())


def join_session(sandbox: SandboxThread, session: RoomSession, identity: str = "me") -> None:
    resolved = resolve(JoinSpec(url=sandbox.url, token=make_token(identity, ROOM)))
    snap = session.join(resolved)
    assert snap.state is ConnState.CONNECTED, snap.detail
