"""``bench strips``: fifty participant strips kept live while the list scrolls.

A room of fifty participants is more than the local sandbox and a test machine can carry.
So this feeds the real participants panel what the session and the channels
would report for fifty people (speech-like levels, speaking dots, mutes, connection
quality), generated here; the panel itself, its layout and its painting (offscreen) are the
app's. On each 30 Hz display tick the list is updated, scrolled by a step (down to the end,
then back up) and its viewport painted at once, and that tick's cost is timed. A 10 ms timer
measures the UI loop's lag meanwhile, as in ``bench gui``.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from console.bench import emit, parse_count_and_seconds
from console.bench.capture import _pct

TICK_MS = 33
LAG_TICK_S = 0.010
SCROLL_STEP_PX = 24   # about a third of a strip per tick: a steady scroll
QUALITIES = ("excellent", "good", "good", "poor", "excellent")


def _feed(count: int, t: float) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """What the session (participants) and the engine (channel stats) would report."""
    from console.engine.channel import ChannelStats
    from console.engine.meter import FLOOR_DB, MeterSnapshot
    from console.session.model import ParticipantView, TrackView

    views = []
    channels: dict[str, ChannelStats] = {}
    for i in range(count):
        identity = f"guest-{i:02d}"
        # Each talks in bursts of its own rhythm; every seventh is silent, every ninth muted.
        envelope = 0.5 + 0.5 * math.sin(t * (1.3 + 0.17 * i) + i)
        silent = i % 7 == 3
        rms = FLOOR_DB if silent else -50.0 + 40.0 * envelope
        peak = FLOOR_DB if silent else min(0.0, rms + 9.0)
        muted = i % 9 == 4 and int(t / 3 + i) % 2 == 0
        key = f"{identity}/mic"
        views.append(ParticipantView(
            identity=identity, name=f"Guest {i}", sid=f"PA_{i}", is_agent=i % 10 == 0,
            tracks=(TrackView(sid=f"TR_{i}", name="mic", muted=muted, channel_key=key),),
            speaking=not silent and rms > -30.0,
            quality=QUALITIES[(i + int(t / 4)) % len(QUALITIES)], joined_order=i))
        channels[key] = ChannelStats(
            key=key, label=identity, muted=False, gain_db=0.0,
            meter=MeterSnapshot(peak, max(peak, -6.0 if i % 11 == 5 else peak), rms,
                                i % 13 == 6, int(t * 100)),
            stream_queue_ms=0.0, channel_queue_ms=30.0, frames_received=int(t * 100),
            underruns=0, frames_dropped=0, samples_dropped=0, samples_inserted=0,
            ended=False)
    return tuple(views), channels


def run(strips: int = 50, seconds: float = 10.0) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from console.widgets.participants import ParticipantsPanel

    app = QApplication.instance() or QApplication([])
    panel = ParticipantsPanel()
    panel.resize(800, 520)  # the panel's size in a 1240 x 780 window (not compact)
    panel.show()
    bar = panel.verticalScrollBar()
    start = time.monotonic()
    views, channels = _feed(strips, 0.0)
    panel.update_from(views, channels)
    app.processEvents()
    tick_ms: list[float] = []
    ticks: list[float] = []
    lags: list[float] = []
    state: dict[str, Any] = {"direction": 1, "expected": 0.0, "ends": 0, "top": 0}

    def tick() -> None:
        began = time.perf_counter()
        now = time.monotonic()
        views, channels = _feed(strips, now - start)
        panel.update_from(views, channels)
        value = bar.value() + state["direction"] * SCROLL_STEP_PX
        if value >= bar.maximum() or value <= bar.minimum():
            state["direction"] *= -1
            state["ends"] += 1
        bar.setValue(max(bar.minimum(), min(bar.maximum(), value)))
        panel.viewport().repaint()
        tick_ms.append((time.perf_counter() - began) * 1000.0)
        ticks.append(now)
        first = next((s for s in panel.strips.values() if not s.visibleRegion().isEmpty()),
                     None)
        if first is not None:
            state["top"] = max(state["top"], list(panel.strips).index(first.identity))

    def lag_tick() -> None:
        now = time.monotonic()
        if state["expected"]:
            lags.append(max(0.0, now - state["expected"]) * 1000.0)
        state["expected"] = now + LAG_TICK_S

    display = QTimer()
    display.setInterval(TICK_MS)
    display.timeout.connect(tick)
    lag = QTimer()
    lag.setInterval(int(LAG_TICK_S * 1000))
    lag.timeout.connect(lag_tick)
    cpu0, t0 = time.process_time(), time.monotonic()
    display.start()
    lag.start()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    try:
        app.exec()
    finally:
        display.stop()
        lag.stop()
    wall = time.monotonic() - t0
    cpu = 100.0 * (time.process_time() - cpu0) / wall
    frame_ms = np.diff(ticks) * 1000.0 if len(ticks) > 1 else np.array([])
    shown = len(panel.strips)
    first_rms = panel.strips[views[0].identity].meter.rms_db if shown else None
    panel.close()
    return {
        "benchmark": "strips",
        "strips": shown,
        "seconds": seconds,
        "note": ("the real participants panel, offscreen, fed generated session and channel "
                 "snapshots (no room here holds fifty people); each 30 Hz tick updates every "
                 "strip, scrolls a step and paints the viewport at once"),
        "scroll_ends_reached": state["ends"],
        "deepest_strip_scrolled_to": state["top"],
        "tick_ms_p50": _pct(tick_ms, 50),
        "tick_ms_p95": _pct(tick_ms, 95),
        "tick_ms_max": round(max(tick_ms), 2) if tick_ms else float("nan"),
        "display_fps": round(len(ticks) / wall, 1),
        "display_frame_ms_p95": _pct(frame_ms, 95),
        "ui_lag_ms_p99": _pct(lags, 99),
        "cpu_percent": round(cpu, 1),
        "first_strip_rms_db": round(first_rms, 1) if first_rms is not None else None,
        "goals": {
            "tick_p95_le_16_ms": _pct(tick_ms, 95) <= 16.0,
            "display_ge_30_fps": len(ticks) / wall >= 29.5,
        },
    }


def main(argv: list[str] | None = None) -> int:
    count, seconds, as_json = parse_count_and_seconds("strips", "strips", 50, 10.0, argv)
    return emit(run(count, seconds), as_json)
