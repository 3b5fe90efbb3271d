"""What this user set for each remote participant: a local volume and a local mute.

One owner for both: the session is given this object when it is built and applies a
participant's preferences the moment their audio opens; the window's strips read it to
show them and write to it when the user moves a control, and ``on_change`` saves it. A
volume of "off" is kept as off (``-inf``), not as a very low number, and a volume back at
0 dB or an unmute leaves nothing behind.
"""

from __future__ import annotations

import math
from collections.abc import Callable

OFF = -math.inf


class ParticipantPrefs:
    """Volumes (dB, ``-inf`` off) and local mutes, by participant identity. Any thread."""

    def __init__(self, volumes: dict[str, float] | None = None,
                 muted: tuple[str, ...] = ()) -> None:
        self._volumes = dict(volumes or {})
        self._muted = set(muted)
        self.on_change: Callable[[ParticipantPrefs], None] = lambda prefs: None
        self.listeners: list[Callable[[str], None]] = []  # told which identity changed

    def volume_db(self, identity: str) -> float:
        return self._volumes.get(identity, 0.0)

    def muted(self, identity: str) -> bool:
        return identity in self._muted

    def set_volume_db(self, identity: str, db: float) -> None:
        if db == self.volume_db(identity):
            return
        if db == 0.0:
            self._volumes.pop(identity, None)
        else:
            self._volumes[identity] = OFF if db == OFF else float(db)
        self._changed(identity)

    def set_muted(self, identity: str, muted: bool) -> None:
        if muted == self.muted(identity):
            return
        (self._muted.add if muted else self._muted.discard)(identity)
        self._changed(identity)

    def volumes(self) -> dict[str, float]:
        return dict(self._volumes)

    def muted_identities(self) -> tuple[str, ...]:
        return tuple(sorted(self._muted))

    def _changed(self, identity: str) -> None:
        for listener in list(self.listeners):
            listener(identity)
        self.on_change(self)
