"""Automatic rejoin: the real controller, engine and SDK against the real sandbox.

The server goes away while we are in its room (an outage longer than the SDK's own
reconnection, a shutdown, the local sandbox's process killed); the controller counts down,
tries again with backoff, and is back in the room when the server is; Leave stops it at
once, during the countdown or in the middle of an attempt. Backoff steps are short here
(they are injectable); the production steps are checked in ``test_connection_view.py``.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from console.sandbox.server import SandboxThread
from console.sandbox.voices import make_token
from console.session import controller as controller_module
from console.session.connection_view import ConnectionView, Phase, status_text
from console.session.controller import RoomController
from console.session.explain import Cause
from console.session.join import JoinSpec, Resolved
from console.session.model import ConnState
from console.session.room_session import RoomSession
from tests.audio_helpers import wait_until

pytestmark = [pytest.mark.audio, pytest.mark.filterwarnings("ignore::UserWarning")]
ROOM = "test"
FAST = (0.5, 1.0, 1.5)  # rejoin backoff for tests: the real one is 1, 2, 4 ... 30 s
SDK_GIVES_UP_S = 45.0   # the SDK's own reconnection gives up ~20 s into an outage here


@pytest.fixture
def make_controller(engine: Any) -> Iterator[Callable[..., RoomController]]:
    made: list[RoomController] = []

    def make(**kwargs: Any) -> RoomController:
        kwargs.setdefault("session", RoomSession(engine, publish=False))
        made.append(RoomController(engine, backoff_s=FAST, **kwargs))
        return made[-1]

    yield make
    for controller in made:
        started = time.monotonic()
        controller.close()
        assert time.monotonic() - started < 5.0  # quitting stays fast


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the controller joins with (a spy on ``resolve``, which still runs)."""
    seen: list[str] = []
    real = controller_module.resolve

    def spy(*args: Any, **kwargs: Any) -> Resolved:
        resolved = real(*args, **kwargs)
        seen.append(resolved.token)
        return resolved

    monkeypatch.setattr(controller_module, "resolve", spy)
    return seen


class Views:
    """Reads the controller's view as the window's tick would, keeping every new one."""

    def __init__(self, controller: RoomController) -> None:
        self.controller = controller
        self.seen: list[ConnectionView] = []

    def now(self) -> ConnectionView:
        view = self.controller.view()
        if not self.seen or _shown(view) != _shown(self.seen[-1]):
            self.seen.append(view)
        return view

    def wait(self, predicate: Callable[[ConnectionView], bool], timeout: float) -> bool:
        return wait_until(lambda: predicate(self.now()), timeout)

    def phases(self) -> list[Phase]:
        return [v.phase for v in self.seen]


def _shown(view: ConnectionView) -> tuple[object, ...]:
    return view.phase, view.line, view.error, math.isnan(view.rtt_ms)


def _in_room(view: ConnectionView) -> bool:
    return view.phase is Phase.IN_ROOM


def _join(controller: RoomController, spec: JoinSpec) -> Views:
    views = Views(controller)
    assert controller.join(spec)
    assert views.wait(_in_room, 10.0), views.seen[-1]
    return views


def _keyed(sandbox: SandboxThread) -> JoinSpec:
    return JoinSpec(url=sandbox.url, api_key="devkey", api_secret="secret", room=ROOM,
                    identity="me")


def test_a_room_lost_to_a_long_outage_is_rejoined_when_the_server_is_back(
        sandbox: SandboxThread, make_controller: Callable[..., RoomController],
        tokens: list[str]) -> None:
    controller = make_controller()
    views = _join(controller, _keyed(sandbox))
    sandbox.call(sandbox.server.stop(graceful=False))  # an outage: no word to the client
    # The SDK reconnects on its own first, and gives up after its window ...
    assert views.wait(lambda v: v.phase is Phase.RECONNECTING, 10.0)
    assert views.wait(lambda v: v.phase is Phase.WAITING, SDK_GIVES_UP_S), views.seen[-1]
    lost = views.seen[-1]
    assert lost.error is not None and lost.error.cause is Cause.LOST
    assert lost.error.short == f"lost the connection to {sandbox.url}"
    assert lost.countdown is not None and lost.countdown.attempt == 1
    assert lost.line.startswith(f"connection lost: rejoining {ROOM} in 1 s (attempt 1)")
    # ... then the controller keeps trying while the server is down, with backoff.
    assert views.wait(lambda v: v.attempt >= 3 and v.phase is Phase.WAITING, 15.0)
    refused = views.seen[-1].error
    assert refused is not None and refused.short == f"{sandbox.url} refused the connection"
    assert math.isnan(views.seen[-1].rtt_ms)
    sandbox.call(sandbox.server.start())  # the same port again
    assert views.wait(_in_room, 15.0), views.seen[-1]
    assert controller.view().error is None
    assert sandbox.run(sandbox.server.participants, ROOM) == ["me"]
    phases = views.phases()
    assert Phase.REJOINING in phases and phases[-1] is Phase.IN_ROOM
    assert len(tokens) >= 2 and tokens[-1] != tokens[0]  # minted anew for the rejoin


def test_a_server_shutdown_is_rejoined_with_the_given_token_again(
        sandbox: SandboxThread, make_controller: Callable[..., RoomController],
        tokens: list[str]) -> None:
    controller = make_controller()
    token = make_token("me", ROOM)
    sandbox.call(sandbox.server.add_voices(ROOM, 1))  # someone to measure a round trip to
    views = _join(controller, JoinSpec(url=sandbox.url, token=token))
    assert views.wait(lambda v: not math.isnan(v.rtt_ms), 10.0)
    assert "RTT" in status_text(views.seen[-1], controller.session.snapshot())
    sandbox.call(sandbox.server.stop(graceful=True))  # it tells us: SERVER_SHUTDOWN
    assert views.wait(lambda v: v.phase is Phase.WAITING, 5.0), views.seen[-1]
    first = views.seen[-1]
    assert first.error is not None and first.error.short == f"{sandbox.url} shut down"
    assert math.isnan(first.rtt_ms)  # a room no longer joined has no round-trip time
    assert "RTT" not in status_text(first, controller.session.snapshot())
    assert math.isnan(controller.session.snapshot().rtt_ms)
    assert views.wait(lambda v: v.attempt >= 2, 5.0)
    sandbox.call(sandbox.server.start())
    assert views.wait(_in_room, 10.0), views.seen[-1]
    assert set(tokens) == {token}  # a given token is reused, never replaced


def test_leave_during_the_countdown_stops_the_rejoin_at_once(
        sandbox: SandboxThread, make_controller: Callable[..., RoomController]) -> None:
    controller = make_controller()
    views = _join(controller, _keyed(sandbox))
    sandbox.call(sandbox.server.stop(graceful=True))
    assert views.wait(lambda v: v.phase is Phase.WAITING, 5.0), views.seen[-1]
    started = time.monotonic()
    left = controller.leave()
    view = views.now()
    assert time.monotonic() - started < 0.1
    assert view.phase is Phase.IDLE and view.countdown is None and view.error is None
    assert view.can_join and not controller.busy
    left.result(5.0)
    sandbox.call(sandbox.server.start())
    time.sleep(sum(FAST) + 1.0)  # past every attempt that was due
    assert views.now().phase is Phase.IDLE
    assert sandbox.run(sandbox.server.participants, ROOM) == []
    assert not controller.session.snapshot().state.in_room


def test_leave_in_the_middle_of_an_attempt_returns_at_once(
        sandbox: SandboxThread, make_controller: Callable[..., RoomController]) -> None:
    controller = make_controller()
    views = _join(controller, _keyed(sandbox))
    port = sandbox.server.port
    sandbox.call(sandbox.server.stop(graceful=True))
    # A server that takes the connection and never answers: an attempt hangs there.
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", port))
    silent.listen(8)
    try:
        assert views.wait(lambda v: v.phase is Phase.REJOINING, 5.0), views.seen[-1]
        time.sleep(0.3)  # well into the attempt
        assert views.now().phase is Phase.REJOINING
        started = time.monotonic()
        left = controller.leave()
        assert views.now().phase is Phase.IDLE
        left.result(2.0)  # the attempt gave up at once: the worker is free again
        assert time.monotonic() - started < 1.0
        assert not controller.busy and controller.view().can_join
    finally:
        silent.close()


def test_leave_while_joining_a_silent_server_returns_at_once(
        make_controller: Callable[..., RoomController]) -> None:
    controller = make_controller()
    views = Views(controller)
    with socket.socket() as silent:  # takes the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        assert controller.join(JoinSpec(url=f"ws://127.0.0.1:{silent.getsockname()[1]}",
                                        token=make_token("me", ROOM)))
        assert views.wait(lambda v: v.phase is Phase.JOINING, 1.0)
        time.sleep(0.5)  # well into the join (the SDK alone would wait 32 s)
        started = time.monotonic()
        left = controller.leave()
        assert views.now().phase is Phase.IDLE
        left.result(2.0)
        assert time.monotonic() - started < 1.0
        assert controller.session.snapshot().state is not ConnState.CONNECTING


def test_a_local_sandbox_that_died_is_started_again(
        make_controller: Callable[..., RoomController]) -> None:
    controller = make_controller(sandbox_voices=1)
    views = _join(controller, JoinSpec(room="demo", identity="me"))
    assert controller.sandbox is not None
    first_url = controller.sandbox.url
    proc = controller.sandbox._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(5)
    assert views.wait(lambda v: v.phase in (Phase.WAITING, Phase.REJOINING),
                      SDK_GIVES_UP_S), views.seen[-1]
    assert views.wait(_in_room, 20.0), views.seen[-1]
    assert controller.sandbox is not None and controller.sandbox.running
    assert controller.sandbox.url != first_url  # a new child, on a new port
    assert wait_until(lambda: bool(controller.session.snapshot().participants), 5.0)
