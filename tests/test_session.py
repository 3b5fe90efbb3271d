"""The room session against the sandbox, with real SDK bots, the real engine and devices."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import time
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from console.engine.apm import ProcessingConfig
from console.engine.track_tap import open_taps
from console.sandbox.server import SandboxThread
from console.sandbox.voices import make_token
from console.session.join import JoinError, JoinSpec, resolve
from console.session.model import ConnState
from console.session.room_session import RoomSession
from tests.audio_helpers import playing, sine, wait_until
from tests.sandbox_helpers import Listener, Publisher, join, rms_dbfs, sine_rms_dbfs

pytestmark = [pytest.mark.audio, pytest.mark.filterwarnings("ignore::UserWarning")]
ROOM = "test"


class Bot:
    """A real SDK participant living on the sandbox thread's loop."""

    def __init__(self, sandbox: SandboxThread, identity: str, hz: float = 440.0,
                 dbfs: float | None = -20.0) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self.room: rtc.Room | None = None
        self.hz, self.dbfs = hz, dbfs
        self.tone: Publisher | None = None  # made on the sandbox loop (its AudioSource)
        self.listener: Listener | None = None
        self.publication: rtc.LocalTrackPublication | None = None

    def start(self) -> Bot:
        async def go() -> None:
            self.tone = Publisher(self.hz, self.dbfs) if self.dbfs is not None else None
            self.room = await join(self.sandbox.url, self.identity, ROOM)
            self.listener = Listener(self.room)
            if self.tone is not None:
                self.publication = await self.tone.publish(self.room)
        self.sandbox.call(go())
        return self

    def run(self, coro: Any) -> Any:
        return self.sandbox.call(coro)

    def stop(self) -> None:
        async def go() -> None:
            if self.listener is not None:
                await self.listener.aclose()
            if self.tone is not None:
                await self.tone.stop()
            if self.room is not None:
                await self.room.disconnect()
        self.sandbox.call(go())


def _join(sandbox: SandboxThread, session: RoomSession, identity: str = "me") -> None:
    resolved = resolve(JoinSpec(url=sandbox.url, token=make_token(identity, ROOM)))
    snap = session.join(resolved)
    assert snap.state is ConnState.CONNECTED, snap.detail


def _rms(engine: Any, identity: str) -> float:
    stats = [c for c in engine.channel_stats() if c.key.startswith(f"{identity}/")]
    return max((c.meter.rms_db for c in stats), default=-100.0)


def _steady_rms(engine: Any, identity: str, readings: int = 7) -> float:
    """The median of readings 200 ms apart (each a 300 ms window): a VM stall or the
    decoder's start-up can dent one window, not most of them."""
    values = []
    for _ in range(readings):
        time.sleep(0.2)
        values.append(_rms(engine, identity))
    return float(np.median(values))


def test_each_participant_is_heard_at_the_level_its_bot_sends(sandbox, engine) -> None:
    bots = [Bot(sandbox, "alice", 440.0, -20.0).start(), Bot(sandbox, "bob", 1000.0, -30.0)
            .start(), Bot(sandbox, "quiet", dbfs=None).start()]
    session = RoomSession(engine, publish=False)
    try:
        _join(sandbox, session)
        assert wait_until(lambda: {p.identity for p in session.snapshot().participants}
                          == {"alice", "bob", "quiet"}, 3.0)
        assert wait_until(lambda: _rms(engine, "alice") > -25 and _rms(engine, "bob") > -35,
                          5.0)
        time.sleep(0.5)
        # AES17 RMS: a sine reads its peak level.
        assert _steady_rms(engine, "alice") == pytest.approx(-20.0, abs=1.0)
        assert _steady_rms(engine, "bob") == pytest.approx(-30.0, abs=1.0)
        quiet = session.snapshot().participant("quiet")
        assert quiet is not None and quiet.tracks == () and quiet.muted
        alice = session.snapshot().participant("alice")
        assert alice is not None and not alice.muted and len(alice.channel_keys) == 1
    finally:
        session.leave()
        for bot in bots:
            bot.stop()


def test_a_bots_mute_is_seen_within_a_second(sandbox, engine) -> None:
    bot = Bot(sandbox, "alice").start()
    session = RoomSession(engine, publish=False)
    try:
        _join(sandbox, session)
        assert wait_until(lambda: (p := session.snapshot().participant("alice")) is not None
                          and bool(p.tracks), 3.0)
        assert bot.publication is not None and bot.publication.track is not None
        t0 = time.monotonic()
        sandbox.loop.call_soon_threadsafe(bot.publication.track.mute)
        assert wait_until(lambda: session.snapshot().participant("alice").muted, 1.0)
        assert time.monotonic() - t0 < 1.0
        sandbox.loop.call_soon_threadsafe(bot.publication.track.unmute)
        assert wait_until(lambda: not session.snapshot().participant("alice").muted, 1.0)
    finally:
        session.leave()
        bot.stop()


def test_our_microphone_reaches_a_bot_through_toggles_and_device_switches(
        sandbox, engine) -> None:
    bot = Bot(sandbox, "listener", dbfs=None).start()
    session = RoomSession(engine, publish=True)
    listener = bot.listener
    assert listener is not None

    async def heard(seconds: float) -> np.ndarray:
        return await listener.record("me", seconds, skip=0.3)

    try:
        with playing("lkc_speaker_b", sine(-20.0, 440.0)):
            _join(sandbox, session)
            assert session.snapshot().published
            bot.run(listener.wait_subscribed("me"))
            first = bot.run(heard(1.0))
            assert rms_dbfs(first) == pytest.approx(sine_rms_dbfs(-20.0), abs=1.0)
            sids = {p.sid for p in bot.room.remote_participants["me"].track_publications.values()}
            for i in range(10):  # live processing toggles during the call
                engine.set_processing(ProcessingConfig(noise_suppression=bool(i % 2),
                                                       echo_cancellation=False,
                                                       auto_gain_control=False,
                                                       high_pass_filter=bool(i % 3 == 0)))
                time.sleep(0.05)
            engine.set_processing(ProcessingConfig.off())
            engine.set_input_device("lkc_mic_spare")  # also hears speaker B
            engine.start_output("lkc_speaker_a")
            engine.start_output("lkc_speaker_b")
            after = bot.run(heard(1.0))
            assert rms_dbfs(after) == pytest.approx(sine_rms_dbfs(-20.0), abs=1.0)
            still = {p.sid for p in bot.room.remote_participants["me"].track_publications
                     .values()}
            assert still == sids  # the same publication throughout
        session.set_self_muted(True)
        assert wait_until(lambda: all(p.muted for p in bot.room.remote_participants["me"]
                                      .track_publications.values()), 1.0)
    finally:
        session.leave()
        bot.stop()


@pytest.mark.parametrize("case", ["malformed url", "refused", "bad secret", "expired",
                                  "other room", "unreachable"])
def test_a_failed_join_ends_in_time_with_one_line(sandbox, engine, case: str) -> None:
    import jwt

    session = RoomSession(engine, publish=False)
    url = sandbox.url
    token = make_token("me", ROOM)
    room: str | None = None
    expect = ""
    if case == "malformed url":
        url, expect = "localhost:7880", "malformed URL"
    elif case == "refused":
        url, expect = "ws://127.0.0.1:1", "ws://127.0.0.1:1 refused the connection"
    elif case == "bad secret":
        token = make_token("me", ROOM, api_secret="wrong")
        expect = f"{url} refused the token: the token was not signed with this server's"
    elif case == "expired":
        token = jwt.encode({"iss": "devkey", "sub": "me", "exp": int(time.time()) - 60,
                            "video": {"roomJoin": True, "room": ROOM}}, "secret")
        expect = "the token expired"
    elif case == "other room":
        room, expect = "elsewhere", "the token is for room 'test', not 'elsewhere'"
    elif case == "unreachable":
        # A port that takes the TCP connection and never answers (outside addresses are
        # not unreachable here: this network's proxy answers them).
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"ws://127.0.0.1:{silent.getsockname()[1]}"
        expect = f"no answer from {url} within 10 s"
    start = time.monotonic()
    try:
        resolved = resolve(JoinSpec(url=url, token=token, room=room))
    except JoinError as exc:
        message = str(exc)
    else:
        snap = session.join(resolved)
        assert snap.state is ConnState.FAILED
        message = snap.detail
    took = time.monotonic() - start
    if case == "unreachable":
        silent.close()
    assert expect in message
    assert "\n" not in message and "Traceback" not in message
    assert took < 11.0
    assert engine.channel_stats() == []


def test_a_dropped_connection_reconnects_and_audio_comes_back(sandbox, engine) -> None:
    bot = Bot(sandbox, "alice").start()
    session = RoomSession(engine, publish=False)
    try:
        _join(sandbox, session)
        assert wait_until(lambda: _rms(engine, "alice") > -25, 5.0)
        sandbox.call(sandbox.server.drop(ROOM, "me"))
        assert wait_until(lambda: any(c.state is ConnState.RECONNECTED
                                      for c in session.snapshot().history), 10.0)
        states = [c.state for c in session.snapshot().history]
        assert states.index(ConnState.RECONNECTING) < states.index(ConnState.RECONNECTED)
        assert wait_until(lambda: _rms(engine, "alice") > -21.0, 5.0)
    finally:
        session.leave()
        bot.stop()


def test_each_stay_sends_the_microphone_through_a_source_of_its_own(sandbox, engine) -> None:
    """Issue 18: as the app does, the engine starts with no room taking the microphone
    and no AudioSource (livekit's runs a thread every 10 ms while it exists); a stay makes
    one and leaving closes it. The second stay's microphone reaches the room as the
    first's did."""
    engine.set_publishing(False)
    bot = Bot(sandbox, "listener", dbfs=None).start()
    session = RoomSession(engine, publish=True)
    listener = bot.listener
    assert listener is not None
    sources = []
    try:
        with playing("lkc_speaker_b", sine(-20.0, 440.0)):
            for _ in range(2):
                with pytest.raises(RuntimeError, match="no room takes the microphone"):
                    _ = engine.source
                _join(sandbox, session)
                assert session.snapshot().published
                sources.append(engine.source)
                bot.run(listener.wait_subscribed("me"))
                got = bot.run(listener.record("me", 1.0, skip=0.3))
                assert rms_dbfs(got) == pytest.approx(sine_rms_dbfs(-20.0), abs=1.0)
                session.leave()
                assert wait_until(
                    lambda: sandbox.run(sandbox.server.participants, ROOM) == ["listener"],
                    3.0)
                listener.subscribed.pop("me")  # the next stay's track is awaited anew
    finally:
        session.leave()
        bot.stop()
    assert sources[0] is not sources[1]
    assert all(s._ffi_handle.disposed for s in sources)


def test_leave_and_rejoin_leave_nothing_running(sandbox, engine) -> None:
    bot = Bot(sandbox, "alice").start()
    session = RoomSession(engine, publish=True)
    try:
        for _ in range(2):
            _join(sandbox, session)
            assert wait_until(lambda: _rms(engine, "alice") > -25, 5.0)
            session.leave()
            snap = session.snapshot()
            assert snap.state is ConnState.DISCONNECTED and snap.participants == ()
            assert engine.channel_stats() == []
            assert open_taps() == 0  # every track's native stream is closed

            async def tasks() -> list[str]:
                return sorted(t.get_name() for t in asyncio.all_tasks()
                              if t is not asyncio.current_task())
            names = engine.run(tasks())
            assert not any(n.startswith(("session-", "channel-")) for n in names), names
            # The room loop, where the session's own tasks ran, is stopped with them.
            assert "room" not in [t.name for t in threading.enumerate()]
            # The SDK's disconnect() returns once its leave is sent; the server drops us
            # when it reads it, a moment later. Nothing of ours may stay on the server.
            assert wait_until(
                lambda: sandbox.run(sandbox.server.participants, ROOM) == ["alice"], 3.0), \
                sandbox.run(sandbox.server.participants, ROOM)
    finally:
        session.leave()
        bot.stop()


def test_push_to_talk_sends_silence_until_held_and_stats_arrive(sandbox, engine,
                                                                monkeypatch) -> None:
    from livekit import rtc

    per_track: list[str] = []
    own = rtc.RemoteAudioTrack.get_stats

    async def spy(self):  # per-track stats: only for tracks the room's report does not name
        per_track.append(self.sid)
        return await own(self)

    monkeypatch.setattr(rtc.RemoteAudioTrack, "get_stats", spy)
    bot = Bot(sandbox, "listener").start()
    session = RoomSession(engine, publish=True)
    listener = bot.listener
    assert listener is not None
    try:
        with playing("lkc_speaker_b", sine(-20.0, 440.0)):
            _join(sandbox, session)
            bot.run(listener.wait_subscribed("me"))
            session.set_push_to_talk(True)
            released = bot.run(listener.record("me", 0.6, skip=0.3))
            assert rms_dbfs(released) < -60
            assert engine.mic_meter().rms_db > -25  # the meter still shows the mic
            session.set_talking(True)
            held = bot.run(listener.record("me", 0.6, skip=0.3))
            assert rms_dbfs(held) == pytest.approx(sine_rms_dbfs(-20.0), abs=1.0)
            session.set_push_to_talk(False)
        # get_stats() every ~2 s: the bot's track has a bitrate and packets by now
        assert wait_until(lambda: any(
            t.stats.packets_received > 0 and t.stats.bitrate_kbps > 0
            for p in session.snapshot().participants for t in p.tracks), 6.0)
        track = session.snapshot().participant("listener").tracks[0]
        assert track.stats.loss_percent < 5.0
        assert not np.isnan(track.stats.jitter_ms)
        assert not np.isnan(session.snapshot().rtt_ms)
        assert per_track == []  # all of it came from one report for the whole connection
    finally:
        session.leave()
        bot.stop()


class Talker:
    """A participant that only publishes a tone (it subscribes to nobody, so a room of
    many stays light for the sandbox, which forwards every track to every subscriber)."""

    def __init__(self, identity: str, hz: float) -> None:
        self.identity = identity
        self.hz = hz

    async def start(self, url: str) -> None:
        """On the sandbox's loop (the AudioSource and the Room belong to the loop)."""
        self.tone = Publisher(self.hz, -30.0)
        self.room = rtc.Room()
        await self.room.connect(url, make_token(self.identity, ROOM),
                                rtc.RoomOptions(auto_subscribe=False,
                                                single_peer_connection=False))
        await self.tone.publish(self.room)

    async def stop(self) -> None:
        await self.room.disconnect()
        await self.tone.stop()


def test_departed_participants_never_come_back_as_ghosts(sandbox, engine) -> None:
    """Joins and leaves in waves: afterwards the list is exactly who is in the room."""
    session = RoomSession(engine, publish=False)
    present: list[Talker] = []

    async def arrive(talkers: list[Talker]) -> None:
        for talker in talkers:
            await talker.start(sandbox.url)

    async def leave_together(talkers: list[Talker]) -> None:
        await asyncio.gather(*(t.stop() for t in talkers))

    try:
        _join(sandbox, session)
        for wave in range(3):
            sandbox.call(arrive(new := [Talker(f"w{wave}p{i}", 300.0 + 50 * i)
                                        for i in range(5)]))
            present += new
            wanted = {t.identity for t in present}

            def all_heard(wanted: set[str] = wanted) -> bool:
                views = session.snapshot().participants
                return ({p.identity for p in views} == wanted
                        and all(p.channel_keys for p in views))

            assert wait_until(all_heard, 8.0)
            leaving, present = present[:4], present[4:]
            sandbox.call(leave_together(leaving))  # in the same instant
        in_room = {t.identity for t in present}
        assert wait_until(lambda: set(sandbox.run(sandbox.server.participants, ROOM))
                          == in_room | {"me"}, 3.0)
        time.sleep(2.5)  # past a stats refresh, which rebuilds every view
        snap = session.snapshot()
        assert {p.identity for p in snap.participants} == in_room
        keys = {c.key.split("/")[0] for c in engine.channel_stats()}
        assert keys == in_room  # no channel left playing for someone who left
    finally:
        session.leave()
        sandbox.call(leave_together(present))


def test_a_steady_speaker_keeps_the_speaking_dot_while_another_comes_and_goes(
        sandbox, engine) -> None:
    steady = Bot(sandbox, "steady", 440.0, -20.0).start()
    chatty = Bot(sandbox, "chatty", 660.0, -20.0).start()
    session = RoomSession(engine, publish=False)

    def speaking(identity: str) -> bool:
        view = session.snapshot().participant(identity)
        return view is not None and view.speaking

    try:
        _join(sandbox, session)
        assert wait_until(lambda: speaking("steady") and speaking("chatty"), 5.0)
        seen_steady: list[bool] = []
        for _ in range(4):  # chatty stops and starts: the server reports each change
            assert chatty.tone is not None
            chatty.tone.peak_dbfs = -200.0
            assert wait_until(lambda: not speaking("chatty"), 3.0)
            seen_steady.append(speaking("steady"))
            chatty.tone.peak_dbfs = -20.0
            assert wait_until(lambda: speaking("chatty"), 3.0)
            seen_steady.append(speaking("steady"))
        assert all(seen_steady), seen_steady
    finally:
        session.leave()
        steady.stop()
        chatty.stop()


def test_self_mute_and_push_to_talk_change_the_snapshot_on_the_room_loop(sandbox,
                                                                          engine) -> None:
    """Only the room loop replaces the snapshot: a second writer could lose an update
    (and publish the microphone unmuted)."""
    writers: set[str] = set()

    class Recording(RoomSession):
        def _set(self, **changes: Any) -> None:
            writers.add(threading.current_thread().name)
            super()._set(**changes)

    listener = Bot(sandbox, "listener", dbfs=None).start()
    session = Recording(engine, publish=True)
    try:
        _join(sandbox, session)
        writers.clear()
        for i in range(50):
            session.set_self_muted(i % 2 == 0)
            session.set_push_to_talk(i % 3 == 0)
            session.set_talking(i % 5 == 0)
        session.set_push_to_talk(False)
        session.set_self_muted(True)
        assert wait_until(lambda: session.snapshot().self_muted
                          and not session.snapshot().push_to_talk, 2.0)
        assert writers == {"room"}
        assert wait_until(lambda: all(p.muted for p in listener.room.remote_participants["me"]
                                      .track_publications.values()), 2.0)
    finally:
        session.leave()
        listener.stop()


def test_the_packet_rate_shows_dtx_on_a_silent_sender(sandbox, engine) -> None:
    """Through the sandbox (Opus negotiated with usedtx=1), a silent microphone sends a few
    packets a second and a tone 50; the session's stats say so (refreshed every ~2 s)."""
    bots = [Bot(sandbox, "talker", 440.0, -20.0).start(),
            Bot(sandbox, "hushed", 440.0, -300.0).start()]  # all zeros, still published
    session = RoomSession(engine, publish=False)

    def rate(identity: str) -> float:
        p = session.snapshot().participant(identity)
        return p.tracks[0].stats.packets_per_s if p is not None and p.tracks else math.nan

    try:
        _join(sandbox, session)
        assert wait_until(lambda: not math.isnan(rate("talker"))
                          and not math.isnan(rate("hushed")), 10.0)
        time.sleep(2.5)  # a refresh over a whole interval of steady sending
        assert rate("talker") > 40.0, rate("talker")
        assert rate("hushed") < 10.0, rate("hushed")
        talker = session.snapshot().participant("talker")
        assert talker is not None and talker.tracks[0].stats.packets_received > 100
    finally:
        session.leave()
        for bot in bots:
            bot.stop()


def test_a_track_named_twice_in_one_instant_is_opened_once(sandbox, engine) -> None:
    """The track-subscribed event and the walk over the tracks present at connect can
    name one track together (a packaged run once failed on "already mixed"): both
    openers run at once, one channel results, neither raises."""
    bot = Bot(sandbox, "alice").start()
    session = RoomSession(engine, publish=False)
    try:
        _join(sandbox, session)
        assert wait_until(lambda: (p := session.snapshot().participant("alice")) is not None
                          and bool(p.channel_keys), 5.0)

        async def twice() -> list[Any]:
            room = session._room
            assert room is not None
            participant = room.remote_participants["alice"]
            pub = next(iter(participant.track_publications.values()))
            assert pub.track is not None
            key = session.snapshot().participant("alice").channel_keys[0]
            assert await engine.close_channel(key)
            assert not engine.has_channel(key)
            return await asyncio.gather(session._open(pub.track, pub, participant),
                                        session._open(pub.track, pub, participant),
                                        return_exceptions=True)

        results = session._loop.run(twice())
        assert results == [None, None]
        keys = [c.key for c in engine.channel_stats() if c.key.startswith("alice/")]
        assert len(keys) == 1
        assert wait_until(lambda: _rms(engine, "alice") > -25, 5.0)  # and it plays
    finally:
        session.leave()
        bot.stop()
