"""Agents' states: the tracker on its own, then a real SDK participant playing an agent in
the sandbox, seen by a RoomSession on the real engine (states, their changes in order,
avatar workers' voices)."""

from __future__ import annotations

import math
import time

import pytest

from console.session.agents import (
    ATTR_AGENT_STATE,
    ATTR_PUBLISH_ON_BEHALF,
    LEFT,
    AgentTracker,
    events_after,
    is_agent,
)
from console.session.room_session import RoomSession
from tests.agent_helpers import AgentBot, join_session
from tests.audio_helpers import wait_until

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# -- the tracker ---------------------------------------------------------------------------
def test_the_tracker_records_each_change_once_with_its_time() -> None:
    tracker = AgentTracker()
    first = tracker.observe("agent", {ATTR_AGENT_STATE: "listening"}, now=10.0)
    assert (first.state, first.since) == ("listening", 10.0)
    assert tracker.observe("agent", {ATTR_AGENT_STATE: "listening", "x": "y"}, 11.0) is first
    tracker.observe("agent", {ATTR_AGENT_STATE: "thinking"}, now=12.0)
    tracker.observe("agent", {ATTR_AGENT_STATE: "speaking"}, now=12.3)
    assert [(e.seq, e.state, e.t) for e in tracker.events] == [
        (1, "listening", 10.0), (2, "thinking", 12.0), (3, "speaking", 12.3)]
    assert tracker.events[1].record(t0=2.0) == {"identity": "agent", "state": "thinking",
                                                "t": 10.0}
    assert [e.seq for e in events_after(tracker.events, 1)] == [2, 3]
    assert events_after(tracker.events, 3) == () and events_after((), 0) == ()


def test_no_state_is_none_and_a_return_is_seen_anew() -> None:
    tracker = AgentTracker()
    none = tracker.observe("bob", {}, now=1.0)
    assert none.state is None and math.isnan(none.since) and tracker.events == ()
    tracker.observe("agent", {ATTR_AGENT_STATE: "idle"}, now=1.0)
    tracker.forget("agent", now=3.0)
    again = tracker.observe("agent", {ATTR_AGENT_STATE: "idle"}, now=5.0)
    assert again.since == 5.0
    # Leaving ends the last state (the lane stops there; monitor says "left").
    assert [(e.state, e.t) for e in tracker.events] == [("idle", 1.0), (LEFT, 3.0),
                                                        ("idle", 5.0)]
    assert tracker.observe("agent", {ATTR_AGENT_STATE: ""}, now=6.0).state is None
    assert len(tracker.events) == 3  # the state going away is no state to record
    tracker.observe("bob", {ATTR_AGENT_STATE: "speaking"}, now=7.0)
    tracker.reset(now=8.0)   # out of the room: every agent with a state ends there
    assert [(e.identity, e.state) for e in tracker.events[-2:]] == [("bob", "speaking"),
                                                                    ("bob", LEFT)]


def test_the_history_is_bounded_and_its_seqs_stay_contiguous() -> None:
    tracker = AgentTracker(keep=10)
    for i in range(25):
        tracker.observe("agent", {ATTR_AGENT_STATE: ("thinking", "speaking")[i % 2]}, i)
    assert [e.seq for e in tracker.events] == list(range(16, 26))
    assert [e.seq for e in events_after(tracker.events, 3)] == list(range(16, 26))
    assert [e.seq for e in events_after(tracker.events, 23)] == [24, 25]


def test_an_agent_is_its_kind_or_its_state_attribute() -> None:
    assert is_agent(True, {}) and is_agent(False, {ATTR_AGENT_STATE: "idle"})
    assert not is_agent(False, {ATTR_PUBLISH_ON_BEHALF: "agent"})


# -- in a room -----------------------------------------------------------------------------
def test_an_agents_states_are_seen_in_order_with_their_times(sandbox, engine) -> None:
    agent = AgentBot(sandbox, "agent-AJ_1").start({ATTR_AGENT_STATE: "initializing",
                                                  "lk.agent.name": "helper"})
    person = AgentBot(sandbox, "bob", agent=False).start()
    session = RoomSession(engine, publish=False)
    try:
        joined = time.monotonic()
        join_session(sandbox, session)
        assert wait_until(lambda: session.snapshot().participant("bob") is not None, 3.0)
        view = session.snapshot().participant("agent-AJ_1")
        assert view is not None and view.is_agent
        assert view.agent_state == "initializing"      # from the attributes it had
        assert joined <= view.agent_state_since <= time.monotonic()
        bob = session.snapshot().participant("bob")
        assert bob is not None and not bob.is_agent and bob.agent_state is None
        assert math.isnan(bob.agent_state_since)

        seen_before = session.snapshot().agent_events[-1].seq
        sent_at = time.monotonic()
        # "thinking" lasts ~300 ms with a real agent: 150 ms here must not be lost.
        agent.set_states([("listening", 0.3), ("thinking", 0.15), ("speaking", 0.3),
                          ("listening", 0.0)])
        assert wait_until(lambda: len(events_after(session.snapshot().agent_events,
                                                   seen_before)) >= 4, 3.0)
        new = events_after(session.snapshot().agent_events, seen_before)
        assert [(e.identity, e.state) for e in new] == [
            ("agent-AJ_1", s) for s in ("listening", "thinking", "speaking", "listening")]
        times = [e.t for e in new]
        assert times == sorted(times) and times[0] >= sent_at
        # each held as long as the agent held it, within the relay's jitter
        assert times[2] - times[1] == pytest.approx(0.15, abs=0.12)
        assert times[3] - times[2] == pytest.approx(0.3, abs=0.12)
        view = session.snapshot().participant("agent-AJ_1")
        assert view is not None and view.agent_state == "listening"
        assert view.agent_state_since == times[3]
    finally:
        session.leave()
        agent.stop()
        person.stop()


def test_a_participant_with_a_state_attribute_is_an_agent_whatever_its_kind(
        sandbox, engine) -> None:
    session = RoomSession(engine, publish=False)
    bot = AgentBot(sandbox, "js-agent", agent=False).start()
    try:
        join_session(sandbox, session)
        assert wait_until(lambda: session.snapshot().participant("js-agent") is not None, 3.0)
        assert not session.snapshot().participant("js-agent").is_agent
        bot.set_attributes({ATTR_AGENT_STATE: "idle"})
        assert wait_until(lambda: session.snapshot().participant("js-agent").agent_state
                          == "idle", 2.0)
        assert session.snapshot().participant("js-agent").is_agent
        assert [p.identity for p in session.snapshot().agents] == ["js-agent"]
    finally:
        session.leave()
        bot.stop()


def test_an_avatar_workers_voice_counts_as_its_agents(sandbox, engine) -> None:
    agent = AgentBot(sandbox, "agent-AJ_2").start({ATTR_AGENT_STATE: "listening"})
    avatar = AgentBot(sandbox, "avatar-1", tone_hz=440.0).start(
        {ATTR_PUBLISH_ON_BEHALF: "agent-AJ_2"})
    session = RoomSession(engine, publish=False)
    try:
        join_session(sandbox, session)
        assert wait_until(lambda: (v := session.snapshot().participant("avatar-1")) is not None
                          and bool(v.channel_keys), 5.0)
        snap = session.snapshot()
        view = snap.participant("avatar-1")
        assert view is not None and view.on_behalf_of == "agent-AJ_2"
        assert view.agent_state is None  # the state is the agent's own
        assert snap.voice_keys("agent-AJ_2") == view.channel_keys
        assert snap.voice_keys("avatar-1") == view.channel_keys  # its own too, of course
        assert snap.participant("agent-AJ_2").on_behalf_of is None
        # the relation follows the attribute
        avatar.set_attributes({ATTR_PUBLISH_ON_BEHALF: ""})
        assert wait_until(lambda: session.snapshot().voice_keys("agent-AJ_2") == (), 2.0)
    finally:
        session.leave()
        avatar.stop()
        agent.stop()


def test_leaving_drops_the_states_and_keeps_the_history(sandbox, engine) -> None:
    agent = AgentBot(sandbox, "agent-AJ_3").start({ATTR_AGENT_STATE: "idle"})
    session = RoomSession(engine, publish=False)
    try:
        join_session(sandbox, session)
        assert wait_until(lambda: session.snapshot().participant("agent-AJ_3") is not None
                          and session.snapshot().participant("agent-AJ_3").agent_state
                          == "idle", 3.0)
        agent.stop()
        assert wait_until(lambda: session.snapshot().participant("agent-AJ_3") is None, 3.0)
        # Its state ends where it left (the lane stops there, monitor says so).
        assert [e.state for e in session.snapshot().agent_events] == ["idle", LEFT]
        agent = AgentBot(sandbox, "agent-AJ_3").start({ATTR_AGENT_STATE: "listening"})
        assert wait_until(lambda: [e.state for e in session.snapshot().agent_events]
                          == ["idle", LEFT, "listening"], 3.0)
        session.leave()
        assert session.snapshot().participants == ()
        # Leaving the room ends the states of the agents still there.
        assert [e.state for e in session.snapshot().agent_events] == ["idle", LEFT,
                                                                      "listening", LEFT]
    finally:
        session.leave()
        agent.stop()
