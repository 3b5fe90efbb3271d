"""Secrets (access token, API key and secret) remembered per server URL in the system keyring.

Nothing here writes a secret to the settings file or a log. One keyring entry per server
URL (service ``livekit-console``, user name the normalized URL) holds that server's secrets
as JSON: one D-Bus round trip per lookup, save or forget. Without a usable keyring they
live in memory for this run only, and :attr:`SecretStore.why_not` says why.

Keyring calls may block (D-Bus, an unlock prompt): they are made on user actions (a URL
chosen, Join, Forget) from the GUI thread, never on a timer or the audio path, and a
failing backend is reported, never raised.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "livekit-console"
FIELDS = ("token", "api_key", "api_secret")  # what an entry may hold (JoinSpec's names)
ENV_BACKEND = "PYTHON_KEYRING_BACKEND"
# Backends that keep secrets in the OS's own store (Secret Service, KWallet, macOS, Windows).
# fail/null keep nothing; the chainer may fall through to a plaintext file; keyrings.alt and
# other plugins (plaintext or terminal-prompted files) are used only when chosen explicitly.
_SYSTEM_PREFIX = "keyring.backends."
_NOT_SYSTEM = ("keyring.backends.fail", "keyring.backends.null", "keyring.backends.chainer")

log = logging.getLogger(__name__)

Secrets = dict[str, str]  # field name (FIELDS) -> value; empty values are left out


def url_key(url: str) -> str | None:
    """The name a server's secrets are kept under: its normalized URL, or None if invalid.

    Normalized so that ``https://host/`` and ``wss://host`` share one entry, and without a
    query string (a token can hide there).
    """
    from console.session.join import JoinError, normalize_url

    if not url.strip():
        return None
    try:
        return normalize_url(url)
    except JoinError:
        return None


def _is_system(module: str) -> bool:
    return module.startswith(_SYSTEM_PREFIX) and not module.startswith(_NOT_SYSTEM)


def find_keyring() -> tuple[KeyringBackend | None, str]:
    """The keyring to keep secrets in, or None and why there is none usable.

    "Usable" means a safe place: the OS's own secret store (Secret Service such as GNOME
    Keyring or KWallet, macOS Keychain, Windows Credential Locker). keyring's fail and null
    backends keep nothing, and plaintext or other file backends (keyrings.alt) are not
    safe by default: they are used only when chosen explicitly, in the
    ``PYTHON_KEYRING_BACKEND`` environment variable or keyring's ``keyringrc.cfg``
    (fail/null stay unusable even then). keyring's own automatic choice is not used: with
    keyrings.alt installed it may pick a plaintext file on a headless machine.
    """
    try:
        from keyring import backend as backends
        from keyring import core
    except ImportError:
        return None, "the Python package keyring is not installed"
    try:
        chosen = core.load_env() or core.load_config()
    except Exception as exc:
        return None, f"the keyring backend chosen in {ENV_BACKEND} or keyringrc.cfg " \
                     f"cannot be used ({_describe(exc)})"
    if chosen is not None:
        if type(chosen).__module__.startswith(_NOT_SYSTEM[:2]):
            return None, f"keyring is switched off ({type(chosen).__name__} backend chosen)"
        return chosen, ""
    try:
        backends.get_all_keyring()  # loads the backend plugins (once per process)
        best: type[KeyringBackend] | None = None
        # evaluated afresh: a Secret Service may have started since the last look
        for cls in backends.KeyringBackend.get_viable_backends():
            if (_is_system(cls.__module__) and cls.priority > 0
                    and (best is None or cls.priority > best.priority)):
                best = cls
        if best is not None:
            return best(), ""
    except Exception as exc:
        return None, f"the system keyring failed ({_describe(exc)})"
    return None, "no system keyring (Secret Service, KWallet) is running"


def _describe(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


class SecretStore:
    """Secrets per server URL: in the keyring when ``persistent``, else for this run only.

    Every method returns normally; a keyring failure leaves the value in memory and its
    description in :attr:`error` (the window shows it).
    """

    def __init__(self, ring: KeyringBackend | None, why_not: str = "") -> None:
        self._ring = ring
        self.why_not = "" if ring is not None else (why_not or "no keyring")
        self.error = ""
        self._cache: dict[str, Secrets] = {}  # read through, written through

    @classmethod
    def open(cls) -> SecretStore:
        """The store over the usable system keyring (see :func:`find_keyring`), if any."""
        ring, why_not = find_keyring()
        if ring is None:
            log.info("secrets will not be remembered: %s", why_not)
        return cls(ring, why_not)

    @property
    def persistent(self) -> bool:
        """True if secrets outlive this run (a usable keyring)."""
        return self._ring is not None

    @property
    def backend_name(self) -> str:
        return "" if self._ring is None else type(self._ring).__module__

    def recall(self, url: str) -> Secrets:
        """What is remembered for ``url`` (a key from :func:`url_key`); {} if nothing."""
        if url in self._cache:
            return dict(self._cache[url])
        found: Secrets = {}
        if self._ring is not None:
            try:
                raw = self._ring.get_password(SERVICE, url)
                self.error = ""
            except Exception as exc:
                self._fail("read from", url, exc)
                return {}
            found = _parse(raw)
        self._cache[url] = found
        return dict(found)

    def remember(self, url: str, secrets: Secrets) -> bool:
        """Keep exactly ``secrets`` (empty values dropped) for ``url``; False if only in memory.

        Nothing is written when the keyring already holds the same values.
        """
        wanted = {k: v for k, v in secrets.items() if k in FIELDS and v}
        if not wanted:
            return self.persistent
        if self.recall(url) == wanted and not self.error:
            return self.persistent
        self._cache[url] = wanted
        if self._ring is None:
            return False
        try:
            self._ring.set_password(SERVICE, url, json.dumps(wanted, sort_keys=True))
        except Exception as exc:
            self._fail("save to", url, exc, wanted.values())
            return False
        self.error = ""
        log.info("secrets for %s kept in the system keyring", url)
        return True

    def forget(self, url: str) -> bool:
        """Remove ``url``'s secrets from memory and the keyring; False if the keyring failed."""
        had = self._cache.pop(url, None)
        if self._ring is None:
            return True
        try:
            self._ring.delete_password(SERVICE, url)
        except Exception as exc:
            from keyring.errors import PasswordDeleteError

            if isinstance(exc, PasswordDeleteError):  # there was nothing to delete
                self.error = ""
                return True
            if had is not None:
                self._cache[url] = had
            self._fail("delete from", url, exc)
            return False
        self.error = ""
        log.info("secrets for %s removed from the system keyring", url)
        return True

    def _fail(self, what: str, url: str, exc: BaseException,
              secrets: Any = ()) -> None:
        text = _describe(exc)
        for value in secrets:  # never echo a secret, whatever the backend says
            text = text.replace(value, "…")
        self.error = f"could not {what} the system keyring: {text}"
        log.warning("secrets for %s: %s", url, self.error)


def _parse(raw: str | None) -> Secrets:
    """An entry's JSON; anything else (absent, garbage, another format) reads as nothing."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k in FIELDS and isinstance(v, str) and v}


def from_environment(name: str) -> str:
    """The environment's value for a field (LIVEKIT_API_KEY / _SECRET): not ours to keep."""
    from console.session.join import ENV_KEY, ENV_SECRET

    env = {"api_key": ENV_KEY, "api_secret": ENV_SECRET}.get(name)
    return os.environ.get(env, "") if env else ""
