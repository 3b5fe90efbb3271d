"""The sandbox server with the real livekit SDK as its client (aiortc on the server side)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import jwt
import pytest
from livekit import rtc

from console.sandbox.server import SandboxThread
from console.sandbox.voices import make_token
from tests.sandbox_helpers import (
    Listener,
    Publisher,
    join,
    peak_hz,
    rms_dbfs,
    sine_rms_dbfs,
    wait_for,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.filterwarnings("ignore::UserWarning")]


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread(port=0) as server:
        yield server


async def test_two_clients_hear_each_other_at_the_level_and_pitch_sent(
        sandbox: SandboxThread) -> None:
    alice = await join(sandbox.url, "alice")
    bob = await join(sandbox.url, "bob")
    a_hears, b_hears = Listener(alice), Listener(bob)
    tone_a, tone_b = Publisher(440.0, -20.0), Publisher(1000.0, -30.0)
    try:
        await tone_a.publish(alice)
        await tone_b.publish(bob)
        await b_hears.wait_subscribed("alice")
        await a_hears.wait_subscribed("bob")
        from_alice, from_bob = await asyncio.gather(b_hears.record("alice", 1.5),
                                                    a_hears.record("bob", 1.5))
        assert rms_dbfs(from_alice) == pytest.approx(sine_rms_dbfs(-20.0), abs=1.0)
        assert rms_dbfs(from_bob) == pytest.approx(sine_rms_dbfs(-30.0), abs=1.0)
        assert peak_hz(from_alice) == pytest.approx(440.0, abs=3.0)
        assert peak_hz(from_bob) == pytest.approx(1000.0, abs=3.0)
    finally:
        await a_hears.aclose()
        await b_hears.aclose()
        await tone_a.stop()
        await tone_b.stop()
        await alice.disconnect()
        await bob.disconnect()


async def test_mute_is_seen_and_late_joiners_get_existing_tracks(
        sandbox: SandboxThread) -> None:
    alice = await join(sandbox.url, "alice")
    tone = Publisher(440.0, -20.0)
    pub = await tone.publish(alice)
    carol = await join(sandbox.url, "carol")  # joins after the track was published
    hears = Listener(carol)
    events: list[tuple[str, float]] = []
    carol.on("track_muted", lambda p, t: events.append(("muted", time.monotonic())))
    carol.on("track_unmuted", lambda p, t: events.append(("unmuted", time.monotonic())))
    try:
        await hears.wait_subscribed("alice")
        assert rms_dbfs(await hears.record("alice", 0.5)) > -30
        t0 = time.monotonic()
        pub.track.mute()  # type: ignore[union-attr]
        await wait_for(lambda: any(e == "muted" for e, _ in events), 1.0)
        remote = carol.remote_participants["alice"].track_publications[pub.sid]
        assert remote.muted
        pub.track.unmute()  # type: ignore[union-attr]
        await wait_for(lambda: any(e == "unmuted" for e, _ in events), 1.0)
        assert not remote.muted
        assert events[0][1] - t0 < 1.0
    finally:
        await hears.aclose()
        await tone.stop()
        await alice.disconnect()
        await carol.disconnect()


async def test_join_and_leave_events_and_unpublish(sandbox: SandboxThread) -> None:
    alice = await join(sandbox.url, "alice")
    seen: list[tuple[str, str]] = []
    alice.on("participant_connected", lambda p: seen.append(("joined", p.identity)))
    alice.on("participant_disconnected", lambda p: seen.append(("left", p.identity)))
    alice.on("track_unpublished", lambda pub, p: seen.append(("unpublished", p.identity)))
    bob = await join(sandbox.url, "bob")
    await wait_for(lambda: ("joined", "bob") in seen, 2.0)
    tone = Publisher(300.0, -20.0)
    pub = await tone.publish(bob)
    await wait_for(lambda: bool(alice.remote_participants["bob"].track_publications), 3.0)
    await bob.local_participant.unpublish_track(pub.sid)
    await wait_for(lambda: ("unpublished", "bob") in seen, 3.0)
    assert sandbox.run(lambda: dict(sandbox.server.peer("test", "bob").published)) == {}
    await tone.stop()
    await bob.disconnect()
    await wait_for(lambda: ("left", "bob") in seen, 2.0)
    assert sandbox.run(sandbox.server.participants, "test") == ["alice"]
    await alice.disconnect()


async def test_rooms_are_separate(sandbox: SandboxThread) -> None:
    a1 = await join(sandbox.url, "a", room="one")
    b1 = await join(sandbox.url, "b", room="one")
    c2 = await join(sandbox.url, "c", room="two")
    try:
        await wait_for(lambda: set(a1.remote_participants) == {"b"}, 2.0)
        assert set(b1.remote_participants) == {"a"}
        assert set(c2.remote_participants) == set()
        assert sandbox.run(sandbox.server.participants, "two") == ["c"]
    finally:
        for client in (a1, b1, c2):
            await client.disconnect()


@pytest.mark.parametrize(("case", "reason"), [
    ("wrong secret", "token signature does not match the API secret"),
    ("expired", "token expired"),
    ("no room", "token names no room"),
    ("other key", "token was not issued for API key 'devkey'"),
])
async def test_bad_tokens_are_refused_with_the_reason(sandbox: SandboxThread, case: str,
                                                      reason: str) -> None:
    now = int(time.time())
    claims: dict[str, object] = {"iss": "devkey", "sub": "x", "exp": now + 600,
                                 "video": {"roomJoin": True, "room": "test"}}
    secret = "secret"
    if case == "wrong secret":
        secret = "not-the-secret"
    elif case == "expired":
        claims["exp"] = now - 3600
    elif case == "no room":
        claims["video"] = {"roomJoin": True}
    elif case == "other key":
        claims["iss"] = "someone-else"
    token = jwt.encode(claims, secret, algorithm="HS256")
    client = rtc.Room()
    start = time.monotonic()
    with pytest.raises(rtc.ConnectError, match=reason):
        await client.connect(sandbox.url, token)
    assert time.monotonic() - start < 5.0
    http = sandbox.url.replace("ws://", "http://")
    async with aiohttp.ClientSession() as session, session.get(
            f"{http}/rtc/validate", headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 401
        assert await resp.text() == reason


async def test_a_second_join_with_the_same_identity_replaces_the_first(
        sandbox: SandboxThread) -> None:
    first = await join(sandbox.url, "alice")
    gone: list[int] = []
    first.on("disconnected", lambda reason: gone.append(reason))
    second = await join(sandbox.url, "alice")
    try:
        await wait_for(lambda: bool(gone), 3.0)
        assert gone[0] == rtc.DisconnectReason.DUPLICATE_IDENTITY
        assert sandbox.run(sandbox.server.participants, "test") == ["alice"]
        assert second.connection_state == rtc.ConnectionState.CONN_CONNECTED
    finally:
        await second.disconnect()
        await first.disconnect()


async def test_data_packets_rpc_and_metadata(sandbox: SandboxThread) -> None:
    alice = await join(sandbox.url, "alice")
    bob = await join(sandbox.url, "bob")
    carol = await join(sandbox.url, "carol")
    got: dict[str, list[tuple[bytes, str | None]]] = {"bob": [], "carol": []}
    bob.on("data_received", lambda d: got["bob"].append((d.data, d.participant.identity
                                                         if d.participant else None)))
    carol.on("data_received", lambda d: got["carol"].append((d.data, None)))
    meta: list[str] = []
    bob.on("participant_metadata_changed", lambda p, old, new: meta.append(new))

    @bob.local_participant.register_rpc_method("echo")
    async def echo(data: rtc.RpcInvocationData) -> str:
        return f"{data.caller_identity}:{data.payload}"

    try:
        await alice.local_participant.publish_data(b"to everyone")
        await alice.local_participant.publish_data(b"just bob", destination_identities=["bob"])
        await wait_for(lambda: len(got["bob"]) == 2, 3.0)
        await asyncio.sleep(0.3)
        assert got["bob"] == [(b"to everyone", "alice"), (b"just bob", "alice")]
        assert [d for d, _ in got["carol"]] == [b"to everyone"]
        answer = await alice.local_participant.perform_rpc(
            destination_identity="bob", method="echo", payload="hi", response_timeout=5.0)
        assert answer == "alice:hi"
        await alice.local_participant.set_metadata('{"role": "host"}')
        await wait_for(lambda: meta == ['{"role": "host"}'], 2.0)
    finally:
        for client in (alice, bob, carol):
            await client.disconnect()


async def test_kick_and_active_speakers_and_connection_quality(sandbox: SandboxThread) -> None:
    alice = await join(sandbox.url, "alice")
    bob = await join(sandbox.url, "bob")
    speakers: list[list[str]] = []
    bob.on("active_speakers_changed", lambda s: speakers.append([p.identity for p in s]))
    quality: list[tuple[str, int]] = []
    bob.on("connection_quality_changed", lambda p, q: quality.append((p.identity, q)))
    gone: list[int] = []
    alice.on("disconnected", lambda reason: gone.append(reason))
    tone = Publisher(440.0, -20.0)
    try:
        await tone.publish(alice)
        await wait_for(lambda: ["alice"] in speakers, 3.0)
        sandbox.run(sandbox.server.impair, "test", "alice", loss=0.2)
        await wait_for(lambda: ("alice", rtc.ConnectionQuality.QUALITY_POOR) in quality, 5.0)
        sandbox.call(sandbox.server.kick("test", "alice"))
        await wait_for(lambda: bool(gone), 3.0)
        assert gone[0] == rtc.DisconnectReason.PARTICIPANT_REMOVED
        await wait_for(lambda: "alice" not in bob.remote_participants, 3.0)
    finally:
        await tone.stop()
        await alice.disconnect()
        await bob.disconnect()


@contextlib.asynccontextmanager
async def alice_to_bob(sandbox: SandboxThread) -> AsyncIterator[tuple[rtc.Room, Listener]]:
    """Alice publishes a 440 Hz tone at -20 dBFS; Bob is subscribed to it."""
    alice = await join(sandbox.url, "alice")
    bob = await join(sandbox.url, "bob")
    hears = Listener(bob)
    tone = Publisher(440.0, -20.0)
    try:
        await tone.publish(alice)
        await hears.wait_subscribed("alice")
        # Subscribed is not flowing yet: the first packets can take a moment more.
        deadline = time.monotonic() + 5.0
        while rms_dbfs(await hears.record("alice", 0.1, skip=0.0)) < -30:
            assert time.monotonic() < deadline, "alice's tone never reached bob"
        yield bob, hears
    finally:
        await hears.aclose()
        await tone.stop()
        await alice.disconnect()
        await bob.disconnect()


async def test_a_paused_track_goes_quiet_and_comes_back(sandbox: SandboxThread) -> None:
    async with alice_to_bob(sandbox) as (_, hears):
        assert rms_dbfs(await hears.record("alice", 0.5)) > -25
        sandbox.run(sandbox.server.impair, "test", "alice", paused=True)
        assert rms_dbfs(await hears.record("alice", 0.5, skip=0.3)) < -50
        sandbox.run(sandbox.server.impair, "test", "alice", delay_ms=150)
        assert rms_dbfs(await hears.record("alice", 0.5, skip=0.5)) > -25


async def test_people_coming_and_going_reuse_the_listeners_m_lines(
        sandbox: SandboxThread) -> None:
    """As livekit-server does, a track that ends leaves its m-line on the listener's
    subscriber connection idle, and the next track goes out on it: a room where people
    come and go all day must not grow every listener's peer connection by a track a visit
    (bench soak saw ~2 MB a minute that way). Each visitor must still be heard, at its own
    pitch and level, through the re-used m-line."""
    alice = await join(sandbox.url, "alice")
    hears = Listener(alice)

    def m_lines() -> list[str]:
        peer = sandbox.server.peer("test", "alice")
        return [t.mid for t in peer.sub_pc.getTransceivers()]

    lines: list[list[str]] = []
    try:
        for visit, (hz, peak) in enumerate([(300.0, -20.0), (700.0, -26.0), (1100.0, -32.0),
                                            (500.0, -24.0)]):
            bob = await join(sandbox.url, "bob")
            tone = Publisher(hz, peak)
            try:
                await tone.publish(bob)
                await hears.wait_subscribed("bob")
                heard = await hears.record("bob", 1.0)
                assert peak_hz(heard) == pytest.approx(hz, abs=3.0), visit
                assert rms_dbfs(heard) == pytest.approx(sine_rms_dbfs(peak), abs=1.0), visit
                lines.append(sandbox.run(m_lines))
            finally:
                hears.subscribed["bob"].clear()
                await tone.stop()
                await bob.disconnect()
            await wait_for(lambda: "bob" not in alice.remote_participants, 5.0)
            # the m-line is idle once alice has answered the offer that made it inactive
            await wait_for(lambda: sandbox.run(
                lambda: sandbox.server.peer("test", "alice").reusable() == 1), 5.0)
        assert all(line == lines[0] for line in lines), lines
        assert len(lines[0]) == 1
    finally:
        await hears.aclose()
        await alice.disconnect()


async def test_a_dropped_connection_reconnects_and_audio_comes_back(
        sandbox: SandboxThread) -> None:
    alice = await join(sandbox.url, "alice")
    bob = await join(sandbox.url, "bob")
    states: list[str] = []
    alice.on("reconnecting", lambda: states.append("reconnecting"))
    alice.on("reconnected", lambda: states.append("reconnected"))
    hears = Listener(bob)
    tone = Publisher(440.0, -20.0)
    try:
        await tone.publish(alice)
        await hears.wait_subscribed("alice")
        hears.subscribed["alice"].clear()
        sandbox.call(sandbox.server.drop("test", "alice"))
        await wait_for(lambda: "reconnected" in states, 10.0)
        assert states[0] == "reconnecting"
        await hears.wait_subscribed("alice")  # a fresh subscription after the rejoin
        assert rms_dbfs(await hears.record("alice", 0.5)) == pytest.approx(
            sine_rms_dbfs(-20.0), abs=1.0)
    finally:
        await hears.aclose()
        await tone.stop()
        await alice.disconnect()
        await bob.disconnect()


async def test_a_restarted_server_is_rejoined(sandbox: SandboxThread) -> None:
    alice = await join(sandbox.url, "alice")
    states: list[str] = []
    alice.on("reconnecting", lambda: states.append("reconnecting"))
    alice.on("reconnected", lambda: states.append("reconnected"))
    try:
        sandbox.call(sandbox.server.stop(graceful=False))
        await wait_for(lambda: "reconnecting" in states, 5.0)
        await asyncio.sleep(0.5)
        sandbox.call(sandbox.server.start())
        await wait_for(lambda: "reconnected" in states, 15.0)
        assert sandbox.run(sandbox.server.participants, "test") == ["alice"]
    finally:
        await alice.disconnect()


async def test_nothing_is_left_behind_after_shutdown() -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    server = SandboxThread(port=0).start()
    url = server.url
    port = server.server.port
    alice = await join(url, "alice")
    bob = await join(url, "bob")
    tone = Publisher(440.0, -20.0)
    await tone.publish(alice)
    hears = Listener(bob)
    await hears.wait_subscribed("alice")
    loop = server.loop
    server.close()  # with both clients still in the room
    await hears.aclose()
    await tone.stop()
    for client in (alice, bob):
        await client.disconnect()
    assert loop.is_closed()
    assert server.leftover_tasks == []  # server.stop() ended every task it had started
    leftover = [t for t in threading.enumerate()
                if t.ident not in threads_before and t.name.startswith("lk-sandbox")]
    assert leftover == []
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        pass


def test_tokens_made_for_the_sandbox_name_room_and_identity() -> None:
    claims = jwt.decode(make_token("ann", "r1", name="Ann", agent=True), "secret",
                        algorithms=["HS256"], issuer="devkey")
    assert claims["sub"] == "ann"
    assert claims["name"] == "Ann"
    assert claims["video"]["room"] == "r1" and claims["video"]["roomJoin"] is True
    assert claims["kind"] == "agent"


async def _inbound(track: rtc.Track) -> tuple[int, int]:
    """(total samples received, concealed samples) from the receiver's WebRTC stats."""
    for s in await track.get_stats():
        if s.WhichOneof("stats") == "inbound_rtp":
            return (int(s.inbound_rtp.inbound.total_samples_received),
                    int(s.inbound_rtp.inbound.concealed_samples))
    return 0, 0


async def test_packet_loss_reaches_the_receiver_as_concealment(sandbox: SandboxThread) -> None:
    async with alice_to_bob(sandbox) as (bob, _):
        track = next(iter(bob.remote_participants["alice"].track_publications.values())).track
        assert track is not None
        await asyncio.sleep(1.0)
        total0, hidden0 = await _inbound(track)
        await asyncio.sleep(1.5)
        total1, hidden1 = await _inbound(track)
        clean = (hidden1 - hidden0) / max(1, total1 - total0)
        sandbox.run(sandbox.server.impair, "test", "alice", loss=0.3)
        await asyncio.sleep(0.5)
        total2, hidden2 = await _inbound(track)
        await asyncio.sleep(2.0)
        total3, hidden3 = await _inbound(track)
        lossy = (hidden3 - hidden2) / max(1, total3 - total2)
        dropped = sandbox.run(lambda: next(iter(
            sandbox.server.peer("test", "alice").published.values())).fanout.frames_dropped)
        assert clean < 0.05, clean
        assert 0.1 < lossy < 0.6, lossy  # 30 % of frames dropped at the server
        assert dropped > 20
