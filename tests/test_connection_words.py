"""A failed join in plain words, naming the server and the cause, never a secret.

The first tests join through the real controller, session and SDK: a closed port, wss://
against the sandbox (which speaks plain ws), a token the sandbox refuses, two failures in a
row. The last ones feed :func:`explain` texts in the shape the SDK (livekit 1.2.1) produced
on these machines, for the cases a local test cannot stage (an unknown host, a full room),
and the reasons a room can end with.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from console.engine.apm import ProcessingConfig
from console.redact import PLACEHOLDER, forget_secrets
from console.sandbox.server import SandboxThread
from console.sandbox.voices import make_token
from console.session.connection_view import ConnectionView, Phase, status_text
from console.session.controller import RoomController
from console.session.explain import Cause, RoomLost, explain
from console.session.join import JoinError, JoinSpec, mint_token
from console.session.room_session import RoomSession
from tests.audio_helpers import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
ROOM = "test"


@pytest.fixture(autouse=True)
def no_secrets_known() -> Iterator[None]:
    """Each test a fresh app: secrets registered by an earlier test (the sandbox's dev
    secret is the word "secret") would blank that word in the texts checked here."""
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def controller(sound_card: object) -> Iterator[RoomController]:
    from console.engine.audio_engine import AudioEngine

    engine = AudioEngine(input_device="lkc_mic_b", processing=ProcessingConfig.off())
    engine.start()
    made = RoomController(engine, session=RoomSession(engine, publish=False))
    try:
        yield made
    finally:
        made.close()
        engine.stop()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fail(controller: RoomController, spec: JoinSpec) -> ConnectionView:
    """Join ``spec``, which must fail; the view once the attempt is over."""
    assert controller.join(spec)
    assert wait_until(lambda: not controller.busy, 12.0)
    view = controller.view()
    assert view.phase is Phase.FAILED, view
    assert view.error is not None
    return view


def _texts(controller: RoomController, view: ConnectionView) -> list[str]:
    """Every text about the join the window could show or copy."""
    snap = controller.session.snapshot()
    return [view.line, view.error_short, view.error_full, status_text(view, snap),
            snap.detail, *(c.detail for c in snap.history)]


@pytest.mark.audio
def test_a_refused_connection_names_the_server(controller: RoomController) -> None:
    url = f"ws://127.0.0.1:{_closed_port()}"
    view = _fail(controller, JoinSpec(url=url, api_key="devkey", api_secret="secret"))
    assert view.error is not None and view.error.cause is Cause.REFUSED
    assert view.error_short == f"{url} refused the connection"
    assert "Check that the server is running" in view.error_full
    assert "os error 111" in view.error_full  # the SDK's own words, for a bug report
    assert view.line == "not in a room"


@pytest.mark.audio
def test_wss_against_a_plain_ws_server_says_try_ws(controller: RoomController,
                                                   sandbox: SandboxThread) -> None:
    port = sandbox.server.port
    view = _fail(controller, JoinSpec(url=f"wss://127.0.0.1:{port}", token=make_token("me",
                                                                                      ROOM)))
    assert view.error is not None and view.error.cause is Cause.NO_TLS
    assert view.error_short == (f"wss://127.0.0.1:{port} does not speak TLS: try "
                                f"ws://127.0.0.1:{port}")
    assert "InvalidContentType" not in view.error_short  # Rust's words only in the details


@pytest.mark.audio
@pytest.mark.parametrize("given", ["token", "key and secret"])
def test_a_refused_token_names_the_cause_and_never_the_token(
        controller: RoomController, sandbox: SandboxThread, given: str) -> None:
    wrong = "wrong-secret-NOT-SHOWN"
    token = make_token("me", ROOM, api_secret=wrong)
    spec = (JoinSpec(url=sandbox.url, token=token) if given == "token" else
            JoinSpec(url=sandbox.url, api_key="devkey", api_secret=wrong, room=ROOM))
    view = _fail(controller, spec)
    assert view.error is not None and view.error.cause is Cause.TOKEN
    assert view.error_short == (f"{sandbox.url} refused the token: the token was not signed "
                                "with this server's API secret")
    assert "Check the API secret" in view.error_full
    for text in _texts(controller, view):
        assert wrong not in text and token not in text and "eyJ" not in text, text


@pytest.mark.audio
def test_two_failures_in_a_row_show_only_the_newest(controller: RoomController,
                                                    sandbox: SandboxThread) -> None:
    refused = f"ws://127.0.0.1:{_closed_port()}"
    first = _fail(controller, JoinSpec(url=refused, token=make_token("me", ROOM)))
    assert first.error is not None and first.error.cause is Cause.REFUSED
    # Refused before any socket opens: the session still holds the first failure.
    second = _fail(controller, JoinSpec(url=sandbox.url))
    assert second.error is not None and second.error.cause is Cause.SETUP
    assert controller.session.snapshot().detail == first.error_short
    port = sandbox.server.port
    third = _fail(controller, JoinSpec(url=f"wss://127.0.0.1:{port}",
                                       token=make_token("me", ROOM)))
    assert third.error is not None and third.error.cause is Cause.NO_TLS
    for view in (second, third):
        for text in _texts(controller, view)[:4]:  # line, error, full text, status bar
            assert "refused" not in text, text
        assert view.line == "not in a room"  # the line never carries an error of its own


@pytest.mark.audio
def test_the_window_gets_no_command_line_wording(controller: RoomController) -> None:
    view = _fail(controller, JoinSpec(url="ws://127.0.0.1:9"))
    assert view.error_short == "no token: fill in a token, or an API key and secret"
    assert "--" not in view.error_full
    with pytest.raises(JoinError, match="give --token"):  # the CLI keeps its own words
        from console.session.join import resolve

        resolve(JoinSpec(url="ws://127.0.0.1:9"))


# -- the SDK's texts for what a local test cannot stage --------------------------------------
URL = "ws://lk.example:7880"


@pytest.mark.parametrize(("text", "short", "cause"), [
    # ws://no-such-host.invalid:7880
    ("engine: signal failure: transport connection error: IO error: failed to lookup "
     "address information: Name or service not known", "unknown host lk.example: no such name",
     Cause.UNKNOWN_HOST),
    # livekit-server's words for a room at its max participants, as an HTTP 500
    ("engine: signal failure: server error: 500 Internal Server Error - room has exceeded "
     "its max participants", f"the room on {URL} is full", Cause.ROOM_FULL),
    # an HTTP server that is not LiveKit
    ("engine: signal failure: client error: 404 Not Found - 404: Not Found",
     f"{URL} is not a LiveKit server", Cause.NOT_LIVEKIT),
    # a port that takes the connection and never answers: the SDK gives up after 32 s
    ("engine: signal failure: transport timed out", f"no answer from {URL} in time",
     Cause.TIMEOUT),
    # ws:// to a TLS server
    ("engine: signal failure: transport connection error: WebSocket protocol error: "
     "Handshake not finished", f"{URL} did not answer as a plain WebSocket server: if it "
                               "uses TLS, try wss://lk.example:7880", Cause.TLS),
    # wss:// to a server with a self-signed certificate
    ("engine: signal failure: transport connection error: IO error: invalid peer "
     "certificate: Other(OtherError(CaUsedAsEndEntity))",
     f"{URL} has a certificate this machine does not trust", Cause.TLS),
    ("engine: signal failure: client error: 401 Unauthorized - token expired",
     f"{URL} refused the token: the token has expired", Cause.TOKEN),
    ("engine: signal failure: client error: 401 Unauthorized - token was not issued for "
     "API key 'devkey'", f"{URL} refused the token: the server does not know the token's "
                         "API key", Cause.TOKEN),
])
def test_sdk_texts_become_plain_words(text: str, short: str, cause: Cause) -> None:
    explained = explain(RuntimeError(text), URL)
    assert (explained.short, explained.cause) == (short, cause)
    assert "engine:" not in explained.short and "\n" not in explained.short
    assert text in explained.full  # the original words stay available, in full


def test_a_server_quoting_the_token_is_explained_without_it() -> None:
    token = mint_token("k", "a-secret-value", "r", "ann")
    sdk = (f"engine: signal failure: client error: 401 Unauthorized - invalid token: "
           f"{token}, error: go-jose/go-jose: error in cryptographic primitive")
    explained = explain(RuntimeError(sdk), f"{URL}/?access_token={token}")
    assert explained.short == (f"{URL} refused the token: the token was not signed with "
                               "this server's API secret")
    for text in (explained.short, explained.full):
        assert token not in text and "eyJ" not in text
    assert PLACEHOLDER in explained.full


@pytest.mark.parametrize(("reason", "short", "retry"), [
    ("UNKNOWN_REASON", f"lost the connection to {URL}", True),
    ("SERVER_SHUTDOWN", f"{URL} shut down", True),
    ("SIGNAL_CLOSE", f"lost the connection to {URL}", True),
    ("DUPLICATE_IDENTITY", f"someone else joined room 'demo' on {URL} as 'me'", False),
    ("PARTICIPANT_REMOVED", f"removed from room 'demo' on {URL}", False),
    ("ROOM_DELETED", f"room 'demo' on {URL} was closed", False),
])
def test_a_lost_room_says_why_and_whether_to_rejoin(reason: str, short: str,
                                                    retry: bool) -> None:
    explained = explain(RoomLost(reason), URL, room="demo", identity="me")
    assert (explained.short, explained.retry) == (short, retry)
