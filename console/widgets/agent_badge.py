"""An agent's state on its strip: the state word in its colour, and how long it has held it.

What a voice-agent engineer watches most is what the agent is doing now (listening,
thinking, speaking) and for how long: a "thinking" that lasts two seconds is the slow
answer they are chasing. The word changes on every state change; the time is redrawn only
when its text changes (tenths below 10 s, whole seconds after), not on every display tick.
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import QLabel, QWidget

STATE_COLORS = {
    "initializing": "#6b6e72",
    "idle": "#6b6e72",
    "listening": "#1f5fbf",
    "thinking": "#8a5a00",
    "speaking": "#1e7b34",
}
AGENT_COLOR = "#5b4bb7"  # an agent that publishes no state
WIDEST = "initializing 59.9 s"


def held_text(seconds: float) -> str:
    """How long a state has been held, as short as it can be read."""
    if math.isnan(seconds) or seconds < 0:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def badge_text(state: str | None, held_s: float) -> str:
    if state is None:
        return "agent"
    held = held_text(held_s)
    return f"{state} {held}" if held else state


class AgentBadge(QLabel):
    """"agent", or the agent's state and the time in it, white on the state's colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("agent", parent)
        self.state: str | None = None
        self.setMaximumHeight(self.fontMetrics().height() + 2)
        self._paint(AGENT_COLOR)
        self._describe()

    def show_state(self, state: str | None, held_s: float) -> None:
        if state != self.state:
            self.state = state
            self._paint(STATE_COLORS.get(state or "", AGENT_COLOR))
            self._describe()
        text = badge_text(state, held_s)
        if text != self.text():
            self.setText(text)

    def _paint(self, color: str) -> None:
        self.setStyleSheet(f"QLabel {{ background: {color}; color: white; "
                           "border-radius: 3px; padding: 0 3px; }")

    def _describe(self) -> None:
        what = (f"A LiveKit agent, now {self.state} (lk.agent.state); the time is how long "
                "it has been in that state" if self.state else
                "A LiveKit agent (it publishes no state)")
        self.setToolTip(what)
        self.setAccessibleDescription(what)
