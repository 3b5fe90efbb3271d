"""Audio device enumeration and selection over sounddevice (PortAudio).

``sounddevice`` is imported lazily: PortAudio reads the ALSA device list once, at import,
so the virtual sound card must be applied first (see :mod:`console.virtual_audio`).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any, Literal

Kind = Literal["input", "output"]

_lock = threading.Lock()


class DeviceError(RuntimeError):
    """An audio device could not be found, opened or kept running."""


class DeviceNotFoundError(DeviceError, ValueError):
    """No device matches what was asked for."""


@dataclass(frozen=True)
class AudioDevice:
    """One PortAudio device as the console shows it."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``lkc_mic_a (ALSA)``."""
        return f"{self.name} ({self.hostapi})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sd() -> ModuleType:
    """The sounddevice module, with a clear error when PortAudio is missing."""
    try:
        import sounddevice
    except OSError as exc:  # "PortAudio library not found"
        raise DeviceError(
            f"{exc}: install PortAudio (apt-get install libportaudio2)"
        ) from exc
    module: ModuleType = sounddevice
    return module


def refresh() -> None:
    """Re-initialise PortAudio so that its device list is read again."""
    mod = sd()
    with _lock:
        mod._terminate()
        mod._initialize()


def list_devices(refresh_first: bool = False) -> list[AudioDevice]:
    """All devices, in PortAudio order, with the real defaults marked."""
    if refresh_first:
        refresh()
    mod = sd()
    with _lock:
        raw = mod.query_devices()
        hostapis = mod.query_hostapis()
        default_in, default_out = _defaults(mod)
    out: list[AudioDevice] = []
    for index, dev in enumerate(raw):
        out.append(AudioDevice(
            index=index,
            name=str(dev["name"]),
            hostapi=str(hostapis[int(dev["hostapi"])]["name"]),
            max_input_channels=int(dev["max_input_channels"]),
            max_output_channels=int(dev["max_output_channels"]),
            default_samplerate=float(dev["default_samplerate"]),
            is_default_input=index == default_in,
            is_default_output=index == default_out,
        ))
    return out


def _defaults(mod: ModuleType) -> tuple[int, int]:
    """PortAudio's default input and output indexes (-1 when there is none)."""
    pair = mod.default.device
    di, do = (int(pair[0]), int(pair[1]))
    if di < 0 or do < 0:
        hostapi = mod.query_hostapis(0) if mod.query_hostapis() else None
        if hostapi is not None:
            di = di if di >= 0 else int(hostapi["default_input_device"])
            do = do if do >= 0 else int(hostapi["default_output_device"])
    return di, do


def input_devices(refresh_first: bool = False) -> list[AudioDevice]:
    return [d for d in list_devices(refresh_first) if d.is_input]


def output_devices(refresh_first: bool = False) -> list[AudioDevice]:
    return [d for d in list_devices(refresh_first) if d.is_output]


def find_device(spec: str | int | None, kind: Kind) -> AudioDevice:
    """Select a device by index, exact name, or unique case-insensitive substring.

    ``None`` (or ``"default"``) selects the default device of that kind.
    """
    devices = [d for d in list_devices() if (d.is_input if kind == "input" else d.is_output)]
    if not devices:
        raise DeviceNotFoundError(
            f"no {kind} devices at all: is a sound server running? "
            "(try --virtual-devices)"
        )
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec.strip())
    if spec is None or spec == "default":
        for d in devices:
            if d.is_default_input if kind == "input" else d.is_default_output:
                return d
        return devices[0]
    if isinstance(spec, int):
        for d in devices:
            if d.index == spec:
                return d
        raise DeviceNotFoundError(
            f"no {kind} device with index {spec}; {kind} devices: {_names(devices)}"
        )
    for d in devices:
        if d.name == spec:
            return d
    matches = [d for d in devices if spec.lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise DeviceNotFoundError(
            f"{kind} device name {spec!r} is ambiguous: {_names(matches)}"
        )
    raise DeviceNotFoundError(
        f"no {kind} device named {spec!r}; {kind} devices: {_names(devices)}"
    )


def _names(devices: list[AudioDevice]) -> str:
    return ", ".join(f"[{d.index}] {d.name}" for d in devices)
