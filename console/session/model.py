"""What the window and the monitor show about a room: immutable views, replaced on change.

The session builds new objects on the media loop and swaps them in whole, so another thread
can read a snapshot at any moment without a lock and never see half an update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

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

    def participant(self, identity: str) -> ParticipantView | None:
        for p in self.participants:
            if p.identity == identity:
                return p
        return None
