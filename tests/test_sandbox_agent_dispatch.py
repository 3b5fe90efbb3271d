"""Dispatching the sandbox's agent by name (token room configuration, the server API, the
CLI), the demo room's own agent, and text streams an agent sends on a user's behalf."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import aiohttp
import pytest
from livekit import api, rtc

from console.bench.sandbox import _free_port
from console.sandbox.server import SandboxThread
from tests.sandbox_helpers import join, wait_for

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # dev keys are short

AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


def token(identity: str, room: str, *, agents: tuple[str, ...] = ()) -> str:
    tok = (api.AccessToken("devkey", "secret").with_identity(identity)
           .with_grants(api.VideoGrants(room_join=True, room=room)))
    if agents:
        tok = tok.with_room_config(api.RoomConfiguration(
            agents=[api.RoomAgentDispatch(agent_name=a, metadata="m") for a in agents]))
    return tok.to_jwt()


async def connect(url: str, tok: str) -> rtc.Room:
    room = rtc.Room()
    await room.connect(url, tok, rtc.RoomOptions(single_peer_connection=False))
    return room


def agents_seen(room: rtc.Room) -> list[rtc.RemoteParticipant]:
    return [p for p in room.remote_participants.values() if p.kind == AGENT]


@pytest.fixture
def bots() -> Iterator[SandboxThread]:
    with SandboxThread(port=0, agents=("bot", "other")) as server:
        yield server


@pytest.mark.asyncio
async def test_a_token_dispatches_only_when_its_join_creates_the_room(
        bots: SandboxThread) -> None:
    first = await connect(bots.url, token("ann", "r1"))            # no dispatch in it
    late = await connect(bots.url, token("bob", "r1", agents=("bot",)))  # room not new
    fresh = await connect(bots.url, token("cy", "r2", agents=("bot", "nobody")))
    try:
        await wait_for(lambda: len(agents_seen(fresh)) == 1, 10.0)
        agent = agents_seen(fresh)[0]
        assert agent.identity.startswith("agent-AJ_")
        assert agent.attributes["lk.agent.name"] == "bot"
        await wait_for(lambda: agent.attributes.get("lk.agent.state") == "listening", 5.0)
        await asyncio.sleep(1.0)
        assert agents_seen(first) == agents_seen(late) == []
        assert bots.server.agents("r1") == []
        assert [a.agent_name for a in bots.server.agents("r2")] == ["bot"]  # "nobody" runs nowhere
    finally:
        for room in (first, late, fresh):
            await room.disconnect()


@pytest.mark.asyncio
async def test_the_server_api_dispatches_once_lists_and_refuses_strangers(
        bots: SandboxThread) -> None:
    me = await join(bots.url, "ann", room="r3")
    lkapi = api.LiveKitAPI(bots.url.replace("ws://", "http://"), "devkey", "secret")
    try:
        made = await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name="bot", room="r3", metadata="hello"))
        assert made.id.startswith("AD_") and made.agent_name == "bot" and made.room == "r3"
        assert made.metadata == "hello"
        (job,) = made.state.jobs
        await wait_for(lambda: len(agents_seen(me)) == 1, 10.0)
        assert agents_seen(me)[0].identity == job.state.participant_identity
        # A second dispatch of the same agent is recorded but declined: still one agent.
        again = await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name="bot", room="r3"))
        assert not again.state.jobs
        listed = await lkapi.agent_dispatch.list_dispatch("r3")
        assert {d.id for d in listed} == {made.id, again.id}
        await asyncio.sleep(0.8)
        assert len(agents_seen(me)) == 1 and len(bots.server.agents("r3")) == 1
        # Another agent is another matter.
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name="other", room="r3"))
        await wait_for(lambda: len(agents_seen(me)) == 2, 10.0)
        # A key without roomAdmin for that room is refused, as livekit-server refuses it.
        stranger = api.LiveKitAPI(bots.url.replace("ws://", "http://"), "devkey", "wrong")
        try:
            with pytest.raises(api.ServerError) as refused:
                await stranger.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name="bot", room="r3"))
            assert refused.value.status == 401 and refused.value.code == "unauthenticated"
        finally:
            await stranger.aclose()
        async with aiohttp.ClientSession() as http:
            joiner = token("x", "r3")  # may join, may not administer
            async with http.post(bots.url.replace("ws://", "http://")
                                 + "/twirp/livekit.AgentDispatchService/CreateDispatch",
                                 json={"agentName": "bot", "room": "r3"},
                                 headers={"Authorization": f"Bearer {joiner}"}) as resp:
                assert resp.status == 401
                assert (await resp.json())["code"] == "unauthenticated"
    finally:
        await lkapi.aclose()
        await me.disconnect()


@pytest.mark.asyncio
async def test_the_api_speaks_json_and_opens_the_room(bots: SandboxThread) -> None:
    admin = (api.AccessToken("devkey", "secret")
             .with_grants(api.VideoGrants(room_admin=True, room="r4")).to_jwt())
    base = bots.url.replace("ws://", "http://") + "/twirp/livekit.AgentDispatchService/"
    headers = {"Authorization": f"Bearer {admin}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "CreateDispatch", headers=headers,
                             json={"agent_name": "bot", "room": "r4"}) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        assert body["agent_name"] == "bot" and body["room"] == "r4"
        assert body["state"]["jobs"][0]["state"]["participant_identity"].startswith("agent-")
        async with http.post(base + "ListDispatch", headers=headers,
                             json={"room": "r4"}) as resp:
            assert [d["id"] for d in (await resp.json())["agent_dispatches"]] == [body["id"]]
        async with http.post(base + "CreateDispatch", headers=headers,
                             data=b"{not json") as resp:  # octet-stream: Twirp's bad_route
            assert resp.status == 404 and (await resp.json())["code"] == "bad_route"
        async with http.post(base + "CreateDispatch", headers={
                **headers, "Content-Type": "application/json"}, data=b"{not json") as resp:
            assert resp.status == 400 and (await resp.json())["code"] == "malformed"
        async with http.post(base + "Nope", headers=headers, json={}) as resp:
            assert resp.status == 404
    assert [a.agent_name for a in bots.server.agents("r4")] == ["bot"]
    # The agent waits in the room it opened; the one who comes is the one it listens to.
    me = await join(bots.url, "dee", room="r4")
    try:
        agent = bots.server.agents("r4")[0]
        await wait_for(lambda: agent.linked == "dee", 5.0)
    finally:
        await me.disconnect()


@pytest.mark.asyncio
async def test_without_names_the_demo_room_has_its_agent_and_no_other_room_does(
        sandbox: SandboxThread) -> None:
    sandbox.call(sandbox.server.add_voices("demo", 7))
    me = await connect(sandbox.url, token("ann", "demo", agents=("bot",)))
    other = await connect(sandbox.url, token("bob", "elsewhere", agents=("bot",)))
    try:
        await wait_for(lambda: "agent" in me.remote_participants, 5.0)
        agent = me.remote_participants["agent"]
        assert agent.kind == AGENT and agent.attributes["lk.agent.name"] == "demo"
        await wait_for(lambda: agent.attributes.get("lk.agent.state") == "listening", 5.0)
        assert sandbox.server.agents("demo")[0].linked == "ann"  # not one of the voices
        await asyncio.sleep(1.0)
        assert agents_seen(other) == [] and len(agents_seen(me)) == 1
    finally:
        await me.disconnect()
        await other.disconnect()


@pytest.mark.asyncio
async def test_a_dispatched_agent_leaves_a_room_left_empty(bots: SandboxThread) -> None:
    from console.sandbox.agent import AgentOptions

    bots.run(bots.server.register_agent, "brief", AgentOptions(departure_timeout_s=0.5))
    me = await connect(bots.url, token("ann", "r5", agents=("brief",)))
    await wait_for(lambda: len(agents_seen(me)) == 1, 10.0)
    await me.disconnect()
    await wait_for(lambda: bots.server.agents("r5") == [], 5.0)
    # The room is new again: the next join's token dispatches it afresh.
    me = await connect(bots.url, token("ann", "r5", agents=("brief",)))
    try:
        await wait_for(lambda: len(agents_seen(me)) == 1, 10.0)
    finally:
        await me.disconnect()


@pytest.mark.asyncio
async def test_an_agent_may_send_a_text_stream_as_the_user_and_nobody_else_may(
        sandbox: SandboxThread) -> None:
    """As livekit-server forwards them: the header of a text stream an agent sends on a
    user's behalf keeps the user's identity; anyone else's sender is stamped."""
    me = await join(sandbox.url, "you")
    bot = await join(sandbox.url, "bot", agent=True)
    mallory = await join(sandbox.url, "mallory")
    got: list[tuple[str, str, dict[str, str]]] = []

    async def read(reader: rtc.TextStreamReader, who: str) -> None:
        got.append((who, await reader.read_all(), dict(reader.info.attributes)))

    me.register_text_stream_handler(
        "lk.transcription", lambda r, who: asyncio.ensure_future(read(r, who)))
    try:
        await wait_for(lambda: {"bot", "mallory"} <= set(me.remote_participants), 5.0)
        writer = await bot.local_participant.stream_text(
            topic="lk.transcription", sender_identity="you",
            attributes={"lk.transcription_final": "false"})
        await writer.write("hello ")
        await writer.write("there")
        await writer.aclose(attributes={"lk.transcription_final": "true"})
        forged = await mallory.local_participant.stream_text(topic="lk.transcription",
                                                              sender_identity="you")
        await forged.write("not you")
        await forged.aclose()
        await wait_for(lambda: len(got) == 2, 5.0)
        assert sorted(got) == [("mallory", "not you", {}),
                               ("you", "hello there", {"lk.transcription_final": "true"})]
    finally:
        for room in (me, bot, mallory):
            await room.disconnect()


def test_the_cli_runs_named_agents() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "sandbox", "--port", str(port), "--voices", "0",
         "--agent", "helper", "--agent-think-ms", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"ws://127.0.0.1:{port}" in line and "agents on dispatch: helper" in line, line

        async def dispatched() -> tuple[str, str]:
            me = await connect(f"ws://127.0.0.1:{port}", token("ann", "r", agents=("helper",)))
            try:
                await wait_for(lambda: len(agents_seen(me)) == 1, 15.0)
                agent = agents_seen(me)[0]
                return agent.attributes["lk.agent.name"], agent.identity
            finally:
                await me.disconnect()

        name, identity = asyncio.run(dispatched())
        assert name == "helper" and identity.startswith("agent-")
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run([sys.executable, "-m", "console", "sandbox", "--real", "--agent", "x",
                          "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--agent" in bad.stderr
