"""The status bar: the microphone path's condition, the room's link, this process's CPU.

The room part shows a round-trip time and a packet loss only while in a room: a window
that has left still showed the last RTT.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtWidgets import QLabel, QStatusBar

from console.session.connection_view import link_text
from console.widgets.engine_protocol import AudioEngineLike

if TYPE_CHECKING:
    from console.engine.capture import CaptureStats
    from console.session.connection_view import ConnectionView
    from console.session.model import SessionSnapshot


def status_text(stats: CaptureStats, label: str | None = None) -> str:
    """One line: the device's condition, frames dropped, AudioSource queue depth; the
    device by ``label`` (what the pickers show) when given."""
    if stats.device_error:
        state = stats.device_error
    elif stats.stalled:
        state = "the microphone delivers nothing"
    elif not stats.running:
        state = "audio engine not running"
    else:
        state = f"capturing from {label or stats.device}" if stats.device else "no microphone"
    dropped = sum(stats.frames_dropped.values())
    return f"{state}  |  dropped {dropped} frames  |  queue {stats.source_queue_ms:.0f} ms"


class StatusPanel:
    """Fills the window's status bar; owns no settings."""

    SETTINGS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, engine: AudioEngineLike, bar: QStatusBar) -> None:
        self._engine = engine
        self.bar = bar
        self.capture = QLabel(bar)
        self.capture.setAccessibleName("Capture status")
        bar.addWidget(self.capture, 1)
        self.room = QLabel("", bar)
        self.room.setAccessibleName("Room status")
        bar.addPermanentWidget(self.room)
        self.cpu = QLabel("", bar)
        self.cpu.setAccessibleName("CPU")
        bar.addPermanentWidget(self.cpu)
        self._cpu = (time.monotonic(), time.process_time())

    def poll(self) -> None:
        stats = self._engine.capture_stats(latency=False)
        device = self._engine.input_device
        label = (device.description or None) if device is not None \
            and device.name == stats.device else None  # the server's name for it
        _set_text(self.capture, status_text(stats, label))
        now, cpu = time.monotonic(), time.process_time()
        wall = now - self._cpu[0]
        if wall >= 1.0:
            _set_text(self.cpu, f"CPU {100.0 * (cpu - self._cpu[1]) / wall:.0f} %")
            self._cpu = (now, cpu)

    def show_room(self, view: ConnectionView, snap: SessionSnapshot) -> None:
        _set_text(self.room, link_text(view, snap))


def _set_text(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)
