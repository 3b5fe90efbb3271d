"""The stats a strip and ``monitor`` show: rates over a refresh, from livekit's real stats
messages (``RtcStats`` protobufs, built here as livekit's FFI delivers them)."""

from __future__ import annotations

import math

import pytest
from livekit.rtc._proto import stats_pb2

from console.session.track_stats import StatsReader


def inbound(*, packets: int, lost: int = 0, nbytes: int = 0, samples: int = 0,
            concealed: int = 0, fec: int = 0, jb_delay_s: float = 0.0,
            emitted: int = 0) -> stats_pb2.RtcStats:
    s = stats_pb2.RtcStats()
    r = s.inbound_rtp
    r.received.packets_received = packets
    r.received.packets_lost = lost
    r.received.jitter = 0.004
    r.inbound.bytes_received = nbytes
    r.inbound.total_samples_received = samples
    r.inbound.concealed_samples = concealed
    r.inbound.fec_packets_received = fec
    r.inbound.jitter_buffer_delay = jb_delay_s
    r.inbound.jitter_buffer_emitted_count = emitted
    return s


def pair(rtt_s: float) -> stats_pb2.RtcStats:
    s = stats_pb2.RtcStats()
    s.candidate_pair.candidate_pair.current_round_trip_time = rtt_s
    return s


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rates_are_over_the_last_refresh_and_unknown_before_the_second() -> None:
    clock = Clock()
    reader = StatsReader(clock)
    first = reader.read("TR_a", [inbound(packets=1000, nbytes=100_000, samples=960_000,
                                         emitted=1000, jb_delay_s=40.0), pair(0.012)])
    assert math.isnan(first.packets_per_s) and math.isnan(first.bitrate_kbps)
    assert first.packets_received == 1000 and first.rtt_ms == pytest.approx(12.0)
    assert first.jitter_ms == pytest.approx(4.0)
    clock.now += 2.0
    # Two seconds of DTX: 10 packets, 2 of the 96,000 samples concealed, 1 FEC packet.
    second = reader.read("TR_a", [inbound(packets=1010, lost=3, nbytes=100_500,
                                          samples=1_056_000, concealed=960, fec=1,
                                          emitted=1010, jb_delay_s=40.6)])
    assert second.packets_per_s == pytest.approx(5.0)
    assert second.bitrate_kbps == pytest.approx(2.0)   # 500 bytes in 2 s
    assert second.concealed_percent == pytest.approx(1.0)
    assert second.jitter_buffer_ms == pytest.approx(60.0)
    assert (second.packets_lost, second.fec_packets_received) == (3, 1)
    assert math.isnan(second.rtt_ms)  # no candidate pair in this report


def test_tracks_are_kept_apart_and_a_restarted_count_is_not_a_rate() -> None:
    clock = Clock()
    reader = StatsReader(clock)
    reader.read("TR_a", [inbound(packets=500)])
    reader.read("TR_b", [inbound(packets=10)])
    clock.now += 1.0
    assert reader.read("TR_b", [inbound(packets=60)]).packets_per_s == pytest.approx(50.0)
    # The same sid counting from zero again (a new receiver): no negative rate.
    assert math.isnan(reader.read("TR_a", [inbound(packets=20)]).packets_per_s)
    reader.clear()
    clock.now += 1.0
    assert math.isnan(reader.read("TR_b", [inbound(packets=110)]).packets_per_s)


def test_a_round_trip_under_a_millisecond_is_a_figure_and_an_unmeasured_one_is_not() -> None:
    """On this machine's sandbox the candidate pair's RTT is 0.0 s (livekit counts whole
    milliseconds): measured, not missing. A pair with no RTT yet has the field unset."""
    reader = StatsReader(Clock())
    assert reader.read("TR_a", [inbound(packets=1), pair(0.0)]).rtt_ms == 0.0
    unmeasured = stats_pb2.RtcStats()
    unmeasured.candidate_pair.candidate_pair.packets_sent = 3
    assert math.isnan(reader.read("TR_a", [inbound(packets=2), unmeasured]).rtt_ms)


def test_tracks_gone_are_forgotten_and_the_rest_keep_their_rates() -> None:
    """People come and go all day, each visit a new track sid: the reader keeps only the
    tracks still in the room."""
    clock = Clock()
    reader = StatsReader(clock)
    for n in range(50):
        reader.read(f"TR_visit{n}", [inbound(packets=100)])
    reader.read("TR_stays", [inbound(packets=100)])
    reader.keep(["TR_stays"])
    assert reader.tracks() == ["TR_stays"]
    clock.now += 1.0
    assert reader.read("TR_stays", [inbound(packets=150)]).packets_per_s == pytest.approx(50.0)
    assert math.isnan(reader.read("TR_visit3", [inbound(packets=150)]).packets_per_s)
