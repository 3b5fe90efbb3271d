"""Join settings: URL checks, tokens made and read here, the environment, secrets hidden."""

from __future__ import annotations

import time

import jwt
import pytest

from console.session.explain import explain
from console.session.join import (
    DEFAULT_ROOM,
    JoinError,
    JoinSpec,
    mint_token,
    normalize_url,
    resolve,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize(("given", "expected"), [
    ("ws://localhost:7880", "ws://localhost:7880"),
    ("wss://my.livekit.cloud/", "wss://my.livekit.cloud"),
    ("https://my.livekit.cloud", "wss://my.livekit.cloud"),
    ("http://127.0.0.1:7880", "ws://127.0.0.1:7880"),
    (" WS://Host:1/path/ ", "ws://host:1/path"),
])
def test_urls_are_normalised(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(("given", "reason"), [
    ("localhost:7880", "expected ws://host:port"),
    ("ftp://host", "the scheme must be ws, wss, http or https"),
    ("ws://", "no host"),
    ("ws://host:99999", "bad port"),
])
def test_malformed_urls_say_what_is_wrong(given: str, reason: str) -> None:
    with pytest.raises(JoinError, match=reason):
        normalize_url(given)


def test_a_token_is_made_from_key_and_secret_with_the_grants() -> None:
    resolved = resolve(JoinSpec(url="ws://h:1", api_key="k", api_secret="s", room="r",
                                identity="ann", name="Ann"))
    claims = jwt.decode(resolved.token, "s", algorithms=["HS256"], issuer="k")
    video = claims["video"]
    assert video["room"] == "r" and video["roomJoin"] and video["canPublish"]
    assert video["canSubscribe"]
    assert claims["sub"] == "ann" and claims["name"] == "Ann"
    assert claims["exp"] > time.time() + 3600
    assert (resolved.room, resolved.identity, resolved.sandbox) == ("r", "ann", False)


def test_defaults_for_room_and_identity() -> None:
    resolved = resolve(JoinSpec(url="ws://h:1", api_key="k", api_secret="s"))
    assert resolved.room == DEFAULT_ROOM
    assert resolved.identity.startswith("console-")


def test_a_given_token_is_read_and_checked_locally() -> None:
    token = mint_token("k", "s", "room-a", "bob")
    resolved = resolve(JoinSpec(url="ws://h:1", token=token))
    assert (resolved.room, resolved.identity, resolved.token) == ("room-a", "bob", token)
    with pytest.raises(JoinError, match="the token is for room 'room-a', not 'room-b'"):
        resolve(JoinSpec(url="ws://h:1", token=token, room="room-b"))
    expired = jwt.encode({"iss": "k", "sub": "bob", "exp": int(time.time()) - 30,
                          "video": {"roomJoin": True, "room": "r"}}, "s")
    with pytest.raises(JoinError, match=r"the token expired 3[0-9] s ago"):
        resolve(JoinSpec(url="ws://h:1", token=expired))
    with pytest.raises(JoinError, match="not a valid JWT"):
        resolve(JoinSpec(url="ws://h:1", token="not-a-token"))
    no_join = jwt.encode({"iss": "k", "sub": "bob", "exp": int(time.time()) + 60,
                          "video": {"room": "r"}}, "s")
    with pytest.raises(JoinError, match="no roomJoin grant"):
        resolve(JoinSpec(url="ws://h:1", token=no_join))


def test_missing_credentials_are_named() -> None:
    with pytest.raises(JoinError, match="no token: give --token, or --api-key") as info:
        resolve(JoinSpec(url="ws://h:1"))
    assert info.value.plain == "no token: fill in a token, or an API key and secret"
    with pytest.raises(JoinError, match="needs its secret"):
        resolve(JoinSpec(url="ws://h:1", api_key="k"))


def test_the_environment_fills_in_what_is_not_given() -> None:
    env = {"LIVEKIT_URL": "wss://env.example", "LIVEKIT_API_KEY": "ek",
           "LIVEKIT_API_SECRET": "es"}
    spec = JoinSpec.from_env(env, room="r", url=None)
    assert (spec.url, spec.api_key, spec.api_secret, spec.room) == (
        "wss://env.example", "ek", "es", "r")
    given = JoinSpec.from_env(env, url="ws://mine:1", token="t")
    assert given.url == "ws://mine:1" and given.token == "t"
    assert given.api_key is None and given.api_secret is None  # the token decides
    assert JoinSpec.from_env({}).uses_sandbox


def test_no_url_joins_the_sandbox() -> None:
    resolved = resolve(JoinSpec(), sandbox_url="ws://127.0.0.1:5555")
    assert resolved.sandbox and resolved.url == "ws://127.0.0.1:5555"
    assert resolved.room == "demo"
    jwt.decode(resolved.token, "secret", algorithms=["HS256"], issuer="devkey")
    with pytest.raises(JoinError, match="no URL"):
        resolve(JoinSpec())


def test_secrets_stay_out_of_repr() -> None:
    spec = JoinSpec(url="ws://h:1", token="tok-SECRET", api_key="k", api_secret="sec-SECRET")
    resolved = resolve(JoinSpec(url="ws://h:1", api_key="k", api_secret="sec-SECRET"))
    assert "SECRET" not in repr(spec)
    assert resolved.token not in repr(resolved)


@pytest.mark.parametrize(("text", "line"), [
    ("engine: signal failure: client error: 401 Unauthorized - token expired",
     "ws://h:1 refused the token: the token has expired"),
    ("engine: signal failure: transport connection error: IO error: Connection refused "
     "(os error 111)", "ws://h:1 refused the connection"),
    ("engine: failed to lookup address information", "unknown host h: no such name"),
    ("engine: signal failure: client error: 404 Not Found - ",
     "ws://h:1 is not a LiveKit server"),
])
def test_sdk_errors_become_one_line(text: str, line: str) -> None:
    assert explain(RuntimeError(text), "ws://h:1").short == line
