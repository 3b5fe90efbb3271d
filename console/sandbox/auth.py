"""Tokens, checked the way a LiveKit server checks them, with a readable reason: join tokens
(with the agents their room configuration dispatches) and the server API's admin tokens."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import jwt
from google.protobuf import json_format
from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol import agent_dispatch

from console.sandbox.options import DEV_KEY, DEV_SECRET

__all__ = ["DEV_KEY", "DEV_SECRET", "AuthError", "Grant", "verify", "verify_room_admin"]


class AuthError(Exception):
    """The token cannot join: the message says why (sent with the 401)."""


@dataclass(frozen=True)
class Grant:
    """Who may join which room, from a verified token."""

    identity: str
    name: str
    room: str
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    # Agents the token's room configuration dispatches when its join creates the room.
    agents: tuple[agent_dispatch.RoomAgentDispatch, ...] = ()


def _claims(token: str, api_key: str, api_secret: str) -> Claims:
    if not token:
        raise AuthError("no token: send it as 'Authorization: Bearer <token>' "
                        "(or ?access_token=<token> from a browser)")
    try:
        with warnings.catch_warnings():
            # PyJWT warns about short HMAC keys; "secret" is the dev default on purpose.
            warnings.simplefilter("ignore")
            claims = api.TokenVerifier(api_key, api_secret).verify(token)
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidIssuerError:
        raise AuthError(f"token was not issued for API key {api_key!r}") from None
    except jwt.InvalidSignatureError:
        raise AuthError("token signature does not match the API secret") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token has no {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    except json_format.ParseError as exc:
        raise AuthError(f"token's roomConfig is not a room configuration: {exc}") from None
    return claims


def verify(token: str, api_key: str, api_secret: str) -> Grant:
    """The join grant in ``token``, or AuthError with the reason a user can act on."""
    claims = _claims(token, api_key, api_secret)
    video = claims.video or api.VideoGrants()
    if not video.room_join:
        raise AuthError("token does not grant roomJoin")
    if not video.room:
        raise AuthError("token names no room")
    if not claims.identity:
        raise AuthError("token has no identity")
    return Grant(
        identity=claims.identity, name=claims.name or "", room=video.room,
        metadata=claims.metadata or "", attributes=dict(claims.attributes or {}),
        kind=str(claims.kind or ""),
        can_publish=video.can_publish is not False,
        can_subscribe=video.can_subscribe is not False,
        can_publish_data=video.can_publish_data is not False,
        agents=tuple(claims.room_config.agents) if claims.room_config is not None else (),
    )


def verify_room_admin(token: str, api_key: str, api_secret: str, room: str) -> None:
    """AuthError unless ``token`` may administer ``room`` (roomAdmin for that very room, as
    livekit-server requires of the room and agent-dispatch APIs)."""
    claims = _claims(token, api_key, api_secret)
    video = claims.video or api.VideoGrants()
    if not video.room_admin or video.room != room:
        raise AuthError("permissions denied")
