"""``monitor --json``'s agent fields: every event and final segment once, on the line's clock."""

from __future__ import annotations

from console.session.agent_feed import AgentFeed
from console.session.agents import AgentEvent
from console.session.model import SessionSnapshot
from console.session.transcript import Speaker, Transcript


def test_each_event_and_final_segment_is_written_once_on_the_lines_clock() -> None:
    feed = AgentFeed(t0=100.0)
    model = Transcript()
    events = (AgentEvent(1, "agent-1", "listening", 100.5),
              AgentEvent(2, "agent-1", "thinking", 101.2))
    first = feed.fields(SessionSnapshot(agent_events=events), model.snapshot())
    assert first == {"agent_events": [{"identity": "agent-1", "state": "listening", "t": 0.5},
                                      {"identity": "agent-1", "state": "thinking", "t": 1.2}],
                     "transcript": []}
    token = model.open("SG_1", Speaker("me", local=True))
    model.write(token, "hello", 101.0)
    assert feed.fields(SessionSnapshot(agent_events=events), model.snapshot()) == {
        "agent_events": [], "transcript": []}  # interim words are not written
    model.close(token, final=True, now=101.5)
    events += (AgentEvent(3, "agent-1", "speaking", 101.5),)
    third = feed.fields(SessionSnapshot(agent_events=events), model.snapshot())
    assert third["agent_events"] == [{"identity": "agent-1", "state": "speaking", "t": 1.5}]
    assert third["transcript"] == [{"identity": "me", "text": "hello", "segment_id": "SG_1",
                                    "final": True, "t": 1.5}]
    assert feed.fields(SessionSnapshot(agent_events=events), model.snapshot()) == {
        "agent_events": [], "transcript": []}
