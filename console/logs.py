"""The log a user can attach to a bug report, and what the terminal shows.

One rotated file under the XDG state directory gets everything at ``--log-level`` (the
livekit SDK's own lines included); stderr gets warnings, or the chosen level when one is
given. Every record is redacted (:mod:`console.redact`) when it is created, so whichever
handler prints it, a token or an API secret never reaches a file or the terminal; the
formatters redact again what only they add (tracebacks), and Python-level writes to
``sys.stderr`` (``print``, warnings, uncaught exceptions) are redacted too.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import platform
import sys
from pathlib import Path
from typing import Any, TextIO, cast

from console import __version__
from console.redact import redact

LEVELS = ("debug", "info", "warning")
DEFAULT_LEVEL = "info"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3  # console.log.1 .. .3: 8 MB at most
FILE_FORMAT = "%(asctime)s %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s"
STDERR_FORMAT = "%(levelname)s %(name)s: %(message)s"
SDK_LOGGER = "livekit"
LOG_FILE_ENV = "LKC_LOG_FILE"  # our child processes (the local sandbox) log to our file
CHATTY = ("aioice", "aiortc")  # the sandbox's WebRTC: a line per ICE check, debug only
FILE_ONLY = "console_file_only"  # extra={FILE_ONLY: True}: not for the terminal

log = logging.getLogger(__name__)


def default_path() -> Path:
    """``$XDG_STATE_HOME/livekit-console/console.log``, else under ``~/.local/state``.

    A parent console's file (``LKC_LOG_FILE``) wins, so its children log to the same file.
    """
    inherited = os.environ.get(LOG_FILE_ENV, "")
    if inherited:
        return Path(inherited)
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "livekit-console" / "console.log"


class RedactingFormatter(logging.Formatter):
    """Redacts the finished line: a traceback's exception text may carry a token."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# The SDK's warnings that say nothing to a user, kept for the file: its Python side drops
# the handle of each participant who leaves after its core already dropped it, one line a
# departure (livekit 1.2; the console works on unharmed).
SDK_NOISE = ("Attempted to drop unknown FFI handle",)
# Python warnings that say nothing to a user, kept for the file: PyJWT warns about the key's
# length on every token signed with livekit-server's 6-byte development secret (the
# sandbox's), which a production server refuses anyway.
WARNING_NOISE = ("InsecureKeyLengthWarning",)


class TerminalFilter(logging.Filter):
    """Drops file-only records, the SDK's and Python warnings' noise and, unless wanted,
    all the SDK's lines (said again in one line)."""

    def __init__(self, sdk: bool) -> None:
        super().__init__()
        self.sdk = sdk

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, FILE_ONLY, False):
            return False
        if record.name == "py.warnings":
            return not any(noise in record.getMessage() for noise in WARNING_NOISE)
        if not (record.name == SDK_LOGGER or record.name.startswith(SDK_LOGGER + ".")):
            return True
        return self.sdk and not any(noise in record.getMessage() for noise in SDK_NOISE)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        if sys.stderr is None:  # a windowed bundle may have no stderr at all
            return
        self.stream = sys.stderr
        super().emit(record)


class RedactingStream:
    """A text stream that redacts what is written, then passes it on."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(redact(text))
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_base_factory = logging.getLogRecordFactory()


def _redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record of every logger, redacted once at birth (and its args folded in)."""
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: let the handler report it as usual
        return record
    record.msg, record.args = redact(message), None
    return record


def install_redaction() -> None:
    """Redact all records and Python-level stderr writes from now on (idempotent)."""
    logging.setLogRecordFactory(_redacted_record)
    if not isinstance(sys.stderr, RedactingStream) and sys.stderr is not None:
        sys.stderr = cast(TextIO, RedactingStream(sys.stderr))


def _level(name: str | None, default: str) -> int:
    value = (name or default).lower()
    if value not in LEVELS:
        raise ValueError(f"unknown log level {name!r}; expected {', '.join(LEVELS)}")
    return int(getattr(logging, value.upper()))


def setup(level: str | None = None, *, log_file: Path | None = None,
          sdk_on_stderr: bool = True) -> Path | None:
    """Configure the root logger; returns the log file (None if it cannot be written).

    ``level`` (debug, info, warning; default info) is the file's level, and the terminal's
    when given; otherwise the terminal shows warnings and errors only.
    """
    install_redaction()
    file_level = _level(level, DEFAULT_LEVEL)
    stderr_level = file_level if level else logging.WARNING
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_console_log", False)]:
        root.removeHandler(old)
        old.close()
    terminal = _StderrHandler(sys.stderr)
    terminal.setLevel(stderr_level)
    terminal.setFormatter(RedactingFormatter(STDERR_FORMAT))
    terminal.addFilter(TerminalFilter(sdk_on_stderr))
    handlers: list[logging.Handler] = [terminal]
    path = log_file or default_path()
    file, failure = _file_handler(path)
    if file is not None:
        file.setLevel(file_level)
        file.setFormatter(RedactingFormatter(FILE_FORMAT))
        handlers.append(file)
        os.environ[LOG_FILE_ENV] = str(path)
    for handler in handlers:
        handler._console_log = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(min(file_level, stderr_level))
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if file_level <= logging.DEBUG
                                         else logging.WARNING)
    logging.captureWarnings(True)
    if file is None:
        log.warning("no log file: %s", failure)
        return None
    return path


def _file_handler(path: Path) -> tuple[logging.Handler | None, str]:
    """The rotated file, or None and why (a read-only home must not stop the app)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES,
                                                    backupCount=BACKUPS, encoding="utf-8"), ""
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"


_PACKAGES = (("livekit", "livekit.rtc", "livekit"), ("livekit-api", "livekit.api", "livekit-api"),
             ("PySide6", "PySide6", "PySide6-Essentials"))


def _versions(load: bool) -> str:
    """From the modules when the command loads them anyway (importlib.metadata costs
    40 ms), else from the installed metadata (livekit.rtc costs most of a second)."""
    import importlib.metadata

    found = []
    for label, module, dist in _PACKAGES:
        try:
            if load:
                version = str(getattr(importlib.import_module(module), "__version__", "?"))
            else:
                version = importlib.metadata.version(dist)
        except Exception as exc:  # a broken install is what the log is for
            version = f"not available ({exc})"
        found.append(f"{label} {version}")
    return ", ".join(found)


def portaudio_version() -> str:
    """PortAudio's version text; imports sounddevice (after any virtual card is set up)."""
    try:
        import sounddevice
    except OSError as exc:  # the wheel has no PortAudio on Linux
        return f"not found ({exc})"
    return str(sounddevice.get_portaudio_version()[1])


def log_startup(command: str, *, audio: bool, sdk: bool) -> None:
    """The versions a bug report needs, once at start; ``audio`` adds PortAudio's.

    ``sdk``: the command imports livekit and Qt anyway, so reading them costs nothing.
    """
    log.info("livekit-console %s (%s), pid %d", __version__, command, os.getpid())
    log.info("Python %s on %s", platform.python_version(), platform.platform())
    log.info("%s", _versions(sdk))
    if audio:
        log.info("PortAudio: %s", portaudio_version())
