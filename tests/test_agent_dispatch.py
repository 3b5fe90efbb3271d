"""Talking to an agent in one step: the agent named at join reaches the room, by the token
the console makes or through the server's API with a given token. Against the sandbox's
scripted agent (registered by name), with the real SDK and the real session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from console.sandbox.server import SandboxThread
from console.session.join import JoinSpec, mint_token, resolve
from console.session.model import ConnState
from console.session.room_session import RoomSession
from tests.audio_helpers import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
ROOM = "calls"


def test_a_token_made_here_carries_the_dispatch() -> None:
    resolved = resolve(JoinSpec(room=ROOM, identity="me", agent="helper"),
                       sandbox_url="ws://127.0.0.1:1")
    assert (resolved.agent, resolved.dispatch) == ("helper", "token")
    claims = jwt.decode(resolved.token, options={"verify_signature": False})
    assert claims["roomConfig"]["agents"][0]["agentName"] == "helper"
    plain = resolve(JoinSpec(room=ROOM, identity="me"), sandbox_url="ws://127.0.0.1:1")
    assert "roomConfig" not in jwt.decode(plain.token, options={"verify_signature": False})
    assert plain.dispatch == ""


def test_a_given_token_dispatches_through_the_api_or_says_it_cannot() -> None:
    token = mint_token("devkey", "secret", ROOM, "me")
    with_key = resolve(JoinSpec(url="ws://h:7880", token=token, api_key="devkey",
                                api_secret="secret", agent="helper"))
    assert (with_key.dispatch, with_key.api_key) == ("api", "devkey")
    assert "secret" not in repr(with_key)
    alone = resolve(JoinSpec(url="ws://h:7880", token=token, agent="helper"))
    assert alone.dispatch == "" and "cannot dispatch agent 'helper'" in alone.dispatch_note
    assert "API key and secret" in alone.dispatch_note


@pytest.fixture
def agent_sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(port=0, agents=("helper",)) as server:
        yield server


def _agents(session: RoomSession) -> list[Any]:
    return [p for p in session.snapshot().participants if p.is_agent]


@pytest.mark.audio
@pytest.mark.parametrize("how", ["token", "api"])
def test_the_named_agent_comes_into_the_room(agent_sandbox: SandboxThread, engine: Any,
                                             how: str) -> None:
    url = agent_sandbox.url
    if how == "token":
        spec = JoinSpec(url=url, api_key="devkey", api_secret="secret", room=ROOM,
                        identity="me", agent="helper")
    else:
        spec = JoinSpec(url=url, token=mint_token("devkey", "secret", ROOM, "me"),
                        api_key="devkey", api_secret="secret", agent="helper")
    session = RoomSession(engine, publish=False)
    try:
        snap = session.join(resolve(spec))
        assert snap.state is ConnState.CONNECTED, snap.detail
        assert not snap.agent_dispatch_failed, snap.agent_dispatch
        assert "'helper'" in snap.agent_dispatch
        assert wait_until(lambda: len(_agents(session)) == 1, 10.0)
        assert wait_until(lambda: _agents(session)[0].agent_state is not None, 10.0)
    finally:
        session.leave()


@pytest.mark.audio
def test_a_refused_dispatch_is_said_plainly_and_the_join_stands(
        agent_sandbox: SandboxThread, engine: Any) -> None:
    spec = JoinSpec(url=agent_sandbox.url, token=mint_token("devkey", "secret", ROOM, "me"),
                    api_key="devkey", api_secret="wrong-secret-xyz", agent="helper")
    session = RoomSession(engine, publish=False)
    try:
        snap = session.join(resolve(spec))
        assert snap.state is ConnState.CONNECTED  # the join stands without its agent
        assert snap.agent_dispatch_failed
        assert snap.agent_dispatch.startswith("agent 'helper' not dispatched: ")
        assert "wrong-secret-xyz" not in snap.agent_dispatch
        assert _agents(session) == []
    finally:
        session.leave()


@pytest.mark.audio
def test_the_window_path_brings_the_agent_into_the_local_sandbox(engine: Any) -> None:
    """What the join panel does with "Agent" filled in and no server: the local sandbox is
    started answering that name, and the token made for it dispatches the agent."""
    from console.session.controller import RoomController

    controller = RoomController(engine, RoomSession(engine, publish=False),
                                sandbox_voices=1)
    try:
        assert controller.join(JoinSpec(room="demo", identity="me", agent="helper"))
        assert wait_until(lambda: controller.poll().state is ConnState.CONNECTED, 30.0), \
            controller.error
        assert controller.sandbox is not None and controller.sandbox.agents == ("helper",)
        session = controller.session
        assert wait_until(lambda: len(_agents(session)) == 1, 10.0)
        assert _agents(session)[0].identity.startswith("agent-")  # a dispatched worker's
        assert controller.view().line.endswith("agent 'helper' asked for in the token")
    finally:
        controller.close()
