"""Remembered user preferences, declared once and stored with QSettings.

Only harmless preferences live here: the devices' names, the input gain, the processing
toggles, the window's geometry, splitters and theme, the join mode, server URL, API key
(it names a key; only the secret signs), identity and recent rooms, and the volume and
local mute per participant identity. Secrets (API secrets, access tokens) are NEVER
stored here: they go to the system keyring when there is one (``console.secrets``), else
nowhere.

:func:`load` never fails: a missing, unreadable or garbage value reads as its default.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from console.engine.input_gain import MAX_DB as GAIN_MAX_DB
from console.engine.input_gain import MIN_DB as GAIN_MIN_DB

ORGANIZATION = "LiveKit Console"
APPLICATION = "livekit-console"
VERSION = 1  # bump (and migrate in load()) when a key changes meaning
_VERSION_KEY = "settings_version"
MAX_RECENT_ROOMS = 8
VOLUME_OFF = "off"  # a participant's volume at the slider's bottom: stored as a word
MODES = ("sandbox", "server")
THEMES = ("system", "light", "dark")


def _to_bool(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw != 0 if raw in (0, 1) else None
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
    return None


def _to_device(raw: Any) -> str | None:
    if isinstance(raw, str) and raw.strip() and len(raw) <= 512 and raw.isprintable():
        return raw.strip()
    return None


def _to_bytes(raw: Any) -> bytes | None:
    if isinstance(raw, QByteArray):
        return bytes(raw.data())
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    return None


def _to_size(raw: Any) -> str | None:
    """``"WxH"`` in pixels, each 100..20000."""
    if isinstance(raw, str):
        w, sep, h = raw.strip().partition("x")
        if sep and w.isdigit() and h.isdigit() and 100 <= int(w) <= 20000 \
                and 100 <= int(h) <= 20000:
            return f"{int(w)}x{int(h)}"
    return None


def _to_text(raw: Any) -> str | None:
    if isinstance(raw, str) and len(raw) <= 2048 and raw.isprintable():
        return raw.strip()
    return None


def _to_rooms(raw: Any) -> tuple[str, ...] | None:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v.strip())[:MAX_RECENT_ROOMS]
    return None


def _to_volumes(raw: Any) -> dict[str, float] | None:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    out: dict[str, float] = {}
    for key, db in value.items():
        if not isinstance(key, str):
            continue
        if db == VOLUME_OFF:
            out[key] = -math.inf
        elif isinstance(db, int | float) and -100 <= db <= 12:
            out[key] = -math.inf if db == -100 else float(db)  # -100: how "off" was stored
    return out


def _volumes_json(volumes: dict[str, float]) -> str:
    return json.dumps({k: VOLUME_OFF if v == -math.inf else v for k, v in volumes.items()})


def _to_choice(*choices: str) -> Callable[[Any], str | None]:
    def parse(raw: Any) -> str | None:
        return raw if isinstance(raw, str) and raw in choices else None
    return parse


def _to_names(raw: Any) -> tuple[str, ...] | None:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v.strip())
    return None


def _to_gain(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if GAIN_MIN_DB <= value <= GAIN_MAX_DB else None


def _option(key: str, default: Any, parse: Callable[[Any], Any]) -> Any:
    """A dataclass field carrying its QSettings key and parser."""
    return field(default=default, metadata={"key": key, "parse": parse})


BOTTOM_TABS = ("queues", "transcript", "turns")  # what the lower right of the window shows


@dataclass(frozen=True)
class Settings:
    """Every remembered option, with its key and default (the one place they are declared)."""

    input_device: str | None = _option("audio/input_device", None, _to_device)
    input_gain_db: float = _option("audio/input_gain_db", 0.0, _to_gain)
    echo_cancellation: bool = _option("processing/echo_cancellation", True, _to_bool)
    noise_suppression: bool = _option("processing/noise_suppression", True, _to_bool)
    auto_gain_control: bool = _option("processing/auto_gain_control", True, _to_bool)
    high_pass_filter: bool = _option("processing/high_pass_filter", True, _to_bool)
    window_geometry: bytes = _option("window/geometry", b"", _to_bytes)
    window_state: bytes = _option("window/state", b"", _to_bytes)
    # the window's own size, beside Qt's geometry: Qt scales a geometry saved on another
    # screen size (1008x624 saved at 1024x640 came back as 627x377 at 1600x1000)
    window_size: str = _option("window/size", "", _to_size)
    output_device: str | None = _option("audio/output_device", None, _to_device)
    input_label: str = _option("audio/input_label", "", _to_text)  # its description then
    server_url: str = _option("room/url", "", _to_text)
    identity: str = _option("room/identity", "", _to_text)
    agent_name: str = _option("room/agent", "", _to_text)  # the agent to dispatch, if any
    recent_rooms: tuple[str, ...] = _option("room/recent", (), _to_rooms)
    volumes: dict[str, float] = field(default_factory=dict,
                                      metadata={"key": "participants/volume_db",
                                                "parse": _to_volumes})
    muted_here: tuple[str, ...] = _option("participants/muted_here", (), _to_names)
    join_mode: str = _option("room/mode", "", _to_choice(*MODES))
    api_key: str = _option("room/api_key", "", _to_text)  # a key names; only its secret signs
    theme: str = _option("window/theme", "system", _to_choice(*THEMES))
    splitters: bytes = _option("window/splitters", b"", _to_bytes)
    bottom_tab: str = _option("window/bottom_tab", "queues", _to_choice(*BOTTOM_TABS))

    def processing(self) -> dict[str, bool]:
        """The four processing toggles, by ProcessingConfig field name."""
        return {name: bool(getattr(self, name)) for name in PROCESSING_OPTIONS}

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


PROCESSING_OPTIONS = (
    "echo_cancellation", "noise_suppression", "auto_gain_control", "high_pass_filter",
)


def open_store(path: str | Path | None = None) -> QSettings:
    """The user's settings store, or an INI file at ``path`` (tests, portable installs)."""
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope,
                     ORGANIZATION, APPLICATION)


def load(store: QSettings | None = None) -> Settings:
    """Read every option; anything missing or unparsable falls back to its default."""
    store = open_store() if store is None else store
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        try:
            raw = store.value(f.metadata["key"])
            parsed = None if raw is None else f.metadata["parse"](raw)
        except Exception:  # a corrupt store must not stop the app
            parsed = None
        if parsed is not None:
            values[f.name] = parsed
    return Settings(**values)


def save(settings: Settings, store: QSettings | None = None) -> None:
    """Write every option (a ``None`` device removes its key) and flush to disk."""
    store = open_store() if store is None else store
    store.setValue(_VERSION_KEY, VERSION)
    for f in dataclasses.fields(Settings):
        key = f.metadata["key"]
        value = getattr(settings, f.name)
        if value is None:
            store.remove(key)
        elif isinstance(value, bytes):
            store.setValue(key, QByteArray(value))
        elif isinstance(value, dict):
            store.setValue(key, _volumes_json(value))
        elif isinstance(value, tuple):
            store.setValue(key, json.dumps(list(value)))
        else:
            store.setValue(key, value)
    store.sync()
