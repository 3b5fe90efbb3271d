"""What the window and the monitor show about a room: immutable views, replaced on change.

The session builds new objects on the room loop and swaps them in whole, so another thread
can read a snapshot at any moment without a lock and never see half an update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from console.session.agents import AgentEvent
from console.session.explain import Explanation


class ConnState(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    RECONNECTED = "reconnected"
    DISCONNECTED = "disconnected"
    FAILED = "failed"

    @property
    def in_room(self) -> bool:
        return self in (ConnState.CONNECTED, ConnState.RECONNECTING, ConnState.RECONNECTED)


@dataclass(frozen=True)
class TrackStats:
    """From the track's WebRTC stats (``get_stats()``), refreshed every ~2 s."""

    bitrate_kbps: float = math.nan
    packets_received: int = 0
    packets_lost: int = 0
    packets_per_s: float = math.nan       # since the last refresh: ~50 talking, a few with DTX
    fec_packets_received: int = 0         # as WebRTC counts them (0 where it does not)
    jitter_ms: float = math.nan
    concealed_percent: float = math.nan   # of samples played, since the last refresh
    jitter_buffer_ms: float = math.nan    # WebRTC's own jitter buffer (NetEq), recent mean
    rtt_ms: float = math.nan

    @property
    def loss_percent(self) -> float:
        total = self.packets_received + self.packets_lost
        return 100.0 * self.packets_lost / total if total else 0.0


@dataclass(frozen=True)
class TrackView:
    sid: str
    name: str
    muted: bool
    channel_key: str | None = None   # the engine channel playing it, once subscribed
    stats: TrackStats = field(default_factory=TrackStats)


@dataclass(frozen=True)
class ParticipantView:
    identity: str
    name: str
    sid: str
    is_agent: bool = False
    tracks: tuple[TrackView, ...] = ()
    speaking: bool = False  # heard above -50 dBFS RMS, held 0.4 s (RoomSession)
    quality: str = "unknown"
    metadata: str = ""
    joined_order: int = 0
    # A LiveKit agent's state (``lk.agent.state``: initializing, idle, listening, thinking,
    # speaking), None for anyone else or an agent that published none; since when
    # (time.monotonic(), as we saw it change).
    agent_state: str | None = None
    agent_state_since: float = math.nan
    # An avatar worker publishing this agent's voice (``lk.publish_on_behalf``): its audio
    # and its words count as that agent's.
    on_behalf_of: str | None = None

    @property
    def muted(self) -> bool:
        """Their own mute: every audio track they publish is muted (or they publish none)."""
        return all(t.muted for t in self.tracks) if self.tracks else True

    @property
    def channel_keys(self) -> tuple[str, ...]:
        return tuple(t.channel_key for t in self.tracks if t.channel_key is not None)


@dataclass(frozen=True)
class StateChange:
    at: float        # time.monotonic()
    state: ConnState
    detail: str = ""


@dataclass(frozen=True)
class SessionSnapshot:
    state: ConnState = ConnState.IDLE
    detail: str = ""                      # the reason of a failure or a disconnection
    problem: Explanation | None = None    # the same reason in full (short == detail)
    url: str = ""
    room: str = ""
    identity: str = ""
    participants: tuple[ParticipantView, ...] = ()
    published: bool = False
    self_muted: bool = False
    push_to_talk: bool = False
    talking: bool = True
    rtt_ms: float = math.nan
    history: tuple[StateChange, ...] = ()
    mic_track_sid: str = ""               # our published microphone's track sid
    # What became of the agent asked for at join ("agent 'x' dispatched", or why not).
    agent_dispatch: str = ""
    agent_dispatch_failed: bool = False
    # The agents' state changes, oldest first, the last 1000 (a "thinking" lasts ~300 ms:
    # a reader polling once a second needs them all); ``agents.events_after`` picks the new.
    agent_events: tuple[AgentEvent, ...] = ()

    def participant(self, identity: str) -> ParticipantView | None:
        for p in self.participants:
            if p.identity == identity:
                return p
        return None

    @property
    def agents(self) -> tuple[ParticipantView, ...]:
        return tuple(p for p in self.participants if p.is_agent)

    def voice_keys(self, agent: str) -> tuple[str, ...]:
        """The engine channels carrying ``agent``'s voice: its own tracks and those of
        avatar workers publishing on its behalf."""
        return tuple(key for p in self.participants
                     if p.identity == agent or p.on_behalf_of == agent
                     for key in p.channel_keys)
