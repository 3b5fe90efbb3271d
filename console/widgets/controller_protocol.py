"""What the main window needs from a room controller (the real one is RoomController).

Typing the window against these protocols, not the classes, keeps the window free of the
session's imports and lets a fake controller drive it in fast tests of its logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: the session modules load livekit
    from console.session.connection_view import ConnectionView
    from console.session.join import JoinSpec
    from console.session.model import SessionSnapshot
    from console.session.participant_prefs import ParticipantPrefs
    from console.session.transcript import TranscriptSnapshot
    from console.session.turns import TurnsSnapshot


class RoomSessionControls(Protocol):
    """The session calls the window makes; each returns at once (the work is queued)."""

    def set_self_muted(self, muted: bool) -> None: ...

    def set_push_to_talk(self, enabled: bool) -> None: ...

    def set_talking(self, talking: bool) -> None: ...

    def transcript(self) -> TranscriptSnapshot:
        """The room's transcript; the same object until it changes (any thread)."""
        ...

    def turns(self) -> TurnsSnapshot:
        """The agent turns measured so far and their figures (any thread)."""
        ...



class RoomControllerLike(Protocol):
    """Joins and leaves off the GUI thread; the window reads the outcome from :meth:`poll`."""

    @property
    def session(self) -> RoomSessionControls: ...

    @property
    def participant_prefs(self) -> ParticipantPrefs:
        """Local volume and mute per participant: the session applies them, the window
        shows and changes them."""
        ...

    @property
    def busy(self) -> bool:
        """A join is under way."""
        ...

    @property
    def error(self) -> str:
        """Why the last join failed ("" when it did not)."""
        ...

    def join(self, spec: JoinSpec) -> bool: ...

    def leave(self) -> object: ...

    def poll(self) -> SessionSnapshot: ...

    def view(self, snap: SessionSnapshot | None = None) -> ConnectionView:
        """The connection as the window shows it: one line, at most one error."""
        ...

    def close(self) -> None: ...
