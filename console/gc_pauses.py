"""Keeping Python's full garbage collections short while audio runs.

A full (generation 2) collection walks every tracked object with the GIL held. With the
window, pyqtgraph, livekit's protobuf modules and a big room it takes tens of milliseconds
(docs/BENCHMARKS.md): long enough for the output device's callback and livekit's frame delivery,
both Python and both waiting for the GIL, to miss their turn, so every channel ran dry at
once. What exists once the window is up, and a few seconds into a room, lives about as long
as the app: moving it out of the collector's reach (``gc.freeze``) leaves later full
collections only what is new. Leaving the room gives it all back to the collector once
(:func:`release`), so the cycles of a room that is gone are freed rather than kept.
"""

from __future__ import annotations

import gc

ROOM_SETTLE_S = 3.0  # after joining: the participants and their strips exist by then


def settle(*, collect: bool = True) -> None:
    """Freeze what is alive now; ``collect`` first (a pause: only while no room plays)."""
    if collect:
        gc.collect()
    gc.freeze()


def release() -> None:
    """After a room: collect what was frozen with it (a pause: no room plays now), then
    freeze what is left, the app's own long-lived objects."""
    gc.unfreeze()
    settle()
