"""Which participants are LiveKit voice agents, what state each is in, and since when.

Agents of the LiveKit agents framework publish their state in the participant attribute
``lk.agent.state``; avatar workers publish an agent's voice as another participant that
carries ``lk.publish_on_behalf``. The tracker keeps each agent's state with the moment we saw
it change, and a bounded list of the changes: a "thinking" state often lasts ~300 ms, so a
reader polling once a second needs the changes, not only the current state.

Owned by the room loop; what readers get (``AgentEvent`` tuples) is immutable.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ATTR_AGENT_STATE = "lk.agent.state"
ATTR_AGENT_NAME = "lk.agent.name"
ATTR_PUBLISH_ON_BEHALF = "lk.publish_on_behalf"
AGENT_STATES = ("initializing", "idle", "listening", "thinking", "speaking")
LEFT = "left"   # not an agent state: the event that ends an agent's last one
KEEP_EVENTS = 1000


@dataclass(frozen=True)
class AgentEvent:
    """An agent entered ``state`` at ``t`` (time.monotonic()); ``seq`` grows by one per event,
    so a reader can ask for the events after the last one it saw."""

    seq: int
    identity: str
    state: str
    t: float

    def record(self, t0: float = 0.0) -> dict[str, Any]:
        """As ``monitor --json`` writes it, with ``t`` on the clock that starts at ``t0``."""
        return {"identity": self.identity, "state": self.state, "t": round(self.t - t0, 3)}


@dataclass(frozen=True)
class AgentState:
    state: str | None = None     # None: an agent that has not published a state (yet)
    since: float = math.nan      # time.monotonic() when we saw it enter that state


def state_of(attributes: Mapping[str, str]) -> str | None:
    """The published state, or None; values outside the five known ones are kept as sent
    (a newer framework may add one), only an empty value counts as none."""
    return attributes.get(ATTR_AGENT_STATE) or None


def publishes_for(attributes: Mapping[str, str]) -> str | None:
    """The agent whose voice this participant publishes (an avatar worker), if any."""
    return attributes.get(ATTR_PUBLISH_ON_BEHALF) or None


def is_agent(kind_is_agent: bool, attributes: Mapping[str, str]) -> bool:
    """Kind AGENT, or an ``lk.agent.state`` attribute (agents joined with another kind)."""
    return kind_is_agent or ATTR_AGENT_STATE in attributes


def events_after(events: tuple[AgentEvent, ...], seq: int) -> tuple[AgentEvent, ...]:
    """The events newer than ``seq`` (0: all that are kept)."""
    if not events or events[-1].seq <= seq:
        return ()
    first = events[0].seq
    return events[max(0, seq - first + 1):]


class AgentTracker:
    """Each agent's state and the history of changes; call from one thread (the room loop)."""

    def __init__(self, keep: int = KEEP_EVENTS) -> None:
        self._states: dict[str, AgentState] = {}
        self._events: deque[AgentEvent] = deque(maxlen=keep)
        self._published: tuple[AgentEvent, ...] = ()
        self._seq = 0

    @property
    def events(self) -> tuple[AgentEvent, ...]:
        """The kept changes, oldest first (a new tuple only when one was added)."""
        return self._published

    def observe(self, identity: str, attributes: Mapping[str, str], now: float) -> AgentState:
        """``identity``'s attributes as they are now: its state, with a new event on change.

        The first sight of an agent's state (on join, or an agent already in the room when
        we join) is an event too, dated when we saw it.
        """
        state = state_of(attributes)
        old = self._states.get(identity)
        if old is not None and old.state == state:
            return old
        new = AgentState(state, now) if state is not None else AgentState()
        self._states[identity] = new
        if state is not None:
            self._add(identity, state, now)
        return new

    def forget(self, identity: str, now: float) -> None:
        """``identity`` left: its last state ends here (a ``LEFT`` event), and a return
        is a new first sight. Its events are kept."""
        old = self._states.pop(identity, None)
        if old is not None and old.state is not None:
            self._add(identity, LEFT, now)

    def reset(self, now: float) -> None:
        """Out of the room: every agent's state ends here; the history stays readable."""
        for identity in list(self._states):
            self.forget(identity, now)

    def _add(self, identity: str, state: str, now: float) -> None:
        self._seq += 1
        self._events.append(AgentEvent(self._seq, identity, state, now))
        self._published = tuple(self._events)
