"""The echo reference's timeline: play times from the sound server, a microphone frame that
waits for its reference, and an echo path that stays put when the whole process freezes.

The first tests drive :class:`EchoReference` with chosen times (no sound card: its rules,
fast); the last one plays through the real engine on the virtual sound card while a child
process stops this one with SIGSTOP, as this VM's freezes do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from console.bench.freezer import freezing
from console.bench.output import StallWatch
from console.engine.apm import ProcessingConfig
from console.engine.echo_reference import (
    BLOCK_S,
    CENTRE_S,
    GONE_S,
    LEAD_S,
    MAX_WAIT_S,
    SLACK_S,
    EchoReference,
)
from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.play_time import MAX_AHEAD_S, PlaybackTime, block_end
from tests.audio_helpers import wait_until
from tests.track_helpers import engine_with_tracks, local_track


def _block(value: int) -> np.ndarray:
    return np.full(FRAME, value, dtype=np.int16)


def _fed(ref: EchoReference, mic_ready: float) -> list[int]:
    """The frames (by their first sample's value) a microphone frame of ``mic_ready`` takes."""
    got: list[int] = []
    ref.feed(mic_ready, lambda pcm: got.append(int(pcm[0])))
    return got


def test_a_microphone_frame_pairs_with_what_was_played_by_its_time_plus_the_lead() -> None:
    ref = EchoReference()
    t0 = time.monotonic() + 0.03
    for i in range(8):
        ref.push(_block(i), t0 + i * BLOCK_S)  # block i ends playing at t0 + i * 10 ms
    # A frame captured 3 ms before t0 pairs with the block that ends nearest 20 ms later
    # (block 2, at t0 + 20 ms), taking all before it; from then on one block a frame.
    assert _fed(ref, t0 - 0.003) == [0, 1, 2]
    assert _fed(ref, t0 + 0.007) == [3]
    assert _fed(ref, t0 + 0.017) == [4]
    assert _fed(ref, math.nan) == [5, 6, 7]  # no device time (silence): all there is


def test_frames_only_metered_drop_what_was_played_by_their_time_and_pair_afresh() -> None:
    """While nobody cancels echo the microphone's frames come in blocks of four: the
    reference drops what was played by the block's end plus the lead, and the next frame
    that is processed pairs anew."""
    ref = EchoReference()
    t0 = time.monotonic() + 0.03
    for i in range(10):
        ref.push(_block(i), t0 + i * BLOCK_S)
    assert _fed(ref, t0 - 0.003) == [0, 1, 2]  # paired
    ref.discard(t0 + 0.027)  # a block whose last frame ended 27 ms on: up to block 5 goes
    assert ref.available() == 4 * FRAME
    # Pairing afresh (the lead): block 6 ends at t0 + 60 ms, nearest 37 + 20 ms.
    assert _fed(ref, t0 + 0.037) == [6]
    ref.discard(math.nan)
    assert ref.available() == 0


def test_late_play_times_after_a_freeze_do_not_move_the_timeline() -> None:
    """For a few blocks after a freeze the server's latency reads late; the stamps keep
    to the sample count (its lower envelope), so the frames pair as before."""
    ref = EchoReference()
    t0 = time.monotonic() + 0.03
    for i in range(4):
        ref.push(_block(i), t0 + i * BLOCK_S)
    for i in range(4, 8):  # read 4-13 ms late
        ref.push(_block(i), t0 + i * BLOCK_S + 0.004 + 0.003 * (i - 4))
    for i in range(8, 16):
        ref.push(_block(i), t0 + i * BLOCK_S)
    # Block i ends at t0 + i * 10 ms, late readings or not.
    assert _fed(ref, t0 + 7 * BLOCK_S - LEAD_S + 1e-4) == list(range(8))
    assert [_fed(ref, t0 + j * BLOCK_S - LEAD_S + 1e-4) for j in range(8, 12)] == \
        [[8], [9], [10], [11]]


def test_jitter_at_a_frame_edge_does_not_flip_the_echo_path() -> None:
    """The microphone's frames fall right at the edge of the reference's: a tenth of a
    millisecond either way must not make one frame take two and the next none (each
    flip moves the echo path the canceller sees by 10 ms)."""
    ref = EchoReference()
    t0 = time.monotonic() + 0.03
    for i in range(40):
        ref.push(_block(i), t0 + i * BLOCK_S)
    taken = [_fed(ref, t0 + j * BLOCK_S - LEAD_S - CENTRE_S + (2e-4 if j % 2 else -2e-4))
             for j in range(1, 38)]
    assert all(len(frames) == 1 for frames in taken[1:]), taken
    assert [f[0] for f in taken[1:]] == list(range(taken[1][0], taken[1][0] + 36))


def _paired_run(ref: EchoReference, mic_at: Callable[[int], float], frames: int,
                t0: float) -> list[list[int]]:
    """Frames fed to ``frames`` microphone frames, the reference pushed 40 ms ahead of
    them as our output does; ``mic_at(j)``: frame j's stamp."""
    for i in range(4):
        ref.push(_block(i), t0 + i * BLOCK_S)
    taken = []
    for j in range(frames):
        ref.push(_block(j + 4), t0 + (j + 4) * BLOCK_S)
        taken.append(_fed(ref, mic_at(j)))
    return taken


@pytest.mark.parametrize("phase", [-0.0049, -0.002, 0.0, 0.002, 0.0049])
def test_the_stamps_wander_and_the_echo_path_stays_put(phase: float) -> None:
    """After a freeze the server hands the microphone over a few milliseconds later for
    seconds, and its stamps follow that up (1 ms a second) until an early frame snaps them
    back: 5 ms of wander seen on the virtual card. Paired, each microphone frame still
    takes one frame, through the wander and the snap back: the lead following the stamps
    (within 5 ms, then 15 ms) flipped the pairing at the wander's edges, and a test on
    the card saw the echo path move 10 ms one run in eight."""
    t0 = time.monotonic() + 0.03

    def mic_at(j: int) -> float:
        drift = min(j, 90) * 1e-4 if j < 100 else 0.0  # up 9 ms, then back at once
        return t0 + j * BLOCK_S - LEAD_S + phase + drift

    taken = _paired_run(EchoReference(), mic_at, 110, t0)
    assert all(len(frames) == 1 for frames in taken[1:]), taken
    assert [f[0] for f in taken[1:]] == list(range(taken[1][0], taken[1][0] + 109))


def test_stamps_that_move_beyond_the_wander_are_followed() -> None:
    """A move the stamps keep (another device, samples lost) is the echo path's own: 30 ms
    later, the microphone pairs afresh and takes one frame a time again."""
    t0 = time.monotonic() + 0.03

    def mic_at(j: int) -> float:
        return t0 + j * BLOCK_S - LEAD_S + (0.030 if j >= 10 else 0.0)

    taken = _paired_run(EchoReference(), mic_at, 20, t0)
    assert all(len(frames) == 1 for frames in taken[1:10]), taken
    assert sum(len(frames) for frames in taken[10:12]) == 5, taken  # 2 + the 3 skipped
    assert all(len(frames) == 1 for frames in taken[12:]), taken
    assert taken[-1] == [19 + 3]  # the frame that ends at its stamp plus the lead


def test_a_pairing_made_before_the_play_times_came_is_made_afresh_on_them() -> None:
    """A stream's first block comes stamped by arrival, the next by play times 20-40 ms
    later: a pairing made on the first timeline is off by that much on the second. It
    held by count, owing the microphone three frames for good (the reference it wanted was
    not written yet), until a freeze broke it and the echo path moved 10 ms (a test on
    the virtual card, one run in about ten)."""
    ref = EchoReference()
    before = time.monotonic()
    ref.push(_block(0))  # by arrival: about now
    t1 = time.monotonic() + 0.03
    # Paired on it: block 0 ends beyond the lead.
    assert _fed(ref, before - LEAD_S - CENTRE_S - 0.002) == []
    for i in range(1, 8):
        ref.push(_block(i), t1 + i * BLOCK_S)  # play times: block i ends at t1 + i * 10 ms
    assert _fed(ref, t1 + BLOCK_S - LEAD_S) == [0, 1]  # afresh: what plays by its lead
    assert [_fed(ref, t1 + j * BLOCK_S - LEAD_S) for j in range(2, 6)] == [[2], [3], [4], [5]]


def test_a_pairing_that_runs_ahead_of_the_stamps_is_made_afresh_before_a_burst() -> None:
    """The play times come 30 ms later than the sample count says (the stamps creep up
    to them, 1 ms a second), each block written 30 ms before it plays: paired by count,
    the microphone owes two or three frames for good, each frame taking what has come.
    Held against the frames they are owed to, the stamps say the pairing runs ahead, and
    it is made afresh. Owing them instead, a burst (the output catching up after a
    freeze) paid the debt at once and moved the echo path."""
    ref = EchoReference()
    t0 = time.monotonic() + 0.03

    def played(i: int) -> float:
        return t0 + i * BLOCK_S + (0.030 if i >= 10 else 0.0)

    pushed = 0
    taken: list[list[int]] = []
    for j in range(4100):
        mic = t0 + j * BLOCK_S - LEAD_S
        # Written 30 ms before it plays (the server's buffer), and from frame 4000 on a
        # tenth of a second ahead (the burst after a freeze).
        ahead = 0.1 if j >= 4000 else 0.0
        while played(pushed) <= mic + LEAD_S + 0.010 + ahead:
            ref.push(_block(pushed % 30000), played(pushed))
            pushed += 1
        taken.append(_fed(ref, mic))
    tail = taken[3900:]
    assert all(len(frames) == 1 for frames in tail), [t for t in tail if len(t) != 1]
    assert [f[0] for f in tail] == list(range(tail[0][0], tail[0][0] + len(tail)))


def test_a_reference_that_comes_late_is_made_up_in_order() -> None:
    """A frame that went on without its reference (the output still catching up) leaves
    it owed: the next takes two, and the pairing holds."""
    ref = EchoReference()
    t0 = time.monotonic() + 0.03
    for i in range(4):
        ref.push(_block(i), t0 + i * BLOCK_S)
    assert _fed(ref, t0 + BLOCK_S - LEAD_S) == [0, 1]  # paired: block 2 seen beyond
    assert _fed(ref, t0 + 2 * BLOCK_S - LEAD_S) == [2]
    assert _fed(ref, t0 + 3 * BLOCK_S - LEAD_S) == [3]
    assert _fed(ref, t0 + 4 * BLOCK_S - LEAD_S) == []  # block 4 not pushed yet
    for i in range(4, 8):
        ref.push(_block(i), t0 + i * BLOCK_S)
    assert _fed(ref, t0 + 5 * BLOCK_S - LEAD_S) == [4, 5]
    assert _fed(ref, t0 + 6 * BLOCK_S - LEAD_S) == [6]


def test_the_first_play_time_starts_the_timeline_afresh() -> None:
    """A stream's first block is written before the server has said anything (stamped by
    arrival); the blocks that come with play times are stamped by them at once, not by
    creeping up to them from the arrival 20-40 ms earlier (they took half a minute, and
    the pairing moved a frame on the way: a test on the virtual card failed on it)."""
    ref = EchoReference()
    ref.push(_block(0))  # no play time yet: by arrival, about now
    t0 = time.monotonic() + 0.03
    for i in range(1, 10):
        ref.push(_block(i), t0 + i * BLOCK_S)
    assert ref.timed
    assert _fed(ref, t0 + 3 * BLOCK_S - LEAD_S + 1e-4) == [0, 1, 2, 3]


def test_a_microphone_frame_waits_for_a_reference_not_yet_pushed_but_not_for_ever() -> None:
    ref = EchoReference()
    now = time.monotonic()
    assert not ref.waiting(now, now)  # nothing played yet: no output, nobody waits
    ref.push(_block(1), now + 0.002)
    # The frame would need what plays until now + lead: only 2 ms of it has come, less
    # than it can go on with.
    assert ref.waiting(now, now)
    assert not ref.waiting(now - LEAD_S + SLACK_S, now)  # enough of it is there
    assert not ref.waiting(now - MAX_WAIT_S - 0.001, now)  # waited long enough: goes on
    assert not ref.waiting(now, now + GONE_S + 0.001)  # the output stopped pushing
    ref.push(_block(2))  # an output with no play times (PortAudio's): nobody waits
    assert not ref.timed and not ref.waiting(time.monotonic(), time.monotonic())


def test_blocks_with_no_play_time_are_stamped_by_arrival() -> None:
    ref = EchoReference()
    before = time.monotonic()
    ref.push(_block(1))
    after = time.monotonic()
    assert _fed(ref, before - LEAD_S - CENTRE_S - 0.001) == []
    assert _fed(ref, after - LEAD_S - CENTRE_S + 0.001) == [1]


def test_block_end_reads_the_play_time_of_our_pulse_streams_only() -> None:
    timing = PlaybackTime()
    assert block_end(FRAME, timing) is None  # the server has not said yet
    assert block_end(FRAME, object()) is None  # PortAudio's time info: not used
    now = time.monotonic()
    timing.played_until = now + 0.025
    assert block_end(FRAME, timing) == pytest.approx(now + 0.025 + BLOCK_S)
    # Read before the speaker ran dry: the block cannot start before it is written.
    timing.played_until = now - 0.040
    end = block_end(FRAME, timing)
    assert end is not None and now + BLOCK_S <= end <= time.monotonic() + BLOCK_S
    timing.played_until = time.monotonic() + MAX_AHEAD_S + 1.0
    assert block_end(FRAME, timing) is None


@pytest.fixture
def pulse_engine(sound_card: object) -> Iterator[object]:
    with engine_with_tracks(input_device="lkc_mic_a", output_device="lkc_speaker_a",
                            processing=ProcessingConfig.off().replace(echo_cancellation=True),
                            backend="pulse") as eng:
        yield eng


@pytest.mark.audio
def test_the_echo_path_stays_put_while_the_process_freezes(pulse_engine) -> None:
    """Five 40 ms freezes of the whole process: the echo delay the canceller sees stays
    within 2 ms and the echo stays cancelled. Before the server played with no
    prebuffering and the reference was stamped with play times, each freeze moved the
    echo path by 13-16 ms (the speaker ran dry, and everything after came that much later)
    and the canceller lost 10-60 dB for a second or more (docs/BENCHMARKS.md)."""
    engine = pulse_engine
    rng = np.random.default_rng(11)
    noise = rng.standard_normal(SAMPLE_RATE * 3)
    far = (noise / np.sqrt(np.mean(noise ** 2)) * 10 ** (-20 / 20) * 32767).clip(-32767, 32767)

    def far_gen(start: int, n: int) -> np.ndarray:
        return far[(start + np.arange(n)) % far.size].astype(np.int16)

    lt = engine.media.run(local_track("far", far_gen))
    engine.test_tracks.append(lt)
    engine.add_track("far", lt.track)
    assert wait_until(lambda: engine.capture_stats().reference_timed, 3.0)
    time.sleep(4.0)  # convergence
    before = engine.echo_stats()
    assert not math.isnan(before.echo_delay_ms), before
    skip = len(before.windows)
    delays: list[float] = []
    with freezing(1.2, 40.0), StallWatch(late_s=0.03) as stalls:
        end = time.monotonic() + 6.5
        while time.monotonic() < end:
            time.sleep(0.2)
            d = engine.echo_stats().echo_delay_ms
            if not math.isnan(d):
                delays.append(d)
    time.sleep(1.2)
    after = engine.echo_stats()
    windows = after.windows[skip:]
    assert len(delays) >= 10 and len(windows) >= 6, (delays, windows)
    assert max(abs(d - before.echo_delay_ms) for d in delays) <= 2.0, (before, delays)
    # The canceller holds what it had (white noise: 39-51 dB here, run to run); a moved
    # echo path cost it 10-60 dB for a second or more.
    settled = float(np.median(before.windows[-3:]))
    assert settled >= 30.0 and min(windows) >= settled - 8.0, (before.windows, windows)
    assert stalls.figures()["stalls_ge_15ms"] >= 4  # the freezes happened (30 ms or more)
