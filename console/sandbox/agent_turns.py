"""The sandbox agent's ground truth: what it heard and when it answered, turn by turn.

Times are ``time.monotonic()`` seconds in the sandbox's process (the same clock as every
thread of a test that runs the sandbox in-process); ``wall_offset`` turns any of them into
Unix time for a log or another process. Each is taken where the agent sees or does the
thing: a user's audio when its packet reaches the sandbox's forwarder (the moment a
subscriber's copy is sent on), its reply's packet when it is handed to the forwarder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ANSWERED = "answered"          # the reply played to its end
INTERRUPTED = "interrupted"    # the user spoke over the reply and it stopped
UNANSWERED = "unanswered"      # told not to answer this turn (AgentOptions.unanswered)
SUPERSEDED = "superseded"      # the user spoke again while it was thinking
ABANDONED = "abandoned"        # the user left while it was thinking


@dataclass(frozen=True)
class AgentTurn:
    """One user utterance the agent took as a turn, and what became of its reply."""

    agent: str                  # the agent's identity
    room: str
    user: str                   # whose speech it heard
    index: int                  # 1, 2, ... per agent
    user_start: float           # first voiced 10 ms of the utterance arrived
    user_end: float             # end of its last voiced 10 ms arrived
    endpoint: float             # the agent decided the user had finished (then: thinking)
    reply_start: float | None   # the reply's first packet handed on (None: no reply)
    reply_end: float | None     # its last packet handed on, or the interruption
    outcome: str                # ANSWERED, INTERRUPTED, UNANSWERED, SUPERSEDED, ABANDONED
    reply_text: str             # the whole reply it meant to say ("" if none)
    spoken_text: str            # the words it said before it stopped
    user_segment_id: str        # lk.segment_id of the user's transcript
    reply_segment_id: str       # lk.segment_id of the reply's transcript ("" if none)
    wall_offset: float          # add to any time above for Unix time

    @property
    def interrupted(self) -> bool:
        return self.outcome == INTERRUPTED

    @property
    def latency_s(self) -> float | None:
        """End of the user's speech to the reply's first packet, as the agent saw them."""
        return None if self.reply_start is None else self.reply_start - self.user_end

    def wall(self, t: float) -> float:
        return t + self.wall_offset

    def as_json(self) -> dict[str, Any]:
        """Every field, each time also as Unix time (``*_wall``), and the latency in ms."""
        out = asdict(self)
        for name in ("user_start", "user_end", "endpoint", "reply_start", "reply_end"):
            t = out[name]
            out[f"{name}_wall"] = None if t is None else self.wall(t)
        latency = self.latency_s
        out["latency_ms"] = None if latency is None else round(latency * 1000, 1)
        return out

    def describe(self) -> str:
        """One log line."""
        latency = self.latency_s
        said = f"reply at +{latency * 1000:.0f} ms" if latency is not None else "no reply"
        end = (f", {self.reply_end - self.reply_start:.2f} s of it"
               if self.reply_end is not None and self.reply_start is not None else "")
        return (f"agent {self.agent} turn {self.index} ({self.outcome}): {self.user} spoke "
                f"{self.user_end - self.user_start:.2f} s until {self.wall(self.user_end):.3f}; "
                f"endpoint +{(self.endpoint - self.user_end) * 1000:.0f} ms, {said}{end}")
