"""What the main window needs from an audio engine (the real one is AudioEngine)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: importing the engine pulls in livekit
    from console.engine.apm import ProcessingConfig
    from console.engine.capture import CaptureStats, MicMeters
    from console.engine.channel import ChannelStats
    from console.engine.devices import AudioDevice
    from console.engine.echo_metrics import EchoStats
    from console.engine.mic_state import MicState
    from console.engine.mic_test import MicTestState
    from console.engine.output import OutputStats


class AudioEngineLike(Protocol):
    """The engine methods the window calls; all are safe to call from the GUI thread.

    The readings (``mic_meters``, ``mic_state``, ``capture_stats``, ``channel_stats``,
    ``echo_stats``, ``output_stats``) never raise: before the engine starts they return
    idle figures, so the window's display tick needs no guard. Commands (a device, the
    processing) may raise: ``DeviceError`` for a device that is missing or cannot be
    opened, whose message the window shows as it is. tests/fakes.py implements this
    protocol too, for fast tests of the window's logic.
    """

    def input_devices(self, refresh: bool = False) -> list[AudioDevice]: ...

    @property
    def input_device(self) -> AudioDevice | None: ...

    def set_input_device(self, spec: str | int | None) -> AudioDevice: ...

    @property
    def processing(self) -> ProcessingConfig: ...

    def set_processing(self, config: ProcessingConfig) -> None: ...

    def reset_mic_clip(self) -> None: ...

    def capture_stats(self, latency: bool = True) -> CaptureStats: ...

    def output_devices(self, refresh: bool = False) -> list[AudioDevice]: ...

    @property
    def output_device(self) -> AudioDevice | None: ...

    def start_output(self, spec: str | int | None = None,
                     channels: int | None = None) -> AudioDevice: ...

    def channel_stats(self) -> list[ChannelStats]: ...

    def echo_stats(self) -> EchoStats: ...

    def output_stats(self) -> OutputStats: ...

    @property
    def input_gain_db(self) -> float: ...

    def set_input_gain_db(self, db: float) -> None: ...

    def play_test_tone(self, hz: float = 440.0, dbfs: float = -18.0,
                       seconds: float = 1.0) -> None: ...

    @property
    def test_tone_playing(self) -> bool: ...

    def mic_meters(self) -> MicMeters: ...

    def mic_state(self) -> MicState: ...

    @property
    def device_lists_version(self) -> int: ...

    def start_mic_test(self, seconds: float = 5.0) -> None: ...

    def cancel_mic_test(self) -> None: ...

    def mic_test_state(self) -> MicTestState: ...

    def set_hear_myself(self, on: bool) -> None: ...

    @property
    def hearing_myself(self) -> bool: ...

    def hear_myself_latency_ms(self) -> float: ...

    def set_resting(self, wanted: bool) -> None: ...
