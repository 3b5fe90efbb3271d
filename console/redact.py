"""Keep tokens and API secrets out of every text a user may copy: logs, stderr, the window.

Two kinds of text are replaced by :data:`PLACEHOLDER`: anything shaped like a JWT (a
LiveKit server echoes the whole token in its 401 answer, and the SDK logs and raises that
text) and every secret registered with :func:`register_secret` once it is known.
"""

from __future__ import annotations

import re
import threading

PLACEHOLDER = "[redacted]"
MIN_SECRET_LEN = 4  # shorter "secrets" would blank out ordinary words and guard nothing

# A JWT's header is base64url JSON, so it starts with "eyJ" ('{"'). A truncated token
# (error texts get cut) still carries its claims: match from "eyJ" on, whole or not.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*){0,2}")
WORDLIKE_LEN = 12  # secrets shorter than this are matched only as whole words
# A plain lowercase word this short ("secret", the dev servers' well-known default) is not
# redacted: it guards nothing, and it would blank that word in every message ("check the
# API [redacted]").
PLAIN_WORD_LEN = 8
_PLAIN_WORD = re.compile(r"[a-z]+")

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(secret: str | None) -> None:
    """Redact ``secret`` from now on (empty and very short values are ignored)."""
    global _pattern
    value = (secret or "").strip()
    if len(value) < MIN_SECRET_LEN or value in _secrets:
        return
    if len(value) <= PLAIN_WORD_LEN and _PLAIN_WORD.fullmatch(value):
        return
    with _lock:
        _secrets.add(value)
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(_alternative(s) for s in ordered))


def _alternative(secret: str) -> str:
    """A long secret matches anywhere; a short one not inside a longer word."""
    body = re.escape(secret)
    if len(secret) >= WORDLIKE_LEN:
        return body
    before = r"(?<![A-Za-z0-9])" if secret[0].isalnum() else ""
    after = r"(?![A-Za-z0-9])" if secret[-1].isalnum() else ""
    return f"{before}{body}{after}"


def forget_secrets() -> None:
    """Drop every registered secret (tests)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def redact(text: str) -> str:
    """``text`` with JWT-shaped strings and registered secrets replaced by the placeholder."""
    if not text:
        return text
    if "eyJ" in text:
        text = _JWT.sub(PLACEHOLDER, text)
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(PLACEHOLDER, text)
    return text
