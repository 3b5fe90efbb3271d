"""The sound server's own devices: PulseAudio, or PipeWire's pulse server, via pulsectl.

People know their devices by the names the desktop's sound settings show ("USB Headset",
"Built-in Audio Analog Stereo"), not by PortAudio's ALSA names (``pulse``, ``hw:1,0``). Where
a PulseAudio-compatible server answers, its sinks and sources are the device lists: by
description, the server's default marked, monitor sources left out unless asked for. A
device is remembered by its sink or source name: stable across restarts, unlike its index
(renumbered) or its description (translated, renamed by the user).

This module only reads the server (one call per list, on the caller's thread);
:mod:`console.engine.pulse_watch` follows its events and :mod:`console.engine.pulse_route`
puts our streams on the chosen device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["input", "output"]
INVALID_INDEX = 0xFFFFFFFF   # PA_INVALID_INDEX: "no card", "not a monitor"
CLIENT_NAME = "livekit-console"


class PulseUnavailable(RuntimeError):
    """No PulseAudio-compatible server answers (or pulsectl / libpulse is missing)."""


@dataclass(frozen=True)
class ServerDevice:
    """One sink (output) or source (input) as the sound server describes it."""

    kind: Kind
    name: str            # the server's stable name (what settings remember)
    description: str     # what the desktop's sound settings show
    index: int           # the server's index now (renumbered when it returns)
    rate: int
    channels: int
    is_default: bool
    is_monitor: bool = False      # a source recording a sink (hidden unless asked for)
    bus: str = ""                 # "usb", "bluetooth", "pci" ... when the server says
    profile: str = ""             # the card's active profile, e.g. "a2dp-sink", "headset-head-unit"
    profile_description: str = ""


def connect(name: str = CLIENT_NAME) -> Any:
    """A pulsectl connection; PulseUnavailable when no server answers."""
    try:
        import pulsectl
    except (ImportError, OSError) as exc:  # no pulsectl, or no libpulse.so
        raise PulseUnavailable(f"no PulseAudio client library: {exc}") from exc
    try:
        pulse = pulsectl.Pulse(name, connect=False)
        # (with a timeout, pulsectl polls out the whole of it even once connected: a second
        # at every start; without, it returns as soon as the server answers or refuses)
        pulse.connect(autospawn=False, wait=False)
    except Exception as exc:  # pulsectl.PulseError and ctypes' errors alike
        raise PulseUnavailable(f"no PulseAudio-compatible sound server: {exc}") from exc
    return pulse


def list_devices(pulse: Any, *, monitors: bool = False) -> list[ServerDevice]:
    """Sinks, then sources, in the server's order (its default marked)."""
    info = pulse.server_info()
    cards = {card.index: card for card in pulse.card_list()}
    out: list[ServerDevice] = []
    for sink in pulse.sink_list():
        out.append(_device("output", sink, info.default_sink_name, cards))
    for source in pulse.source_list():
        dev = _device("input", source, info.default_source_name, cards)
        if monitors or not dev.is_monitor:
            out.append(dev)
    return out


def _device(kind: Kind, obj: Any, default_name: str, cards: dict[int, Any]) -> ServerDevice:
    props: dict[str, str] = getattr(obj, "proplist", {}) or {}
    card = cards.get(int(getattr(obj, "card", INVALID_INDEX)))
    profile = getattr(card, "profile_active", None) if card is not None else None
    monitor_of = int(getattr(obj, "monitor_of_sink", INVALID_INDEX))
    return ServerDevice(
        kind=kind, name=str(obj.name),
        description=str(obj.description or obj.name),
        index=int(obj.index),
        rate=int(obj.sample_spec.rate), channels=int(obj.channel_count),
        is_default=obj.name == default_name,
        is_monitor=kind == "input" and monitor_of != INVALID_INDEX,
        bus=props.get("device.bus", ""),
        profile=str(getattr(profile, "name", "") or ""),
        profile_description=str(getattr(profile, "description", "") or ""),
    )
