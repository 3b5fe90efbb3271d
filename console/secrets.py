"""Secrets (tokens, API secrets): the system keyring when there is one, else this run only.

Nothing here ever writes a secret to the settings file or a log. ``keyring`` is optional:
without it, or with no usable backend (a headless machine), secrets live in memory until
the app quits.
"""

from __future__ import annotations

import contextlib
from typing import Any

SERVICE = "livekit-console"


def _keyring() -> Any | None:
    try:
        import keyring
        from keyring.backends import fail
    except Exception:
        return None
    try:
        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None
    except Exception:
        return None
    return keyring


class SecretStore:
    """get/set by name (e.g. ``token@wss://host``); ``persistent`` says where they live."""

    def __init__(self, use_keyring: bool = True) -> None:
        self._ring = _keyring() if use_keyring else None
        self._memory: dict[str, str] = {}

    @property
    def persistent(self) -> bool:
        return self._ring is not None

    def get(self, name: str) -> str:
        if name in self._memory:
            return self._memory[name]
        if self._ring is not None:
            with contextlib.suppress(Exception):
                return str(self._ring.get_password(SERVICE, name) or "")
        return ""

    def set(self, name: str, value: str) -> None:
        self._memory[name] = value
        if self._ring is not None:
            with contextlib.suppress(Exception):
                if value:
                    self._ring.set_password(SERVICE, name, value)
                else:
                    self._ring.delete_password(SERVICE, name)
