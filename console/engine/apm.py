"""Live-switchable WebRTC audio processing (echo cancellation, noise suppression, AGC, HPF).

livekit's ``AudioProcessingModule`` is fixed at construction. :class:`SwitchableApm` builds
the new module beside the old one on the caller's thread and the media thread adopts it at
the next 10 ms frame boundary: no frame is lost, no device is reopened. The echo reference
(``process_reverse``) always goes to whichever module is active.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from livekit import rtc


@dataclass(frozen=True)
class ProcessingConfig:
    """Which processing stages run on the microphone."""

    echo_cancellation: bool = True
    noise_suppression: bool = True
    auto_gain_control: bool = True
    high_pass_filter: bool = True

    @property
    def any(self) -> bool:
        return (self.echo_cancellation or self.noise_suppression
                or self.auto_gain_control or self.high_pass_filter)

    def replace(self, **changes: bool) -> ProcessingConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def off(cls) -> ProcessingConfig:
        return cls(False, False, False, False)


@dataclass(frozen=True)
class _Stage:
    config: ProcessingConfig
    apm: rtc.AudioProcessingModule | None


def build_module(config: ProcessingConfig) -> rtc.AudioProcessingModule | None:
    """livekit's APM with ``config``'s stages; None when no stage is on."""
    if not config.any:
        return None
    return rtc.AudioProcessingModule(
        echo_cancellation=config.echo_cancellation,
        noise_suppression=config.noise_suppression,
        high_pass_filter=config.high_pass_filter,
        auto_gain_control=config.auto_gain_control,
    )


def _build(config: ProcessingConfig) -> _Stage:
    return _Stage(config, build_module(config))


class SwitchableApm:
    """The active APM, replaced at frame boundaries when the configuration changes.

    ``request`` may be called from any thread; ``process_capture`` and ``process_reverse``
    run on the media thread. The hand-over is one attribute assignment (no lock on the audio
    path): the media thread adopts the newest requested stage when it starts a frame.
    """

    def __init__(self, config: ProcessingConfig) -> None:
        self._build_lock = threading.Lock()
        self._requested = _build(config)
        self._active = self._requested
        self._delay_ms = 0
        self._applied_delay: int | None = None
        self.switches = 0

    @property
    def config(self) -> ProcessingConfig:
        """The most recently requested configuration."""
        return self._requested.config

    @property
    def active_config(self) -> ProcessingConfig:
        """The configuration processing frames now."""
        return self._active.config

    @property
    def cancelling_echo(self) -> bool:
        """Echo cancellation runs now or from the next frame on (requested)."""
        return self._active.config.echo_cancellation or self._requested.config.echo_cancellation

    def request(self, config: ProcessingConfig) -> None:
        """Build a module for ``config``; it takes over at the next frame boundary."""
        with self._build_lock:
            if config == self._requested.config:
                return
            self._requested = _build(config)

    def set_stream_delay_ms(self, delay_ms: int) -> None:
        """Echo path delay hint (render + capture latency), applied to the active module."""
        self._delay_ms = max(0, int(delay_ms))

    def _adopt(self) -> _Stage:
        stage = self._requested
        if stage is not self._active:
            self._active = stage
            self._applied_delay = None
            self.switches += 1
        return stage

    def process_capture(self, frame: rtc.AudioFrame) -> None:
        """Process one 10 ms microphone frame in place (media thread)."""
        stage = self._adopt()
        if stage.apm is None:
            return
        if stage.config.echo_cancellation and self._applied_delay != self._delay_ms:
            stage.apm.set_stream_delay_ms(self._delay_ms)
            self._applied_delay = self._delay_ms
        stage.apm.process_stream(frame)

    def process_reverse(self, frame: rtc.AudioFrame) -> None:
        """Feed one 10 ms frame of what is played (the echo reference) to the active module."""
        stage = self._adopt()
        if stage.apm is not None and stage.config.echo_cancellation:
            stage.apm.process_reverse_stream(frame)
