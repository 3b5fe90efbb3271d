"""A remote track's WebRTC stats as the console shows them: rates over the last refresh.

livekit's ``get_stats()`` / ``get_rtc_stats()`` give running totals (bytes, packets,
samples, concealed samples, the jitter buffer's summed delay); a person needs what they did
lately: the bitrate, the packet rate (with DTX a silent track sends a few packets a second,
without it 50), the share of audio concealed. :class:`StatsReader` keeps each track's last
totals and turns the next report into :class:`~console.session.model.TrackStats`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from console.session.model import TrackStats


class _Totals(NamedTuple):
    at: float
    bytes: int = 0
    packets: int = 0
    samples: int = 0
    concealed: int = 0
    jb_delay_s: float = 0.0
    jb_emitted: int = 0


class StatsReader:
    """Turns successive stats reports of each track (by sid) into recent rates."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, _Totals] = {}

    def clear(self) -> None:
        self._last.clear()

    def keep(self, sids: Iterable[str]) -> None:
        """Forget every track but ``sids`` (a room where people come and go all day sees
        a new track sid per visit)."""
        alive = set(sids)
        for sid in [s for s in self._last if s not in alive]:
            del self._last[sid]

    def tracks(self) -> list[str]:
        """The sids it holds totals for."""
        return sorted(self._last)

    def read(self, sid: str, stats: Iterable[Any]) -> TrackStats:
        """One report (livekit ``RtcStats`` messages) of track ``sid``."""
        totals = _Totals(at=self._clock())
        lost = fec = 0
        jitter = rtt = math.nan
        for s in stats:
            kind = s.WhichOneof("stats")
            if kind == "inbound_rtp":
                r = s.inbound_rtp
                lost = max(0, int(r.received.packets_lost))
                jitter = float(r.received.jitter) * 1000.0
                fec = int(r.inbound.fec_packets_received)
                totals = _Totals(
                    at=totals.at, bytes=int(r.inbound.bytes_received),
                    packets=int(r.received.packets_received),
                    samples=int(r.inbound.total_samples_received),
                    concealed=int(r.inbound.concealed_samples),
                    jb_delay_s=float(r.inbound.jitter_buffer_delay),
                    jb_emitted=int(r.inbound.jitter_buffer_emitted_count))
            elif kind == "candidate_pair":
                pair = s.candidate_pair.candidate_pair
                # Present once measured; 0.0 is a real figure (under a millisecond: a
                # server on this machine), not "unknown".
                if pair.HasField("current_round_trip_time"):
                    rtt = float(pair.current_round_trip_time) * 1000.0
        prev = self._last.get(sid)
        self._last[sid] = totals
        bitrate = pps = conceal_pct = jb_ms = math.nan
        if prev is not None and totals.at > prev.at and totals.packets >= prev.packets:
            dt = totals.at - prev.at
            bitrate = (totals.bytes - prev.bytes) * 8 / dt / 1000.0
            pps = (totals.packets - prev.packets) / dt
            if totals.samples > prev.samples:
                conceal_pct = (100.0 * (totals.concealed - prev.concealed)
                               / (totals.samples - prev.samples))
            if totals.jb_emitted > prev.jb_emitted:
                jb_ms = (1000.0 * (totals.jb_delay_s - prev.jb_delay_s)
                         / (totals.jb_emitted - prev.jb_emitted))
        return TrackStats(bitrate_kbps=bitrate, packets_received=totals.packets,
                          packets_lost=lost, packets_per_s=pps, fec_packets_received=fec,
                          jitter_ms=jitter, concealed_percent=conceal_pct,
                          jitter_buffer_ms=jb_ms, rtt_ms=rtt)
