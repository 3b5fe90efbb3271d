"""The queue-depth plot: what it records, its underrun marks, its window, its colours."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QPalette

from console.engine.channel import ChannelStats
from console.engine.meter import SILENT
from console.engine.output import OutputStats
from console.widgets.queues import (
    GAP_S,
    MAX_NAMED,
    OTHERS_KEY,
    OUTPUT_KEY,
    SAMPLE_S,
    WINDOW_S,
    QueuesPlot,
)


def channel(key: str, queue_ms: float, underruns: int) -> ChannelStats:
    return ChannelStats(key=key, label=key, muted=False, gain_db=0.0, meter=SILENT,
                        stream_queue_ms=10.0, channel_queue_ms=queue_ms - 10.0,
                        frames_received=100, underruns=underruns, frames_dropped=0,
                        samples_dropped=0, samples_inserted=0, ended=False)


def output(ring_ms: float, underruns: int = 0, device_ms: float = 0.0) -> OutputStats:
    return OutputStats(device="lkc_speaker_a", device_channels=2,
                       ring_ms=ring_ms, device_latency_ms=device_ms, underruns=underruns,
                       overruns=0, frames_played=100, frames_mixed=100, frames_limited=0,
                       samples_clipped=0, device_error=None)


def test_samples_marks_and_the_30_s_window(qtbot) -> None:
    plot = QueuesPlot()
    qtbot.addWidget(plot)
    labels = {"alice/TR_1": "alice"}
    t = 1000.0
    assert plot.add_sample([channel("alice/TR_1", 30.0, 0)], output(30.0), labels, now=t) \
        is False  # not shown: recorded, not drawn
    assert not plot.add_sample([channel("alice/TR_1", 99.0, 0)], output(1.0), labels,
                               now=t + SAMPLE_S / 2)  # too soon: ignored
    plot.add_sample([channel("alice/TR_1", 12.0, 2)], output(8.0, device_ms=20.0), labels,
                    now=t + 1)
    assert [d for _, d in plot.series["alice"]] == [30.0, 12.0]
    # The output's curve: what waits in its ring and in the device's buffer.
    assert [d for _, d in plot.series[OUTPUT_KEY]] == [30.0, 28.0]
    assert list(plot.underrun_marks) == [(t + 1, 12.0)]
    plot.add_sample([channel("alice/TR_1", 20.0, 2)], None, labels, now=t + WINDOW_S + 2)
    assert [d for _, d in plot.series["alice"]] == [20.0]  # older than 30 s: gone
    assert OUTPUT_KEY not in plot.series and not plot.underrun_marks


def test_the_plot_is_built_when_shown_and_follows_a_dark_palette(qtbot) -> None:
    plot = QueuesPlot()
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    t = 2000.0
    labels = {"bob/TR_2": "bob"}
    plot.add_sample([channel("bob/TR_2", 30.0, 0)], output(30.0), labels, now=t)
    assert plot.add_sample([channel("bob/TR_2", 31.0, 0)], output(29.0), labels, now=t + 1)
    curve = plot._curves[OUTPUT_KEY]
    assert list(curve.yData) == [30.0, 29.0]
    dark = QPalette(plot.palette())
    dark.setColor(QPalette.ColorRole.Window, QColor(30, 30, 30))
    dark.setColor(QPalette.ColorRole.WindowText, QColor(230, 230, 230))
    plot.setPalette(dark)
    assert curve.opts["pen"].color() == QColor(230, 230, 230)
    assert plot._plot.getAxis("left").textPen().color() == QColor(230, 230, 230)
    plot.add_sample([channel("bob/TR_2", 31.0, 0)], output(29.0), labels, now=t + 2)
    assert "#e6e6e6" in plot.legend.text() and "output" in plot.legend.text()
    # The legend is under the data, not over it (it covered the newest samples), and the
    # agents' lane between them, under the time axis (once the layout has placed them).
    def placed() -> bool:
        plot_bottom = plot._plot.geometry().bottom()
        lane = plot.lane.geometry()
        return 0 < plot_bottom < lane.top() and lane.bottom() < plot.legend.geometry().top()

    qtbot.waitUntil(placed, timeout=2000)



def test_a_big_room_keeps_eight_curves_and_draws_the_rest_as_one(qtbot) -> None:
    plot = QueuesPlot()
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    keys = [f"p{i:02d}/TR" for i in range(20)]
    labels = {k: k.split("/")[0] for k in keys}
    t = 3000.0
    plot.add_sample([channel(k, 30.0, 0) for k in keys], output(30.0), labels, now=t)
    # p15 runs dry once: it gets a curve of its own, ahead of the alphabet.
    plot.add_sample([channel(k, 31.0, 1 if k.startswith("p15") else 0) for k in keys],
                    output(29.0), labels, now=t + 1)
    named, others = plot.split_named()
    assert len(named) == MAX_NAMED and "p15" in named
    assert named == sorted(named) and named[:MAX_NAMED - 1] == [f"p{i:02d}" for i in range(7)]
    assert sorted(named + others) == sorted(labels.values())
    assert set(plot._curves) == {*named, OUTPUT_KEY, OTHERS_KEY}
    y = plot._curves[OTHERS_KEY].yData
    # Every other participant's two samples, each series ended by a gap.
    assert len(y) == 3 * len(others) and int(np.isnan(y).sum()) == len(others)
    # Back to a small room: the shared curve goes.
    few = keys[:3]
    plot.add_sample([channel(k, 30.0, 1 if k.startswith("p15") else 0) for k in few],
                    output(30.0), labels, now=t + WINDOW_S + 1.5)
    assert set(plot._curves) == {"p00", "p01", "p02", OUTPUT_KEY}


def test_a_stretch_with_no_samples_breaks_the_curves_instead_of_bridging_it(qtbot) -> None:
    """Seen by hand: minimised for 15 s, the plot drew a straight line across the time
    nothing was sampled. A gap of more than GAP_S is now a break (a NaN point) in every
    curve, drawn as one; it leaves the window with the samples around it."""
    plot = QueuesPlot()
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    labels = {"bob/TR_2": "bob"}
    t = 3000.0
    for i in range(4):
        plot.add_sample([channel("bob/TR_2", 30.0, 0)], output(20.0), labels, now=t + i)
    back = t + 3 + GAP_S + 10.0
    assert plot.add_sample([channel("bob/TR_2", 25.0, 0)], output(22.0), labels, now=back)
    depths = [d for _, d in plot.series["bob"]]
    assert depths[:4] == [30.0] * 4 and np.isnan(depths[4]) and depths[5] == 25.0
    assert np.isnan([d for _, d in plot.series[OUTPUT_KEY]]).sum() == 1
    x, y = plot._curves["bob"].getData()
    assert np.isnan(y).sum() == 1 and np.isfinite(x).all()
    for i in range(1, int(WINDOW_S) + 1):  # sampled every second: no new break
        plot.add_sample([channel("bob/TR_2", 26.0, 0)], output(21.0), labels, now=back + i)
    assert not np.isnan([d for _, d in plot.series["bob"]]).any()  # out of the window
    x, y = plot._curves["bob"].getData()
    assert np.isfinite(y).all()


def test_a_flat_plot_filling_its_window_is_not_redrawn_until_something_moves(qtbot) -> None:
    """Out of a room the only curve is the dozing output's 0 ms: redrawn twice a second it
    cost a fifth of the waiting window's CPU (``bench idle``), drawing the same picture."""
    plot = QueuesPlot()
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    t = 3000.0
    drawn: list[float] = []
    while t < 3000.0 + WINDOW_S + 3.0:
        if plot.add_sample([], output(0.0), {}, now=t):
            drawn.append(t)
        t += SAMPLE_S
    assert drawn and drawn[-1] >= 3000.0 + WINDOW_S  # drawn until the window filled
    assert not plot.add_sample([], output(0.0), {}, now=t + 1.0)  # then: nothing moves
    assert plot.add_sample([], output(12.0), {}, now=t + 2.0)  # a new depth: drawn
    assert list(plot._curves[OUTPUT_KEY].yData)[-1] == 12.0
    t += 2.0 + SAMPLE_S
    while t < 3000.0 + 3 * WINDOW_S:  # 12 ms leaves the window, then it is flat again
        plot.add_sample([], output(0.0), {}, now=t)
        t += SAMPLE_S
    assert not plot.add_sample([], output(0.0), {}, now=t + 1.0)
    assert plot.add_sample([], output(0.0, underruns=1), {}, now=t + 2.0)  # a mark: drawn
    dark = QPalette(plot.palette())
    dark.setColor(QPalette.ColorRole.WindowText, QColor(230, 230, 230))
    t += 2.0 + SAMPLE_S
    end = t + WINDOW_S + 1.0
    while t < end:  # the mark leaves the window: flat and still again
        plot.add_sample([], output(0.0, underruns=1), {}, now=t)
        t += SAMPLE_S
    assert not plot.underrun_marks
    assert not plot.add_sample([], output(0.0, underruns=1), {}, now=t + 1.0)
    plot.setPalette(dark)  # the legend's swatch follows: drawn once more
    assert plot.add_sample([], output(0.0, underruns=1), {}, now=t + 2.0)
    assert "#e6e6e6" in plot.legend.text()


def test_a_curve_not_sampled_for_a_while_breaks_instead_of_sloping_across(qtbot) -> None:
    """Seen by hand: the output dozed out of a room (no curve), and joining drew a slope
    from its last 0 ms to the room's 30 ms across the seconds nobody sampled it."""
    plot = QueuesPlot()
    qtbot.addWidget(plot)
    plot.show()
    qtbot.waitExposed(plot)
    t = 4000.0
    for _ in range(5):
        plot.add_sample([], output(0.0), {}, now=t)
        t += 1.25 * SAMPLE_S
    for _ in range(20):  # dozing: not sampled
        plot.add_sample([], None, {}, now=t)
        t += 1.25 * SAMPLE_S
    for _ in range(5):
        plot.add_sample([], output(30.0), {}, now=t)
        t += 1.25 * SAMPLE_S
    assert plot.add_sample([], output(30.0), {}, now=t + 1.0)
    depths = [d for _, d in plot.series[OUTPUT_KEY]]
    assert depths[:5] == [0.0] * 5 and np.isnan(depths[5]) and depths[6:] == [30.0] * 6
    drawn = np.asarray(plot._curves[OUTPUT_KEY].yData)
    assert np.isnan(drawn).sum() == 1  # the break reaches the curve
