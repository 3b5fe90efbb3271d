"""The Turns tab: the session's turn figures as a line and a bar per turn."""

from __future__ import annotations

import math

import pytest
from pytestqt.qtbot import QtBot

from console.session.turns import Turn, TurnsSnapshot
from console.widgets.turns_panel import TurnsPanel, summary_text
from tests.fakes import FakeController, FakeEngine
from tests.window_fixtures import MakeWindow

pytestmark = pytest.mark.usefixtures("no_environment_or_keyring")


def turns() -> TurnsSnapshot:
    made = (Turn(1, "agent-1", 10.0, agent_audio=10.9, to_ear_s=0.98),
            Turn(2, "agent-1", 20.0, agent_audio=21.6, to_ear_s=1.7, interrupted=True),
            Turn(3, "", 30.0),  # never answered
            Turn(4, "agent-1", 40.0, agent_audio=40.8, to_ear_s=0.88))
    return TurnsSnapshot(turns=made, n=3, p50_ms=900.0, p95_ms=1530.0, last_ms=800.0,
                         interruptions=1, unanswered=1)


def test_the_summary_says_last_p50_p95_and_what_went_wrong() -> None:
    assert summary_text(turns()) == ("last 800 ms · p50 900 ms · p95 1530 ms · 3 answered · "
                                     "1 interrupted · 1 unanswered")
    assert summary_text(TurnsSnapshot()).startswith("No turns yet")
    waiting = TurnsSnapshot(waiting=True)
    assert summary_text(waiting) == "0 answered · waiting for an answer…"


def test_the_chart_scales_to_the_slowest_turn_and_paints(qtbot: QtBot) -> None:
    panel = TurnsPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 200)
    panel.show()
    panel.show_snapshot(turns())
    assert len(panel.chart.turns) == 4
    assert panel.chart.scale_ms() == 2000.0  # 1.7 s at the ear, up to the 500 ms grid
    panel.chart.repaint()
    assert not math.isnan(panel.chart.turns[0].latency_s)


def test_the_turns_tab_shows_what_the_session_measured(make_window: MakeWindow) -> None:
    controller = FakeController()
    window = make_window(FakeEngine(), controller, show=True)
    controller.session.turns_snapshot = turns()
    window.poll()
    assert window.turns.summary.text().startswith("No turns yet")  # hidden: not redrawn
    window.actions_by_name["show_turns"].trigger()
    window.poll()
    assert window.bottom.currentWidget() is window.turns
    assert window.turns.summary.text().startswith("last 800 ms")
    assert len(window.turns.chart.turns) == 4
