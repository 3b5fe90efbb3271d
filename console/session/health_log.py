"""Audio trouble into the log, noticed from the engine's counters by whoever polls them.

The engine counts underruns and keeps its device errors but logs nothing from its real-time
paths; :class:`EngineWatch` compares the counters from one poll to the next (about once a
second) and writes a line only when something changed: a device opened or failed, a burst
of underruns, the process stalling.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.engine.audio_engine import AudioEngine

log = logging.getLogger(__name__)

BURST = 3          # underruns within one poll that make a warning (fewer: a debug line)
POLL_S = 1.0
_UNSEEN = object()


class EngineWatch:
    """Logs device changes, device errors and underrun bursts of one engine."""

    def __init__(self, engine: AudioEngine, interval_s: float = POLL_S) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._next = 0.0
        self._seen: dict[str, object] = {}

    def poll(self, now: float | None = None) -> None:
        """Compare with the last poll; cheap to call on every display tick."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return
        self._next = now + self.interval_s
        try:
            self._check()
        except Exception:  # the log must never break the window or the monitor
            log.debug("engine watch failed", exc_info=True)

    def _changed(self, key: str, value: object) -> bool:
        old = self._seen.get(key, _UNSEEN)
        self._seen[key] = value
        return old is _UNSEEN or old != value

    def _delta(self, key: str, total: int) -> int:
        previous = self._seen.get(key)
        self._seen[key] = total
        return total - previous if isinstance(previous, int) and total >= previous else 0

    def _check(self) -> None:
        cap = self.engine.capture_stats(latency=False)
        out = self.engine.output_stats()
        if self._changed("input", cap.device) and cap.device:
            log.info("microphone opened: %s", cap.device)
        if self._changed("output", out.device) and out.device:
            log.info("output device opened: %s", out.device)
        if self._changed("input_error", cap.device_error) and cap.device_error:
            log.warning("microphone error: %s", cap.device_error)
        if self._changed("output_error", out.device_error) and out.device_error:
            log.warning("output device error: %s", out.device_error)
        if self._changed("stalled", cap.stalled) and cap.stalled:
            log.warning("microphone stalled: no audio from %s", cap.device or "the device")
        self._burst("output underruns", "out_underruns", out.underruns)
        self._burst("output device underflows", "out_underflows", out.device_underflows)
        stalls = self._delta("host_stalls", out.host_stalls)
        if stalls:  # one at start is usual: a line for the file, not a warning
            log.info("the process froze %d time(s) (worst %.0f ms so far)", stalls,
                        out.host_stall_ms_max)
        for channel in self.engine.channel_stats():
            self._burst(f"underruns on {channel.label}", f"ch:{channel.key}", channel.underruns)

    def _burst(self, what: str, key: str, total: int) -> None:
        delta = self._delta(key, total)
        if delta >= BURST:
            log.warning("%s: %d in %.0f s (%d in all)", what, delta, self.interval_s, total)
        elif delta:
            log.debug("%s: %d (%d in all)", what, delta, total)
