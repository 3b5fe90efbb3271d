"""Audio device enumeration and selection: the sound server's list, or PortAudio's.

Two backends, one process-wide choice (:func:`use_backend`), as PortAudio itself is one:

* ``pulse``: where a PulseAudio-compatible server answers (PulseAudio, PipeWire's pulse
  server: nearly every Linux desktop), its sinks and sources by description, followed by
  its events (:mod:`console.engine.pulse_watch`). Our streams on them are libpulse's, on the
  chosen device by name (:mod:`console.engine.pulse_stream`), not PortAudio's.
* ``portaudio``: PortAudio's own list (macOS, Windows, plain ALSA), re-read when the ALSA
  cards change (:mod:`console.engine.device_watch`).

``sounddevice`` is imported lazily: PortAudio reads the ALSA device list once, at import,
so the virtual sound card must be applied first (see :mod:`console.virtual_audio`).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from console.engine.pulse_devices import ServerDevice
    from console.engine.pulse_watch import PulseWatch

Kind = Literal["input", "output"]
BACKENDS = ("auto", "pulse", "portaudio")
PULSE_HOSTAPI = "PulseAudio"
PULSE_ROUTE = "pulse"   # PortAudio's device for the server (its default sink and source)

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
    backend: str = "portaudio"   # "pulse": a server device, opened through ``index``
    description: str = ""        # as the desktop's sound settings name it (pulse)
    bus: str = ""                # "usb", "bluetooth" ... (pulse, where the server says)
    profile: str = ""            # the card's active profile (pulse), e.g. "a2dp-sink"

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0

    @property
    def label(self) -> str:
        """Human-readable name: the server's description (``USB Headset``), else
        PortAudio's name and host API (``hw:1,0 (ALSA)``)."""
        if self.backend == "pulse":
            return self.description or self.name
        return f"{self.name} ({self.hostapi})"

    @property
    def narrow_band(self) -> bool:
        """A Bluetooth headset in its hands-free profile (telephone-band audio)."""
        p = self.profile.lower()
        return self.bus == "bluetooth" and any(
            k in p for k in ("headset", "hfp", "hsp", "handsfree"))

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


class _Backend:
    """The process's choice of device list (see the module docstring)."""

    name = "portaudio"
    watch: PulseWatch | None = None


_backend = _Backend()


def use_backend(choice: str = "auto", *, monitors: bool = False) -> str:
    """Choose where device lists come from: ``pulse``, ``portaudio``, or ``auto`` (the
    sound server when one answers, else PortAudio); returns what is in use. ``pulse``
    with no server answering raises DeviceError. ``monitors``: list the server's monitor
    sources too."""
    if choice not in BACKENDS:
        raise DeviceError(f"unknown device backend {choice!r}: one of {', '.join(BACKENDS)}")
    if choice == "portaudio":
        _stop_watch()
        _backend.name = "portaudio"
        return _backend.name
    if (_backend.watch is None or not _backend.watch.connected
            or _backend.watch.monitors != monitors):
        from console.engine.pulse_watch import PulseWatch

        _stop_watch()
        watch = PulseWatch(monitors=monitors)
        if not watch.start():
            watch.stop()
            if choice == "pulse":
                raise DeviceError("no PulseAudio-compatible sound server answers: use "
                                  "--backend portaudio")
            _backend.name = "portaudio"
            return _backend.name
        _backend.watch = watch
    _backend.name = "pulse"
    return _backend.name


def _stop_watch() -> None:
    watch, _backend.watch = _backend.watch, None
    if watch is not None:
        watch.stop()


def backend() -> str:
    """``pulse`` or ``portaudio``: where the lists come from now."""
    return _backend.name


def pulse_watch() -> PulseWatch | None:
    """The server's device watch while the pulse backend is in use."""
    return _backend.watch if _backend.name == "pulse" else None


def _route_index() -> int | None:
    """PortAudio's index of its ``pulse`` device: a server device's ``index``, for code
    that opens PortAudio itself (the engine's own streams on it are libpulse's)."""
    mod = sd()
    with _lock:
        raw = mod.query_devices()
    for index, dev in enumerate(raw):
        if str(dev["name"]) == PULSE_ROUTE:
            return index
    return None


def _from_server(dev: ServerDevice, route: int) -> AudioDevice:
    return AudioDevice(
        index=route, name=dev.name, hostapi=PULSE_HOSTAPI,
        max_input_channels=dev.channels if dev.kind == "input" else 0,
        max_output_channels=dev.channels if dev.kind == "output" else 0,
        default_samplerate=float(dev.rate),
        is_default_input=dev.kind == "input" and dev.is_default,
        is_default_output=dev.kind == "output" and dev.is_default,
        backend="pulse", description=dev.description, bus=dev.bus, profile=dev.profile)


def refresh() -> None:
    """Re-initialise PortAudio so that its device list is read again."""
    mod = sd()
    with _lock:
        mod._terminate()
        mod._initialize()


def list_devices(refresh_first: bool = False) -> list[AudioDevice]:
    """All devices of the backend in use (outputs then inputs on the server; PortAudio's
    order otherwise), the defaults marked. ``refresh_first`` re-reads PortAudio's list
    (never needed for the server's, which follows its events)."""
    watch = pulse_watch()
    if watch is not None and watch.connected:
        route = _route_index()
        return [_from_server(d, -1 if route is None else route) for d in watch.devices]
    return portaudio_devices(refresh_first)


def portaudio_devices(refresh_first: bool = False) -> list[AudioDevice]:
    """PortAudio's devices, in its order, with the real defaults marked."""
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
    if spec is None or spec == "default" or (spec == PULSE_ROUTE
                                             and devices[0].backend == "pulse"):
        # (PortAudio's "pulse" device is the server's default: a setting from before the
        # server's own lists means that)
        for d in devices:
            if d.is_default_input if kind == "input" else d.is_default_output:
                return d
        return devices[0]
    if isinstance(spec, int):  # an index is PortAudio's, whatever the backend
        indexed = devices if devices[0].backend == "portaudio" else [
            d for d in portaudio_devices() if (d.is_input if kind == "input" else d.is_output)]
        for d in indexed:
            if d.index == spec:
                return d
        raise DeviceNotFoundError(
            f"no {kind} device with index {spec}; {kind} devices: {_names(indexed)}"
        )
    for d in devices:
        if d.name == spec:
            return d
    needle = spec.lower()
    matches = [d for d in devices
               if needle in d.name.lower() or needle in d.description.lower()]
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
    return ", ".join(f"{d.name} ({d.description})" if d.backend == "pulse"
                     else f"[{d.index}] {d.name}" for d in devices)
