"""The Room is handed only the FFI events it reads (``console/session/room_events.py``),
on the sandbox with the real SDK, the real engine and devices."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from console.sandbox.voices import make_token
from console.session import room_events
from console.session.join import JoinSpec, resolve
from console.session.model import ConnState
from console.session.room_session import RoomSession
from tests.audio_helpers import playing, sine, wait_until
from tests.test_session import ROOM, Bot

pytestmark = [pytest.mark.audio, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_the_rooms_listener_hears_what_it_reads_and_not_each_microphone_frame(
        sandbox, engine) -> None:
    """While we publish, the AudioSource answers every 10 ms frame: those answers reached
    the Room's loop (a wake-up each, then its broadcast queue) and it did nothing with
    them. Narrowed, it gets none, and still everything it acts on: our track's publishing
    (its answer comes through the Room), participants joining and leaving."""
    session = RoomSession(engine, publish=True)
    seen: Counter[str] = Counter()
    try:
        with playing("lkc_speaker_b", sine(-20.0, 440.0)):
            snap = session.join(resolve(JoinSpec(url=sandbox.url, token=make_token("me", ROOM))))
            assert snap.state is ConnState.CONNECTED, snap.detail
            assert wait_until(lambda: session.snapshot().published, 5.0)  # publish_track
            room: Any = session._room
            queue = room._ffi_queue
            ffi_queue: Any = FfiClient.instance.queue
            assert [f for q, _, f in ffi_queue._subscribers if q is queue] == \
                [room_events.room_reads]
            original = queue.put_nowait

            def spy(event: proto_ffi.FfiEvent) -> None:
                seen[event.WhichOneof("message")] += 1
                original(event)

            queue.put_nowait = spy
            feed = engine.chain.feed
            assert feed is not None
            sent = feed.sent
            bot = Bot(sandbox, "guest", dbfs=-20.0).start()  # room events: a participant
            try:
                assert wait_until(lambda: any(p.identity == "guest"
                                              for p in session.snapshot().participants), 5.0)
                time.sleep(1.0)
            finally:
                bot.stop()
            assert wait_until(lambda: not any(p.identity == "guest"
                                              for p in session.snapshot().participants), 5.0)
            # The microphone went out all along, each frame answered by livekit...
            assert feed.sent - sent >= 100, feed.sent - sent
    finally:
        session.leave()
    # ... and none of those answers reached the Room; what it reads did.
    assert seen["room_event"] > 0, seen
    assert set(seen) <= room_events.ROOM_READS, seen


def test_the_filter_keeps_the_four_kinds_the_room_reads() -> None:
    """A room event, an RPC invocation and the publish and unpublish answers pass; an
    AudioSource's answer, a text stream's chunk and a stats answer do not."""
    def event(kind: str) -> proto_ffi.FfiEvent:
        e = proto_ffi.FfiEvent()
        getattr(e, kind).SetInParent()
        return e

    for kind in ("room_event", "rpc_method_invocation", "publish_track", "unpublish_track"):
        assert room_events.room_reads(event(kind)), kind
    for kind in ("capture_audio_frame", "text_stream_reader_event", "get_stats",
                 "audio_stream_event"):
        assert not room_events.room_reads(event(kind)), kind
