"""Turn latency measured from audio: the end of the user's speech to the agent's answer.

Two edges, both from the engine's voice detectors (``console/engine/vad.py``): the end of
the user's last stretch of speech on the microphone as sent (stamped when the device
delivered it) and the first audible 10 ms of the agent's reply arriving at its channel
("at the wire"); "at the ear" adds how long that 10 ms waited in the channel and what the
output ring and the device hold. The tracker groups an agent's sound into replies (pauses
shorter than ``reply_gap_s`` belong to the same reply) and decides each one only once the
microphone's detector has settled past its onset, so a user whose speech ended a moment
before the reply started is never missed. A turn is complete when the reply's audio has
stopped and its final transcript arrived (or ``transcript_wait_s`` passed without one), so
a reader that stops after N turns never cuts off the Nth. The user speaking while the
agent speaks is an interruption; speech that ``timeout_s`` leaves unanswered is a turn
without a reply. Pure logic on timestamps, fed by the session on the room loop.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from console.engine.vad import VoiceSpan
from console.session.transcript import FinalSegment

TIMEOUT_S = 5.0          # no reply this long after the user stopped: unanswered
REPLY_GAP_S = 0.8        # an agent silent this long has finished its reply
SETTLE_S = 0.4           # the microphone's detector has decided what came before by then
TRANSCRIPT_WAIT_S = 3.0  # a reply whose final transcript never comes completes anyway
KEEP_TURNS = 1000


@dataclass(frozen=True)
class Turn:
    """One user turn and the agent's answer; times are ``time.monotonic()``."""

    seq: int
    agent: str                      # the agent's identity ("" if none answered)
    user_end: float                 # the end of the user's speech, on the microphone
    agent_audio: float = math.nan   # the reply's first audible 10 ms at our channel
    to_ear_s: float = math.nan      # from user_end until that 10 ms left our speaker
    interrupted: bool = False       # the user spoke while the agent spoke
    reply_end: float = math.nan     # its last audible 10 ms
    text: str = ""                  # the reply's final transcript ("" if none came)

    @property
    def answered(self) -> bool:
        return not math.isnan(self.agent_audio)

    @property
    def latency_s(self) -> float:
        return self.agent_audio - self.user_end

    def record(self, t0: float = 0.0) -> dict[str, Any]:
        """As ``monitor --json`` writes it (``t`` on the clock starting at ``t0``)."""
        return {"agent": self.agent, "user_end_t": round(self.user_end - t0, 3),
                "agent_audio_t": _r(self.agent_audio - t0, 3),
                "latency_ms": _r(self.latency_s * 1000.0, 1),
                "to_ear_ms": _r(self.to_ear_s * 1000.0, 1),
                "interrupted": self.interrupted}


def _r(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


@dataclass(frozen=True)
class TurnsSnapshot:
    """What a window or ``monitor`` shows: every turn kept, the figures over the session."""

    turns: tuple[Turn, ...] = ()    # oldest first (the last 1000)
    n: int = 0                      # answered turns so far (with a latency)
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    last_ms: float = math.nan       # the last answered turn's latency at the wire
    interruptions: int = 0          # replies the user spoke over
    unanswered: int = 0             # turns left without a reply for the timeout
    waiting: bool = False           # the user has spoken; no reply yet

    def after(self, seq: int) -> tuple[Turn, ...]:
        """Turns completed after ``seq`` (the last one a reader saw; 0: all kept)."""
        turns = self.turns
        if not turns or turns[-1].seq <= seq:
            return ()
        return turns[max(0, seq - turns[0].seq + 1):]

    @property
    def last_seq(self) -> int:
        return self.turns[-1].seq if self.turns else 0

    def latency_record(self) -> dict[str, Any]:
        """``turn_latency_ms`` of ``monitor --json``."""
        return {"n": self.n, "p50": _r(self.p50_ms, 1), "p95": _r(self.p95_ms, 1),
                "last": _r(self.last_ms, 1)}


@dataclass
class _Reply:
    agent: str
    source: str                     # the channel it came on
    start: float
    detail: float                   # how long its first 10 ms waited in the channel
    output_s: float                 # the output ring and device then
    last_seq: int                   # the agent's span that extends it last
    end: float = math.nan           # the end of its last closed span
    open: bool = True
    decided: bool = False           # matched (or not) to a user turn
    user_end: float = math.nan
    interrupted: bool = False
    counted: bool = False           # its interruption counted


@dataclass
class TurnTracker:
    """Turns from voice spans and final transcripts; one thread (the room loop)."""

    timeout_s: float = TIMEOUT_S
    reply_gap_s: float = REPLY_GAP_S
    transcript_wait_s: float = TRANSCRIPT_WAIT_S
    _user: dict[int, VoiceSpan] = field(default_factory=dict)
    _replies: list[_Reply] = field(default_factory=list)
    _done_seq: dict[str, int] = field(default_factory=dict)  # per channel: spans used up
    _consumed: float = -math.inf    # the last user end matched or given up on
    _turns: deque[Turn] = field(default_factory=lambda: deque(maxlen=KEEP_TURNS))
    _latencies: list[float] = field(default_factory=list)
    _seq: int = 0
    _interruptions: int = 0
    _unanswered: int = 0
    _snap: TurnsSnapshot = field(default_factory=TurnsSnapshot)

    def snapshot(self) -> TurnsSnapshot:
        return self._snap

    def update(self, now: float, user: tuple[VoiceSpan, ...],
               voices: list[tuple[str, str, tuple[VoiceSpan, ...]]],
               finals: tuple[FinalSegment, ...], output_s: float = math.nan) -> None:
        """Take in the spans as they are now and complete what can be completed.

        ``voices``: (agent identity, channel key, that channel's spans) for every channel
        carrying an agent's voice; ``finals``: the transcript's final segments;
        ``output_s``: what the output ring and device hold now (NaN: no output device,
        so no "ear").
        """
        for span in user:
            self._user[span.seq] = span
        for agent, key, spans in voices:
            self._take_agent(agent, key, spans, output_s)
        self._decide(now)
        self._complete(now, finals, agent=voices[0][0] if voices else None)
        self._forget_old()

    # -- replies ----------------------------------------------------------------------------
    def _take_agent(self, agent: str, key: str, spans: tuple[VoiceSpan, ...],
                    output_s: float) -> None:
        mine = [r for r in self._replies if r.source == key]
        reply = mine[-1] if mine else None
        done = self._done_seq.get(key, 0)
        for span in spans:
            if span.seq <= done or (reply is not None and span.seq < reply.last_seq):
                continue
            if reply is not None and (span.seq == reply.last_seq
                                      or span.start - reply.end < self.reply_gap_s):
                reply.last_seq = span.seq
                reply.open = span.open
                if not span.open:
                    reply.end = span.end
                continue
            if reply is not None and reply.open:
                continue  # a span older than the open one's start cannot be new
            reply = _Reply(agent, key, span.start, span.detail, output_s, span.seq,
                           end=span.end, open=span.open)
            self._replies.append(reply)

    def _decide(self, now: float) -> None:
        """Match each settled reply to the user speech that ended before it; note who
        spoke over it."""
        for reply in self._replies:
            if not reply.decided and now - reply.start >= SETTLE_S:
                reply.decided = True
                ends = [s.end for s in self._user.values()
                        if not s.open and self._consumed < s.end < reply.start]
                if ends:
                    reply.user_end = max(ends)
                    self._consumed = reply.user_end
            if not reply.interrupted:
                until = now if reply.open else reply.end
                for span in self._user.values():
                    if span.start <= until and (span.open or span.end >= reply.start) \
                            and span.start >= reply.start - 1e-9:
                        reply.interrupted = True
                        break
            if reply.interrupted and not reply.counted:
                reply.counted = True
                self._interruptions += 1
                self._publish()

    def _complete(self, now: float, finals: tuple[FinalSegment, ...], *,
                  agent: str | None) -> None:
        done = []
        for reply in self._replies:
            if not reply.decided or reply.open or now - reply.end < self.reply_gap_s:
                continue
            text = next((f.text for f in reversed(finals)
                         if f.speaker.identity == reply.agent and f.t >= reply.start - 0.5),
                        None)
            if text is None and now - reply.end < self.transcript_wait_s:
                continue
            done.append(reply)
            if not math.isnan(reply.user_end):
                to_ear = reply.start - reply.user_end + reply.detail + reply.output_s
                self._add(Turn(0, reply.agent, reply.user_end, reply.start, to_ear,
                               reply.interrupted, reply.end, text or ""))
        for reply in done:
            self._replies.remove(reply)
            self._done_seq[reply.source] = max(self._done_seq.get(reply.source, 0),
                                               reply.last_seq)
        if agent is not None:
            self._unanswered_turns(now, agent)

    def _unanswered_turns(self, now: float, agent: str) -> None:
        """The user's last speech, unanswered for the timeout, with nothing said since."""
        spans = sorted(self._user.values(), key=lambda s: s.seq)
        if not spans or spans[-1].open:
            return
        end = spans[-1].end
        if end <= self._consumed or now - end < self.timeout_s:
            return
        if any(r.start > end for r in self._replies):
            return
        self._consumed = end
        self._unanswered += 1
        self._add(Turn(0, agent, end))

    def _add(self, turn: Turn) -> None:
        self._seq += 1
        turn = Turn(self._seq, turn.agent, turn.user_end, turn.agent_audio, turn.to_ear_s,
                    turn.interrupted, turn.reply_end, turn.text)
        self._turns.append(turn)
        if turn.answered:
            self._latencies.append(turn.latency_s * 1000.0)
        self._publish()

    def _publish(self) -> None:
        lat = self._latencies
        p50, p95 = (np.percentile(lat, [50, 95]) if lat else (math.nan, math.nan))
        self._snap = TurnsSnapshot(
            turns=tuple(self._turns), n=len(lat), p50_ms=float(p50), p95_ms=float(p95),
            last_ms=lat[-1] if lat else math.nan, interruptions=self._interruptions,
            unanswered=self._unanswered, waiting=self._snap.waiting)

    def _forget_old(self) -> None:
        """Keep the user spans that can still matter (the last 64)."""
        if len(self._user) > 64:
            for seq in sorted(self._user)[:-64]:
                del self._user[seq]
        last = self._user[max(self._user)] if self._user else None
        waiting = last is not None and not last.open and last.end > self._consumed
        if waiting != self._snap.waiting:
            self._snap = replace(self._snap, waiting=waiting)


class TurnFeed:
    """``monitor --json``'s ``turns`` (completed since the previous line, on the line's
    clock: seconds since ``t0``) and ``turn_latency_ms`` (so far)."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self._seq = 0

    def fields(self, snap: TurnsSnapshot) -> dict[str, Any]:
        new = snap.after(self._seq)
        if new:
            self._seq = new[-1].seq
        return {"turns": [t.record(self.t0) for t in new],
                "turn_latency_ms": snap.latency_record()}
