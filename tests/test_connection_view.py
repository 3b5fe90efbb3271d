"""The connection view and the rejoin timer, as pure logic.

The view tests use hand-made ``SessionSnapshot`` values (fakes of a session's state, no
room): they check only how one view is derived from them. The real rooms are in
``test_connection_rejoin.py`` and ``test_connection_words.py``. The timer tests run the real
timer threads.
"""

from __future__ import annotations

import math
import threading
import time

from console.session.connection_view import Phase, connection_view, status_text
from console.session.explain import Explanation, RoomLost, explain
from console.session.model import ConnState, SessionSnapshot
from console.session.rejoin import BACKOFF_S, Countdown, RejoinTimer, backoff

URL = "ws://127.0.0.1:7880"
REFUSED = explain("IO error: Connection refused (os error 111)", URL)
NO_TLS = explain("received corrupt message of type InvalidContentType", "wss://h:1")


def test_backoff_is_1_2_4_8_16_then_30_for_ever() -> None:
    assert [backoff(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert BACKOFF_S == (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
    assert backoff(3, (0.1, 0.2)) == 0.2  # injectable (tests), the last step repeats


def test_in_a_room_the_line_names_it_and_shows_the_rtt_but_no_error() -> None:
    snap = SessionSnapshot(state=ConnState.CONNECTED, room="demo", identity="me", rtt_ms=42.0)
    view = connection_view(snap, error=REFUSED)  # an old error cannot outlive the join
    assert view.phase is Phase.IN_ROOM and view.in_room and view.can_leave
    assert view.line == "in demo as me" and view.error is None
    assert view.rtt_ms == 42.0
    assert status_text(view, snap) == "in demo as me  |  RTT 42 ms"
    # a server on this machine answers within a millisecond: said so, not hidden
    near = SessionSnapshot(state=ConnState.CONNECTED, room="demo", identity="me", rtt_ms=0.0)
    assert status_text(connection_view(near), near) == "in demo as me  |  RTT <1 ms"


def test_a_room_no_longer_joined_shows_no_round_trip_time() -> None:
    lost = explain(RoomLost("UNKNOWN_REASON"), URL, room="demo")
    for state in (ConnState.DISCONNECTED, ConnState.FAILED, ConnState.RECONNECTING,
                  ConnState.IDLE):
        snap = SessionSnapshot(state=state, room="demo", rtt_ms=42.0)  # a stale figure
        view = connection_view(snap, error=lost if state is ConnState.DISCONNECTED else None)
        assert math.isnan(view.rtt_ms), state
        assert "RTT" not in status_text(view, snap), state


def test_only_the_newest_error_is_shown_and_the_line_never_repeats_one() -> None:
    snap = SessionSnapshot(state=ConnState.FAILED, detail=NO_TLS.short, problem=NO_TLS)
    view = connection_view(snap, error=NO_TLS)
    assert view.phase is Phase.FAILED and view.can_join and not view.can_leave
    assert view.error_short == NO_TLS.short and view.error_full == NO_TLS.full
    assert REFUSED.short not in view.line and NO_TLS.short not in view.line
    assert view.line == "not in a room"


def test_the_countdown_shows_seconds_attempt_and_cause() -> None:
    lost = explain(RoomLost("UNKNOWN_REASON"), URL, room="demo")
    snap = SessionSnapshot(state=ConnState.DISCONNECTED, room="demo", detail=lost.short,
                           problem=lost, rtt_ms=30.0)
    view = connection_view(snap, countdown=Countdown(3, 3.2, lost), error=REFUSED)
    assert view.phase is Phase.WAITING and view.can_leave and not view.can_join
    assert view.line == "connection lost: rejoining demo in 4 s (attempt 3)"
    assert view.error is lost  # the countdown's cause is the newest problem
    assert math.isnan(view.rtt_ms)
    attempt = connection_view(snap, rejoining=3, error=lost)
    assert attempt.phase is Phase.REJOINING and attempt.line == "rejoining demo… (attempt 3)"
    # The microphone's badge says RECONNECTING through the countdown and the attempt.
    assert view.reconnecting and attempt.reconnecting and not view.in_room


def test_joining_and_the_sdks_own_reconnection() -> None:
    view = connection_view(SessionSnapshot(), joining=True)
    assert view.phase is Phase.JOINING and view.line == "joining…" and view.can_leave
    snap = SessionSnapshot(state=ConnState.RECONNECTING, room="demo", rtt_ms=12.0)
    view = connection_view(snap)
    assert view.phase is Phase.RECONNECTING and view.line == "reconnecting demo…"
    assert view.in_room and view.reconnecting and math.isnan(view.rtt_ms)
    idle = connection_view(SessionSnapshot(state=ConnState.DISCONNECTED, detail="left the room"))
    assert idle.phase is Phase.IDLE and idle.error is None and idle.can_join
    assert not idle.reconnecting


def test_the_timer_runs_the_attempt_when_due_and_a_cancel_stops_it_at_once() -> None:
    ran: list[int] = []
    fired = threading.Event()

    def run(attempt: int) -> None:
        ran.append(attempt)
        fired.set()

    timer = RejoinTimer(run, steps=(0.2, 0.3))
    cause = Explanation("lost", "lost")
    assert timer.schedule(1, cause) == 0.2
    countdown = timer.countdown()
    assert countdown is not None and countdown.attempt == 1 and countdown.cause is cause
    assert 0.0 < countdown.seconds_left <= 0.2
    assert fired.wait(2.0) and ran == [1]
    assert timer.countdown() is None  # running now: nothing counted down
    timer.schedule(2, cause)
    started = time.monotonic()
    timer.cancel()
    assert time.monotonic() - started < 0.05 and timer.countdown() is None
    time.sleep(0.5)
    assert ran == [1]  # the cancelled attempt never ran
