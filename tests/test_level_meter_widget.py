"""LevelMeterWidget: the dB mapping, and the painted bar following a real LevelMeter."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QImage, QPalette

from console.engine.meter import FLOOR_DB, LevelMeter, MeterSnapshot
from console.widgets.level_meter import (
    DB_MAX,
    DB_MIN,
    LevelMeterWidget,
    db_to_pos,
    tick_values,
)

SR = 48000
FRAME = 480
WIDTH = 420


def test_mapping_ends_and_clamps():
    assert db_to_pos(-60.0, 300) == 0.0
    assert db_to_pos(0.0, 300) == 300.0
    assert db_to_pos(-30.0, 300) == pytest.approx(150.0)
    assert db_to_pos(-20.0, 600) == pytest.approx(400.0)
    assert db_to_pos(FLOOR_DB, 300) == 0.0
    assert db_to_pos(+6.0, 300) == 300.0
    assert db_to_pos(math.nan, 300) == 0.0
    assert db_to_pos(-math.inf, 300) == 0.0


def test_ticks_every_6_db_evenly_spaced():
    ticks = tick_values()
    assert ticks[0] == DB_MIN == -60.0
    assert ticks[-1] == DB_MAX == 0.0
    assert len(ticks) == 11
    assert all(b - a == pytest.approx(6.0) for a, b in itertools.pairwise(ticks))
    positions = [db_to_pos(t, 500) for t in ticks]
    assert all(b - a == pytest.approx(50.0) for a, b in itertools.pairwise(positions))


def sine_frames(level_db: float, seconds: float, freq: float = 1000.0):
    """Float64 frames of a continuous sine whose crest (and AES17 RMS) is level_db dBFS."""
    n = round(seconds * SR)
    t = np.arange(n) / SR
    x = 10.0 ** (level_db / 20.0) * np.sin(2.0 * math.pi * freq * t + 0.3)
    return [x[i : i + FRAME] for i in range(0, n - FRAME + 1, FRAME)]


def silence(seconds: float):
    return [np.zeros(FRAME) for _ in range(round(seconds * SR) // FRAME)]


def feed(widget: LevelMeterWidget, meter: LevelMeter, frames) -> None:
    """Meter frames, pushing a snapshot to the widget every 3 frames (~30 Hz, like the window)."""
    for i, frame in enumerate(frames):
        meter.process(frame)
        if i % 3 == 2:
            widget.set_snapshot(meter.snapshot())
    widget.set_snapshot(meter.snapshot())


@pytest.fixture
def widget(qtbot):
    w = LevelMeterWidget()
    qtbot.addWidget(w)
    w.resize(WIDTH, w.sizeHint().height())
    w.show()
    qtbot.waitExposed(w)
    return w


def trough(w: LevelMeterWidget) -> int:
    return w.palette().color(QPalette.ColorRole.Base).rgb()


def bar_end(img: QImage, w: LevelMeterWidget) -> int:
    """First trough-coloured x on the bar's top row (the RMS bar and hold tick lie left of it)."""
    y = w.bar_rect.top() + 1
    bg = trough(w)
    for x in range(w.bar_rect.left(), w.bar_rect.right() + 1):
        if img.pixel(x, y) & 0xFFFFFF == bg & 0xFFFFFF:
            return x
    return w.bar_rect.right() + 1


def painted_xs(img: QImage, w: LevelMeterWidget) -> list[int]:
    y = w.bar_rect.top() + 1
    bg = trough(w) & 0xFFFFFF
    return [x for x in range(w.bar_rect.left(), w.bar_rect.right() + 1)
            if img.pixel(x, y) & 0xFFFFFF != bg]


def test_widget_follows_a_real_meter(widget):
    meter = LevelMeter(SR, FRAME)
    feed(widget, meter, sine_frames(-20.0, 0.5))
    assert widget.rms_db == pytest.approx(-20.0, abs=0.1)
    assert widget.peak_db == pytest.approx(-20.0, abs=0.1)
    assert widget.hold_db == pytest.approx(-20.0, abs=0.1)
    assert not widget.clipped

    img = widget.grab().toImage()
    target = widget.level_x(-20.0)
    assert target == widget.bar_rect.left() + round(widget.bar_rect.width() * 40 / 60)
    end = bar_end(img, widget)
    assert abs(end - target) <= 2, (end, target)
    # nothing painted beyond the -20 dB position (trough colour up to the bar's end)
    assert all(x <= target + 2 for x in painted_xs(img, widget))
    # the bar is drawn from the left edge, in the green zone colour there
    left = QColor(img.pixel(widget.bar_rect.left() + 2, widget.bar_rect.top() + 1))
    assert left.green() > 120 and left.red() < 100

    # Silence: peak and RMS fall at once / within the 300 ms window; the hold tick stays 1 s.
    feed(widget, meter, silence(0.5))
    assert widget.rms_db == FLOOR_DB
    assert widget.peak_db == FLOOR_DB
    assert widget.hold_db == pytest.approx(-20.0, abs=0.1)
    img = widget.grab().toImage()
    assert bar_end(img, widget) == widget.bar_rect.left()
    xs = painted_xs(img, widget)
    assert xs and all(target - 3 <= x <= target for x in xs), xs  # only the hold tick

    # After the hold time the hold tick falls too (20 dB in 1.7 s).
    feed(widget, meter, silence(2.0))
    assert -40.0 < widget.hold_db < -30.0
    img = widget.grab().toImage()
    xs = painted_xs(img, widget)
    assert xs and max(xs) < widget.level_x(-30.0)
    assert abs(max(xs) - (widget.level_x(widget.hold_db) - 1)) <= 1


class PaintCounter(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_repaints_only_when_something_visible_changes(widget, qtbot):
    counter = PaintCounter()
    widget.installEventFilter(counter)
    snap = MeterSnapshot(-20.0, -18.0, -24.0, False, 1)
    widget.set_snapshot(snap)
    qtbot.wait(50)
    before = counter.count
    for _ in range(5):
        widget.set_snapshot(snap)
        # a change far smaller than a pixel (60 dB over ~400 px) is not visible
        widget.set_snapshot(MeterSnapshot(-20.001, -18.001, -24.001, False, 2))
    qtbot.wait(50)
    assert counter.count == before
    widget.set_snapshot(MeterSnapshot(-10.0, -10.0, -12.0, False, 3))
    qtbot.waitUntil(lambda: counter.count > before, timeout=1000)


def is_red(img: QImage, w: LevelMeterWidget) -> bool:
    c = QColor(img.pixel(w.clip_rect.center()))
    return c.red() > 180 and c.green() < 100 and c.blue() < 100


def test_clip_indicator_latches_and_resets_on_click(widget, qtbot):
    meter = LevelMeter(SR, FRAME)
    assert not is_red(widget.grab().toImage(), widget)
    meter.process(np.ones(FRAME))  # full scale: the meter's clip latch
    widget.set_snapshot(meter.snapshot())
    assert widget.clipped
    assert is_red(widget.grab().toImage(), widget)
    # the widget latches on its own, even if the source forgets
    meter.reset_clip()
    feed(widget, meter, sine_frames(-20.0, 0.1))
    assert widget.clipped
    assert is_red(widget.grab().toImage(), widget)

    with qtbot.waitSignal(widget.clipResetRequested, timeout=1000):
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=widget.clip_rect.center())
    assert not widget.clipped
    assert not is_red(widget.grab().toImage(), widget)

    # a click on the bar is not a reset
    meter.process(np.ones(FRAME))
    widget.set_snapshot(meter.snapshot())
    with qtbot.assertNotEmitted(widget.clipResetRequested):
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=widget.bar_rect.center())
    assert widget.clipped


def test_clip_reset_by_keyboard_and_method(widget, qtbot):
    widget.set_snapshot(MeterSnapshot(0.0, 0.0, -3.0, True, 1))
    widget.setFocus()
    with qtbot.waitSignal(widget.clipResetRequested, timeout=1000):
        qtbot.keyClick(widget, Qt.Key.Key_Space)
    assert not widget.clipped
    widget.set_snapshot(MeterSnapshot(0.0, 0.0, -3.0, True, 2))
    with qtbot.waitSignal(widget.clipResetRequested, timeout=1000):
        widget.reset_clip()
    assert not widget.clipped


def test_size_hints_and_accessibility(widget):
    hint, minimum = widget.sizeHint(), widget.minimumSizeHint()
    assert minimum.width() <= hint.width()
    assert hint.height() == minimum.height() >= widget.bar_rect.height() + 8
    assert widget.accessibleName()
    assert "dBFS" in widget.accessibleDescription()
    widget.set_snapshot(MeterSnapshot(0.0, 0.0, -3.0, True, 1))
    assert "Clipped" in widget.accessibleDescription()
    assert widget.clip_rect.left() > widget.bar_rect.right()
    assert widget.clip_rect.right() < widget.width()
