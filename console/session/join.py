"""What to join: a URL with a token, or an API key and secret; the environment; or the sandbox.

Everything here is checked before a socket is opened, so the common mistakes (a URL that is
not one, a token that is not a JWT, has expired, or names another room) get a one-line
message at once. Tokens and secrets are kept out of ``repr``.
"""

from __future__ import annotations

import datetime
import getpass
import logging
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from livekit import api

from console.redact import register_secret

log = logging.getLogger(__name__)

DEFAULT_ROOM = "console"
TOKEN_TTL = datetime.timedelta(hours=6)
ENV_URL, ENV_KEY, ENV_SECRET = "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"


class JoinError(Exception):
    """Joining cannot work, or did not: the message is one line a user can act on.

    ``str()`` speaks the command line's language ("give --token"); ``plain`` says the same
    for the window ("fill in a token"), and is ``str()`` when both would say the same.
    """

    def __init__(self, message: str, plain: str | None = None) -> None:
        super().__init__(message)
        self.plain = plain or message


def default_identity() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "user"
    return f"console-{user}"


@dataclass(frozen=True)
class JoinSpec:
    """What the user gave (command line, window or environment)."""

    url: str | None = None
    token: str | None = field(default=None, repr=False)
    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)
    room: str | None = None
    identity: str | None = None
    name: str | None = None
    agent: str | None = None   # the LiveKit agent to dispatch into the room, by its name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **given: str | None) -> JoinSpec:
        """``given`` (non-empty values) over LIVEKIT_URL / _API_KEY / _API_SECRET."""
        env = os.environ if environ is None else environ
        values: dict[str, str | None] = {
            "url": env.get(ENV_URL) or None,
            "api_key": env.get(ENV_KEY) or None,
            "api_secret": env.get(ENV_SECRET) or None,
        }
        if given.get("token"):  # a token brings its own grant: no env key needed
            values["api_key"] = values["api_secret"] = None
        values.update({k: v for k, v in given.items() if v})
        return cls(**values)

    @property
    def uses_sandbox(self) -> bool:
        return not self.url


@dataclass(frozen=True)
class Resolved:
    """A URL and a token that should work, with what the token says."""

    url: str
    token: str = field(repr=False)
    room: str
    identity: str
    sandbox: bool = False
    # How ``agent`` reaches the room: "token" (the minted token carries its dispatch),
    # "api" (through the server's AgentDispatchService once joined, with ``api_key`` and
    # ``api_secret``), or "" (none asked for). ``dispatch_note`` says why it cannot be.
    agent: str = ""
    dispatch: str = ""
    api_key: str = ""
    api_secret: str = field(default="", repr=False)
    dispatch_note: str = ""


def normalize_url(url: str) -> str:
    """ws(s)://host[:port][/path]; http(s) is taken as ws(s). JoinError if it is not a URL."""
    text = url.strip()
    if "://" not in text:
        raise JoinError(f"malformed URL {text!r}: expected ws://host:port or wss://host")
    parts = urlsplit(text)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in ("ws", "wss"):
        raise JoinError(f"malformed URL {text!r}: the scheme must be ws, wss, http or https")
    try:
        port = parts.port
    except ValueError:
        raise JoinError(f"malformed URL {text!r}: bad port") from None
    if not parts.hostname:
        raise JoinError(f"malformed URL {text!r}: no host")
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname}]" + ("" if port is None else f":{port}")
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


def read_token(token: str) -> dict[str, object]:
    """The token's claims, unverified (the server verifies); JoinError if it is no JWT."""
    try:
        claims: dict[str, object] = jwt.decode(token.strip(),
                                               options={"verify_signature": False})
    except jwt.PyJWTError:
        raise JoinError("the token is not a valid JWT (copy it again, whole)") from None
    return claims


def mint_token(api_key: str, api_secret: str, room: str, identity: str,
               name: str | None = None, agent: str | None = None) -> str:
    """A join token made here: room_join, can_publish, can_subscribe, can_publish_data;
    with ``agent``, the room configuration dispatches that agent when this join creates
    the room (as LiveKit's token dispatch does)."""
    grants = api.VideoGrants(room_join=True, room=room, can_publish=True, can_subscribe=True,
                             can_publish_data=True)
    token = (api.AccessToken(api_key, api_secret).with_identity(identity)
             .with_name(name or identity).with_grants(grants).with_ttl(TOKEN_TTL))
    if agent:
        token = token.with_room_config(api.RoomConfiguration(
            agents=[api.RoomAgentDispatch(agent_name=agent)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns about short dev secrets
        return token.to_jwt()


def resolve(spec: JoinSpec, *, sandbox_url: str | None = None,
            sandbox_key: str = "devkey", sandbox_secret: str = "secret",
            now: float | None = None) -> Resolved:
    """Check ``spec`` and produce a URL + token; ``sandbox_url`` is used when it has no URL."""
    # Known before anything can fail, so no message or log line can carry them.
    register_secret(spec.token)
    register_secret(spec.api_secret)
    try:
        resolved = _resolve(spec, sandbox_url, sandbox_key, sandbox_secret,
                            time.time() if now is None else now)
    except JoinError as exc:
        log.info("join: not attempted: %s", exc)
        raise
    register_secret(resolved.token)
    how = ("the local sandbox" if resolved.sandbox else
           "a given token" if spec.token else f"API key {spec.api_key}")
    log.info("join: %s room %r as %r with %s", resolved.url, resolved.room,
             resolved.identity, how)
    return resolved


def _resolve(spec: JoinSpec, sandbox_url: str | None, sandbox_key: str, sandbox_secret: str,
             now: float) -> Resolved:
    if spec.uses_sandbox:
        if sandbox_url is None:
            raise JoinError("no URL: give --url (or LIVEKIT_URL), or use the local sandbox",
                            plain="no server URL: fill in the server's URL, or use the "
                                  "local sandbox")
        room = spec.room or "demo"
        identity = spec.identity or default_identity()
        token = mint_token(sandbox_key, sandbox_secret, room, identity, spec.name, spec.agent)
        return Resolved(sandbox_url, token, room, identity, sandbox=True,
                        **_by_token(spec.agent))
    assert spec.url is not None
    url = normalize_url(spec.url)
    if spec.token:
        claims = read_token(spec.token)
        video = claims.get("video") if isinstance(claims.get("video"), dict) else {}
        assert isinstance(video, dict)
        token_room = str(video.get("room") or "")
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < now:
            ago = int(now - exp)
            raise JoinError(f"the token expired {ago} s ago: make a new one")
        if not video.get("roomJoin"):
            raise JoinError("the token does not allow joining a room (no roomJoin grant)")
        if spec.room and token_room and spec.room != token_room:
            raise JoinError(f"the token is for room {token_room!r}, not {spec.room!r}")
        identity = str(claims.get("sub") or "")
        room = token_room or spec.room or ""
        if not spec.agent:
            return Resolved(url, spec.token.strip(), room, identity)
        if spec.api_key and spec.api_secret:
            return Resolved(url, spec.token.strip(), room, identity,
                            **_by_api(spec.agent, spec.api_key, spec.api_secret))
        return Resolved(url, spec.token.strip(), room, identity, agent=spec.agent,
                        dispatch_note=f"cannot dispatch agent {spec.agent!r}: a given token "
                                      "is used as it is; give the API key and secret too "
                                      "(or a token that dispatches it)")
    if spec.api_key and spec.api_secret:
        room = spec.room or DEFAULT_ROOM
        identity = spec.identity or default_identity()
        token = mint_token(spec.api_key, spec.api_secret, room, identity, spec.name, spec.agent)
        return Resolved(url, token, room, identity, **_by_token(spec.agent))
    if spec.api_key or spec.api_secret:
        raise JoinError("an API key needs its secret (and a secret its key)")
    raise JoinError("no token: give --token, or --api-key and --api-secret "
                    f"(or {ENV_KEY} / {ENV_SECRET})",
                    plain="no token: fill in a token, or an API key and secret")


def _by_token(agent: str | None) -> dict[str, Any]:
    """A minted token carries the dispatch (it acts when the join creates the room)."""
    return {"agent": agent, "dispatch": "token"} if agent else {}


def _by_api(agent: str, api_key: str, api_secret: str) -> dict[str, Any]:
    """A given token is used as it is: the agent is dispatched through the server's API
    once joined, with the key and secret."""
    return {"agent": agent, "dispatch": "api", "api_key": api_key, "api_secret": api_secret}
