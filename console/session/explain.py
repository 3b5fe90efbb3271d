"""Why a join failed or a room was lost, in plain words: what failed, at which server, what
to check.

The SDK's texts come from its Rust core ("engine: signal failure: transport connection
error: IO error: received corrupt message of type InvalidContentType") and the command
line's from argparse habits ("give --token"); neither belongs in a window. :func:`explain`
turns either into an :class:`Explanation`: a short line naming the server and the cause, a
full text with the advice and the original words (for a tooltip or a copied report), and
whether trying again can help (the automatic rejoin asks). Every text is redacted: a
server's 401 answer quotes the whole token, and the SDK quotes the answer.

No livekit import: the window's fakes and the pure view code use this too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from console.redact import redact


class Cause(StrEnum):
    """What went wrong, for code that decides (retry or not) and tests; words are elsewhere."""

    SETUP = "setup"              # the input cannot work (no token, malformed URL, ...)
    SANDBOX = "sandbox"          # the local sandbox did not start
    REFUSED = "refused"          # nothing listens at that port
    NO_TLS = "no-tls"            # wss:// to a server that speaks plain ws
    TLS = "tls"                  # a TLS failure: untrusted certificate, plain ws to TLS
    UNKNOWN_HOST = "unknown-host"
    UNREACHABLE = "unreachable"  # no route, network down
    TIMEOUT = "timeout"
    TOKEN = "token"              # the server refused the token (401, 403)
    ROOM_FULL = "room-full"
    NOT_LIVEKIT = "not-livekit"  # something answered, not a LiveKit server (404, ...)
    SERVER_ERROR = "server-error"
    LOST = "lost"                # the room was lost: connection gone, server shut down
    REPLACED = "replaced"        # someone joined with the same identity
    REMOVED = "removed"          # removed from the room by the server
    ROOM_CLOSED = "room-closed"
    LEFT = "left"                # we left (not a problem)
    OTHER = "other"


@dataclass(frozen=True)
class Explanation:
    """One problem: ``short`` for a line, ``full`` for a tooltip or Copy; both redacted."""

    short: str
    full: str
    cause: Cause = Cause.OTHER
    retry: bool = False  # trying the same again later can work (the rejoin goes on)


@dataclass(frozen=True)
class RoomLost:
    """The room ended without our Leave: the SDK's ``DisconnectReason`` name."""

    reason: str = "UNKNOWN_REASON"


class NoAnswer(TimeoutError):
    """The server took the connection (or not) and said nothing within ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:.0f} s")
        self.seconds = seconds


def explain(cause: BaseException | RoomLost | str, url: str = "", *,
            room: str = "", identity: str = "") -> Explanation:
    """Plain words for a failed join (an exception or a text) or a lost room at ``url``."""
    server = display_url(url)
    if isinstance(cause, RoomLost):
        found = _lost(cause.reason, server, room, identity)
    else:
        found = _failure(cause, server)
    return Explanation(redact(found.short), redact(found.full), found.cause, found.retry)


def display_url(url: str) -> str:
    """The server as the user would write it: scheme, host and port, without path or query
    (a query string can carry a token)."""
    text = (url or "").strip()
    if "://" not in text:
        return text or "the server"
    try:
        parts = urlsplit(text)
        netloc = parts.netloc.rsplit("@", 1)[-1]  # never a user:password
    except ValueError:
        return text
    return urlunsplit((parts.scheme, netloc, "", "", "")) or text


def _swap_scheme(server: str, scheme: str) -> str:
    parts = server.split("://", 1)
    return f"{scheme}://{parts[1]}" if len(parts) == 2 else server


def _with_details(advice: str, original: str) -> str:
    original = original.strip()
    return f"{advice}\n\nDetails: {original}" if original else advice


# -- a join that failed ------------------------------------------------------------------------
_HTTP = re.compile(r"\b(?:client|server) error: (\d{3})\b[^-]*-?\s*(.*)", re.S)
_TOKEN_HINTS = (
    ("expired", "the token has expired",
     "Make a new token, or join with an API key and secret so the console makes one."),
    ("signature", "the token was not signed with this server's API secret",
     "Check the API secret (and that the key and secret belong to this server)."),
    ("cryptographic", "the token was not signed with this server's API secret",
     "Check the API secret (and that the key and secret belong to this server)."),
    ("api key", "the server does not know the token's API key",
     "Check the API key (and that the key and secret belong to this server)."),
    ("no token", "no token reached it",
     "Fill in a token, or an API key and secret."),
    ("roomjoin", "the token does not allow joining a room",
     "Make a token with the room-join grant."),
)
TOKEN_ADVICE = ("Check the API key and secret (they must be this server's), or the token's "
                "expiry and room.")


def _failure(error: BaseException | str, server: str) -> Explanation:
    if isinstance(error, str):
        text = error
    else:
        plain = getattr(error, "plain", None)  # a JoinError with words for the window
        if isinstance(plain, str) and plain:
            return Explanation(plain, _with_details(plain, ""), Cause.SETUP)
        if isinstance(error, NoAnswer):
            return Explanation(
                f"no answer from {server} within {error.seconds:.0f} s",
                f"{server} took no part in the join within {error.seconds:.0f} s. Check "
                "the address and port, and that a LiveKit server runs there and is not "
                "behind a firewall.", Cause.TIMEOUT, retry=True)
        text = str(error) or type(error).__name__
    original = redact(text)  # before any cut, so no part of a token is left
    lowered = original.lower()
    http = _HTTP.search(original)
    if http is not None:
        return _http(int(http.group(1)), http.group(2).strip(), server, original)
    if "room is full" in lowered or "max participants" in lowered:
        return _room_full(server, original)
    if "connection refused" in lowered or "os error 111" in lowered:
        return Explanation(
            f"{server} refused the connection",
            _with_details(f"Nothing is listening at {server}. Check that the server is "
                          "running and that the address and port are right.", original),
            Cause.REFUSED, retry=True)
    if "invalidcontenttype" in lowered or "corrupt message" in lowered \
            or "wrong version number" in lowered:
        plain_ws = _swap_scheme(server, "ws")
        return Explanation(
            f"{server} does not speak TLS: try {plain_ws}",
            _with_details(f"A secure connection (wss://) was asked of a server that answers "
                          f"without TLS. Use {plain_ws}, or turn TLS on at the server.",
                          original), Cause.NO_TLS)
    if "failed to lookup" in lowered or "name or service not known" in lowered \
            or "nodename nor servname" in lowered or "no such host" in lowered \
            or "name resolution" in lowered or "dns error" in lowered:
        host = (urlsplit(server).hostname or server) if "://" in server else server
        return Explanation(
            f"unknown host {host}: no such name",
            _with_details(f"The name in {server} could not be found. Check its spelling, "
                          "and the network or DNS.", original), Cause.UNKNOWN_HOST,
            retry=True)
    if "no route to host" in lowered or "network is unreachable" in lowered \
            or "unreachable" in lowered:
        return Explanation(
            f"{server} cannot be reached from here",
            _with_details("There is no route to it. Check the address, the network "
                          "connection, a VPN or firewall.", original), Cause.UNREACHABLE,
            retry=True)
    if "certificate" in lowered or "unknownissuer" in lowered:
        return Explanation(
            f"{server} has a certificate this machine does not trust",
            _with_details("The server's TLS certificate is self-signed, expired or made for "
                          "another name. Check the address, or install the certificate's "
                          "authority on this machine.", original), Cause.TLS)
    if "handshake not finished" in lowered and server.startswith("ws://"):
        secure = _swap_scheme(server, "wss")
        return Explanation(
            f"{server} did not answer as a plain WebSocket server: if it uses TLS, try "
            f"{secure}",
            _with_details(f"Something answered at that address but not the WebSocket "
                          f"handshake. A server that needs TLS is reached with {secure}.",
                          original), Cause.TLS)
    if "handshake" in lowered or "tls" in lowered or "ssl" in lowered:
        return Explanation(
            f"secure connection to {server} failed",
            _with_details("The TLS handshake failed. Check the address and port, and that "
                          "the server speaks TLS there (else try "
                          f"{_swap_scheme(server, 'ws')}).", original), Cause.TLS)
    if "timed out" in lowered or "timeout" in lowered or isinstance(error, TimeoutError):
        return Explanation(
            f"no answer from {server} in time",
            _with_details("Check the address and port, and that a LiveKit server runs "
                          "there and is not behind a firewall.", original), Cause.TIMEOUT,
            retry=True)
    if "connection reset" in lowered or "broken pipe" in lowered \
            or "connection closed" in lowered or "unexpected eof" in lowered:
        return Explanation(
            f"{server} closed the connection while joining",
            _with_details("Something answered at that address but hung up. If the server "
                          f"uses TLS, try {_swap_scheme(server, 'wss')}; else check that it "
                          "is a LiveKit server.", original), Cause.NOT_LIVEKIT, retry=True)
    first = original.strip().splitlines()[0] if original.strip() else "unknown error"
    return Explanation(f"could not join at {server}: {_strip_prefixes(first)[:120]}",
                       _with_details("The join failed for a reason the console does not "
                                     "know.", original), Cause.OTHER, retry=True)


def _strip_prefixes(text: str) -> str:
    """The SDK's layers ("engine: signal failure: ...") say nothing to a user."""
    for prefix in ("engine:", "signal failure:", "ws failure:",
                   "transport connection error:", "IO error:"):
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix):].strip()
    return text


def _http(status: int, reason: str, server: str, original: str) -> Explanation:
    reason = reason.strip(" -:")
    if status in (401, 403):
        lowered = reason.lower()
        for needle, why, advice in _TOKEN_HINTS:
            if needle in lowered:
                return Explanation(f"{server} refused the token: {why}",
                                   _with_details(advice, original), Cause.TOKEN)
        return Explanation(f"{server} refused the token",
                           _with_details(TOKEN_ADVICE, original), Cause.TOKEN)
    if "max participants" in reason.lower() or "room is full" in reason.lower():
        return _room_full(server, original)
    if status == 404:
        return Explanation(
            f"{server} is not a LiveKit server",
            _with_details("It answered, but not on LiveKit's signalling path (404). Check "
                          "the address and port.", original), Cause.NOT_LIVEKIT)
    if status >= 500:
        return Explanation(f"{server} failed (server error {status})",
                           _with_details("The server had a problem; it may work again in "
                                         "a moment.", original), Cause.SERVER_ERROR,
                           retry=True)
    return Explanation(f"{server} turned the join down (HTTP {status})",
                       _with_details("Check the address, and that it is a LiveKit server.",
                                     original), Cause.NOT_LIVEKIT)


def _room_full(server: str, original: str) -> Explanation:
    return Explanation(f"the room on {server} is full",
                       _with_details("It has as many participants as it allows. Try again "
                                     "when someone leaves, or join another room.", original),
                       Cause.ROOM_FULL, retry=True)


# -- a room that was lost --------------------------------------------------------------------
def _lost(reason: str, server: str, room: str, identity: str) -> Explanation:
    name = reason.upper()
    where = f"room {room!r} on {server}" if room else server
    if name == "CLIENT_INITIATED":
        return Explanation("left the room", "You left the room.", Cause.LEFT)
    if name == "DUPLICATE_IDENTITY":
        who = f" as {identity!r}" if identity else " with the same identity"
        return Explanation(f"someone else joined {where}{who}",
                           "The server lets one participant per identity in; the newer one "
                           "stays. Join again with another identity.", Cause.REPLACED)
    if name == "PARTICIPANT_REMOVED":
        return Explanation(f"removed from {where}",
                           "The server (or an administrator) removed you from the room.",
                           Cause.REMOVED)
    if name in ("ROOM_DELETED", "ROOM_CLOSED"):
        return Explanation(f"{where} was closed",
                           "The room ended on the server.", Cause.ROOM_CLOSED)
    if name == "SERVER_SHUTDOWN":
        return Explanation(f"{server} shut down",
                           f"The server shut down while you were in {where}; the console "
                           "joins again when it is back.", Cause.LOST, retry=True)
    if name in ("SIGNAL_CLOSE", "JOIN_FAILURE", "CONNECTION_TIMEOUT", "MEDIA_FAILURE",
                "STATE_MISMATCH", "MIGRATION", "UNKNOWN_REASON", ""):
        why = {
            "SIGNAL_CLOSE": "the server closed the connection",
            "JOIN_FAILURE": "the connection could not be restored",
            "CONNECTION_TIMEOUT": "the server stopped answering",
            "MEDIA_FAILURE": "the audio connection failed",
            "STATE_MISMATCH": "the server lost track of the session",
            "MIGRATION": "the server moved the session",
        }.get(name, "the server stopped answering and the connection could not be restored")
        return Explanation(f"lost the connection to {server}",
                           f"In {where}, {why}. The console joins again by itself until "
                           "you press Leave.", Cause.LOST, retry=True)
    words = name.lower().replace("_", " ")
    return Explanation(f"left {where}: {words}",
                       f"The server ended the session ({name}).", Cause.OTHER)
