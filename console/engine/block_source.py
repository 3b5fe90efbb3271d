"""What a :class:`~console.engine.channel.Channel` reads: blocks of one participant's audio.

The channel never waits for audio: the mixer drains the source on its own tick, so a source
is a bounded queue that some other thread (livekit's FFI thread for a
:class:`~console.engine.track_tap.TrackTap`) fills. Tests feed channels through their own
small implementation of this protocol.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

Block = tuple[float, npt.NDArray[np.int16]]  # (arrival time, int16 mono samples)


class BlockSource(Protocol):
    """A bounded queue of int16 mono blocks at the engine's sample rate."""

    @property
    def frame_ms(self) -> int:
        """The length of one block in ms (the channel keeps one block of margin more)."""
        ...

    @property
    def ended(self) -> bool:
        """No more audio will come (the track ended or the source was closed)."""
        ...

    @property
    def queued(self) -> int:
        """Blocks waiting to be drained."""
        ...

    @property
    def dropped(self) -> int:
        """Blocks dropped because nobody drained them in time."""
        ...

    def drain(self) -> list[Block]:
        """Every block that arrived since the last call, oldest first."""
        ...

    def close(self) -> None:
        """Stop delivering and let go of what is held; idempotent."""
        ...
