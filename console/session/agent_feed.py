"""What ``monitor --json`` adds about agents on each line: what happened since the last one.

A "thinking" state lasts about 300 ms and a transcript segment is finalized once, so a
reader that looks once a second must be handed every event and every final segment that
came since it last looked, not the state of the moment. The feed remembers the last event
and final it wrote; times are on the line's clock (seconds since ``t0``).
"""

from __future__ import annotations

from typing import Any

from console.session.agents import events_after
from console.session.model import SessionSnapshot
from console.session.transcript import TranscriptSnapshot
from console.session.transcript_export import final_records


class AgentFeed:
    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self._event_seq = 0
        self._final_seq = 0

    def fields(self, snap: SessionSnapshot, transcript: TranscriptSnapshot) -> dict[str, Any]:
        """``agent_events`` and ``transcript`` since the previous call."""
        events = events_after(snap.agent_events, self._event_seq)
        if events:
            self._event_seq = events[-1].seq
        finals = transcript.finals_after(self._final_seq)
        if finals:
            self._final_seq = finals[-1].seq
        return {"agent_events": [e.record(self.t0) for e in events],
                "transcript": final_records(finals, self.t0)}
