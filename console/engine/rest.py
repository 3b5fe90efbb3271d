"""Resting: both devices closed while nobody looks and nobody listens (issue 18).

A console kept open all day spends most of it minimised. With the window out of sight,
no room taking the microphone, no channel, no test and no detector, nothing reads the meters
and nothing plays, yet an open microphone and output wake four threads a hundred times a
second (ours and libpulse's, each way) and the engine's loops tick on: about 8 % of a core
(``bench idle``). Resting closes both devices and lets the capture pump and the mixer sleep,
so the process costs what Qt's idle event loop costs.

Waking reopens the same devices by name, in about the time a device switch takes. A
microphone that went away meanwhile counts as a failure of its stream, so the microphone
keeper falls back or waits as if it had gone while open; an output that went away meanwhile
is left to the engine's ``output_gone`` (it plays on the default and says so). The keeper is
paused while resting so that a device coming back is not opened behind the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from console.engine import devices, file_input

if TYPE_CHECKING:
    from console.engine.capture import CaptureChain
    from console.engine.mic_keeper import MicKeeper
    from console.engine.output import OutputDevice


class DeviceRest:
    """Closes and reopens the engine's two devices together, one transition at a time."""

    def __init__(self, chain: CaptureChain, output: OutputDevice, *,
                 keeper: Callable[[], MicKeeper | None], lock: threading.RLock,
                 output_gone: Callable[[devices.AudioDevice, int], None]) -> None:
        """``lock``: the engine's device lock (every device change holds it);
        ``output_gone(device, channels)``: the output could not be reopened on waking."""
        self._chain = chain
        self._output = output
        self._keeper = keeper
        self._lock = lock
        self._output_gone = output_gone
        self._input: devices.AudioDevice | None = None
        self._played: devices.AudioDevice | None = None
        self._channels = 0
        self.resting = False
        self.rests = 0  # how many times it rested (for tests and benches)

    def can_rest(self) -> bool:
        """A recording in place of the microphone plays on: it is a conversation, not a
        device nobody listens to."""
        dev = self._chain.device
        return dev is None or dev.hostapi != file_input.HOSTAPI

    def rest(self) -> bool:
        """Close both devices; False if already resting or the input may not rest."""
        with self._lock:
            if self.resting or not self.can_rest():
                return False
            keeper = self._keeper()
            if keeper is not None:
                keeper.pause(True)
            self._input = self._chain.device
            self._played = self._output.device
            self._channels = self._output.stats().device_channels
            self._chain.rest(True)
            self._output.rest(True)
            self.resting = True
            self.rests += 1
            return True

    def wake(self) -> bool:
        """Reopen what was open; False if not resting."""
        with self._lock:
            if not self.resting:
                return False
            self.resting = False
            self._output.rest(False)
            self._chain.rest(False)
            played, self._played = self._played, None
            if played is not None:
                try:
                    self._output.open(played.name, self._channels or None)
                except devices.DeviceError:
                    self._output_gone(played, self._channels)
            heard, self._input = self._input, None
            if heard is not None:  # a failure here is the keeper's to handle, as an unplug
                self._chain.stream.reopen(heard.name, self._chain.open)
            keeper = self._keeper()
            if keeper is not None:
                keeper.pause(False)
            return True
