"""The agent badge's words: short times a person reads at a glance."""

from __future__ import annotations

import math

import pytest

from console.widgets.agent_badge import badge_text, held_text


@pytest.mark.parametrize(("seconds", "text"), [
    (0.04, "0.0 s"), (1.26, "1.3 s"), (9.94, "9.9 s"), (12.4, "12 s"), (59.4, "59 s"),
    (61.0, "1 min 01 s"), (3725.0, "62 min 05 s"), (math.nan, ""), (-1.0, ""),
])
def test_the_time_in_a_state_is_short(seconds: float, text: str) -> None:
    assert held_text(seconds) == text


def test_an_agent_without_a_state_is_just_an_agent() -> None:
    assert badge_text(None, 3.0) == "agent"
    assert badge_text("listening", math.nan) == "listening"
    assert badge_text("thinking", 0.31) == "thinking 0.3 s"
