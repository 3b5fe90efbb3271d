"""The agents' state lane under the queue plot: spans from the session's state events."""

from __future__ import annotations

import time

import pytest
from pytestqt.qtbot import QtBot

from console.session.agents import LEFT, AgentEvent
from console.widgets.agent_lane import state_spans
from console.widgets.queues import WINDOW_S, QueuesPlot
from tests.fakes import channel


def events(*items: tuple[str, str, float]) -> tuple[AgentEvent, ...]:
    return tuple(AgentEvent(i + 1, who, state, t) for i, (who, state, t) in enumerate(items))


def test_each_state_holds_until_the_agents_next_event_and_is_cut_to_the_window() -> None:
    log = events(("a", "listening", 50.0), ("a", "thinking", 95.0), ("b", "idle", 96.0),
                 ("a", "speaking", 95.3), ("a", "listening", 99.0))
    spans = state_spans(log, start=70.0, end=100.0)
    assert spans["a"] == [(70.0, 95.0, "listening"), (95.0, 95.3, "thinking"),
                          (95.3, 99.0, "speaking"), (99.0, 100.0, "listening")]
    assert spans["b"] == [(96.0, 100.0, "idle")]
    # Older than the window: only the state it still held shows.
    assert state_spans(events(("a", "idle", 1.0)), 70.0, 100.0) == {
        "a": [(70.0, 100.0, "idle")]}
    assert state_spans((), 70.0, 100.0) == {}
    # An agent that left has nothing after it (until it is seen again).
    assert state_spans(events(("a", "listening", 80.0), ("a", LEFT, 90.0),
                              ("a", "idle", 95.0)), 70.0, 100.0) == {
        "a": [(80.0, 90.0, "listening"), (95.0, 100.0, "idle")]}
    assert state_spans(events(("a", "listening", 10.0), ("a", LEFT, 20.0)), 70.0, 100.0) == {}


def test_the_lane_lines_up_with_the_plots_data_area(qtbot: QtBot) -> None:
    plot = QueuesPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 260)
    plot.show()
    qtbot.waitExposed(plot)
    now = time.monotonic()
    plot.agent_events = events(("agent-1", "listening", now - 40.0),
                               ("agent-1", "thinking", now - 3.0),
                               ("agent-1", "speaking", now - 2.7))
    assert plot.add_sample([channel("x")], None, {}, now=now)
    lane = plot.lane
    assert lane.isVisible() and [s for _, _, s in lane.spans["agent-1"]] == [
        "listening", "thinking", "speaking"]
    # The lane's x range is the plot's data area: -30 s at its left edge, 0 at its right.
    vb = plot._plot.getPlotItem().getViewBox()
    area = plot._plot.mapFromScene(vb.sceneBoundingRect()).boundingRect()
    assert (lane._x0, lane._x1) == (pytest.approx(area.left()), pytest.approx(area.right()))
    assert area.left() > 20  # past the y axis
    thinking = lane.spans["agent-1"][1]
    assert thinking[1] - thinking[0] == pytest.approx(0.3)
    assert lane.window_s == WINDOW_S
    lane.repaint()  # paints without error, on the plot's own palette
