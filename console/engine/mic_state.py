"""The microphone's state as a window shows it at a glance: one immutable value.

Which input is open and whether it delivers audio come from the stream at the moment of
reading; what the user chose, which of it is gone and what the engine did about it come
from the microphone keeper (``mic_keeper``). Self-mute and push-to-talk are the session's,
not a device's, and are not here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class MicStatus(enum.Enum):
    """What the open input does now."""

    OFF = "off"              # the engine is not running
    LIVE = "live"            # an input is open and delivering audio
    STALLED = "stalled"      # an input is open but has delivered nothing for 0.5 s
    NO_DEVICE = "no device"  # no input is open (none could be, or the open one went away)


class MicAction(enum.Enum):
    """What the engine did because the chosen input is missing."""

    NONE = "none"            # the chosen input is open (or never failed)
    FELL_BACK = "fell back"  # the default input is open until the chosen one comes back
    WAITING = "waiting"      # nothing to fall back to: silence is sent until it comes back


@dataclass(frozen=True, slots=True)
class MicState:
    """One reading; ``message`` is the sentence for a banner ("" while all is well)."""

    status: MicStatus
    device: str | None       # the input open now (its PortAudio name); None when none is
    chosen: str | None       # the input the user chose; None: the default input
    missing: str | None      # the chosen input while it is gone (unplugged or not found)
    unplugged: bool          # ``missing`` went away while open (not: it was never found)
    action: MicAction
    since: float | None      # time.monotonic() when ``missing`` went; None when nothing is
    error: str | None        # the input's own error text, as ``capture_stats`` reports it
    message: str

    @property
    def live(self) -> bool:
        return self.status is MicStatus.LIVE


OFF = MicState(status=MicStatus.OFF, device=None, chosen=None, missing=None, unplugged=False,
               action=MicAction.NONE, since=None, error=None, message="")


def describe(missing: str | None, unplugged: bool, action: MicAction,
             fallback: str | None) -> str:
    """The banner's sentence: what is missing and what the engine did about it."""
    if missing is None:
        return ""
    what = f"The microphone {missing!r} " + ("was unplugged" if unplugged
                                             else "is not available")
    if action is MicAction.FELL_BACK and fallback is not None:
        return (f"{what}: using the default input {fallback!r} until it is back; "
                "it is reopened then.")
    return f"{what}: sending silence, waiting for it to come back."
