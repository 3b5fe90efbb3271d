"""What the window shows about the connection, as one immutable value built in one place.

The line beside Join, the error line and the round-trip time used to be put together from
different sources at different moments, so they could disagree (an old failure beside a new
one; the last RTT of a room already gone). Here one function derives all of them from one
session snapshot and the controller's state: one phase, one line, at most one error (the
newest), the rejoin countdown, and an RTT only while in a room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from console.session.explain import Explanation
from console.session.model import ConnState, SessionSnapshot
from console.session.rejoin import Countdown


class Phase(StrEnum):
    IDLE = "idle"                  # not in a room, nothing wrong (never joined, or left)
    JOINING = "joining"            # the user's join is under way
    IN_ROOM = "in room"
    RECONNECTING = "reconnecting"  # the SDK restores the connection by itself
    WAITING = "waiting"            # the room was lost: the next rejoin is counted down
    REJOINING = "rejoining"        # a rejoin attempt is under way
    FAILED = "failed"              # not in a room, and ``error`` says why


# Phases in which Leave applies (it also stops a countdown or an attempt under way).
ACTIVE = frozenset({Phase.JOINING, Phase.IN_ROOM, Phase.RECONNECTING, Phase.WAITING,
                    Phase.REJOINING})


@dataclass(frozen=True)
class ConnectionView:
    """Everything the room's state line, error line and status bar show, consistent."""

    phase: Phase = Phase.IDLE
    line: str = "not in a room"          # the state line beside Join
    error: Explanation | None = None     # the one error shown (the newest), or none
    countdown: Countdown | None = None   # while WAITING
    attempt: int = 0                     # the rejoin attempt under way or counted down
    rtt_ms: float = math.nan             # only while in a room
    room: str = ""
    identity: str = ""

    @property
    def in_room(self) -> bool:
        return self.phase in (Phase.IN_ROOM, Phase.RECONNECTING)

    @property
    def reconnecting(self) -> bool:
        """The room is being restored (by the SDK, or by our rejoin): nothing is sent."""
        return self.phase in (Phase.RECONNECTING, Phase.WAITING, Phase.REJOINING)

    @property
    def can_join(self) -> bool:
        return self.phase not in ACTIVE

    @property
    def can_leave(self) -> bool:
        return self.phase in ACTIVE

    @property
    def error_short(self) -> str:
        return self.error.short if self.error is not None else ""

    @property
    def error_full(self) -> str:
        return self.error.full if self.error is not None else ""


def connection_view(snap: SessionSnapshot, *, joining: bool = False, rejoining: int = 0,
                    countdown: Countdown | None = None,
                    error: Explanation | None = None) -> ConnectionView:
    """The view for ``snap`` while the user's join is under way (``joining``), rejoin
    attempt ``rejoining`` runs, or ``countdown`` waits; ``error`` is the newest problem."""
    room = snap.room
    in_room = snap.state.in_room
    if countdown is not None:
        phase, attempt, error = Phase.WAITING, countdown.attempt, countdown.cause
        seconds = max(1, math.ceil(countdown.seconds_left))
        line = f"connection lost: rejoining{_in(room)} in {seconds} s (attempt {attempt})"
    elif rejoining:
        phase, attempt = Phase.REJOINING, rejoining
        line = f"rejoining{_in(room)}… (attempt {attempt})"
    elif joining and not in_room:
        phase, attempt = Phase.JOINING, 0
        line = f"joining{_in(room) if snap.state is ConnState.CONNECTING else ''}…"
    elif snap.state is ConnState.RECONNECTING:
        phase, attempt, error = Phase.RECONNECTING, 0, None
        line = f"reconnecting{_in(room)}…"
    elif in_room:
        phase, attempt, error = Phase.IN_ROOM, 0, None
        line = f"in {room} as {snap.identity}" if room else "in the room"
        if snap.agent_dispatch:
            line += f"; {snap.agent_dispatch}"
    elif error is not None:
        phase, attempt = Phase.FAILED, 0
        line = "not in a room"  # the error line says why; this line never repeats it
    else:
        phase, attempt = Phase.IDLE, 0
        line = "not in a room"
    live = phase is Phase.IN_ROOM and snap.state in (ConnState.CONNECTED,
                                                     ConnState.RECONNECTED)
    return ConnectionView(phase=phase, line=line, error=error, countdown=countdown,
                          attempt=attempt, rtt_ms=snap.rtt_ms if live else math.nan,
                          room=room, identity=snap.identity)


def _in(room: str) -> str:
    return f" {room}" if room else ""


def link_text(view: ConnectionView, snap: SessionSnapshot) -> str:
    """While in the room, the round-trip time and the worst packet loss; "" otherwise (never
    the figures of a room already left)."""
    if not view.in_room:
        return ""
    parts = []
    if not math.isnan(view.rtt_ms):
        parts.append(f"RTT {view.rtt_ms:.0f} ms" if view.rtt_ms >= 0.5 else "RTT <1 ms")
    losses = [t.stats.loss_percent for p in snap.participants for t in p.tracks]
    if losses:
        parts.append(f"loss {max(losses):.1f} %")
    return "  |  ".join(parts)


def status_text(view: ConnectionView, snap: SessionSnapshot) -> str:
    """The view's line, then the link's figures while in the room (:func:`link_text`)."""
    link = link_text(view, snap)
    return f"{view.line}  |  {link}" if link else view.line
