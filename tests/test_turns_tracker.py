"""The turn tracker and the voice detector on made-up timelines (no sound card, no room)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from console.engine.vad import VoiceActivity, VoiceSpan, channel_voice, mic_voice
from console.session.transcript import FinalSegment, Speaker
from console.session.turns import TurnFeed, TurnTracker
from console.signals import FRAME, SAMPLE_RATE

AGENT = "agent-1"
KEY = "agent-1/TR_a"


def final(seq: int, t: float, text: str = "reply") -> FinalSegment:
    return FinalSegment(seq, f"SG_{seq}", Speaker(AGENT), text, t)


def seen(spans: list[VoiceSpan], t: float) -> tuple[VoiceSpan, ...]:
    """The spans as a detector shows them at ``t``."""
    out = []
    for s in spans:
        if s.start + 0.08 > t:
            continue
        out.append(s if s.end + 0.25 <= t else VoiceSpan(s.seq, s.start, math.nan, s.detail))
    return tuple(out)


def run(tracker: TurnTracker, until: float, user: list[VoiceSpan], agent: list[VoiceSpan],
        finals: tuple[FinalSegment, ...] = (), output_s: float = 0.05) -> None:
    """Feed the spans as they would be seen every 50 ms: a span shows once it started
    (open) and closes a hangover after its end."""
    t = 0.0
    while t <= until:
        tracker.update(t, seen(user, t), [(AGENT, KEY, seen(agent, t))],
                       tuple(f for f in finals if f.t <= t), output_s)
        t += 0.05


def test_a_reply_is_timed_from_the_last_speech_before_it_and_waits_for_its_transcript() -> None:
    tracker = TurnTracker()
    user = [VoiceSpan(1, 1.0, 2.0), VoiceSpan(2, 2.3, 3.0)]  # a pause inside the turn
    # The reply pauses 0.4 s between its sentences: one reply.
    agent = [VoiceSpan(10, 3.9, 5.0, detail=0.03), VoiceSpan(11, 5.4, 6.0, detail=0.03)]
    run(tracker, 7.5, user, agent, finals=())
    assert tracker.snapshot().turns == ()  # audio over, transcript not yet in
    run(tracker, 8.0, user, agent, finals=(final(1, 6.5),))
    snap = tracker.snapshot()
    (turn,) = snap.turns
    assert turn.user_end == 3.0 and turn.agent_audio == 3.9 and turn.reply_end == 6.0
    assert turn.latency_s == pytest.approx(0.9)
    assert turn.to_ear_s == pytest.approx(0.9 + 0.03 + 0.05)
    assert not turn.interrupted and turn.text == "reply"
    assert (snap.n, snap.last_ms, snap.interruptions, snap.unanswered) == (1, pytest.approx(900),
                                                                          0, 0)
    feed = TurnFeed(t0=1.0)
    fields = feed.fields(snap)
    assert fields["turns"] == [{"agent": AGENT, "user_end_t": 2.0, "agent_audio_t": 2.9,
                                "latency_ms": 900.0, "to_ear_ms": 980.0,
                                "interrupted": False}]
    assert fields["turn_latency_ms"] == {"n": 1, "p50": 900.0, "p95": 900.0, "last": 900.0}
    assert feed.fields(snap)["turns"] == []  # each turn once


def test_speaking_over_a_reply_is_an_interruption_and_its_end_starts_the_next_turn() -> None:
    tracker = TurnTracker()
    user = [VoiceSpan(1, 1.0, 2.0), VoiceSpan(2, 3.5, 4.5)]
    agent = [VoiceSpan(10, 3.0, 4.0), VoiceSpan(11, 5.5, 7.0)]
    run(tracker, 9.0, user, agent, finals=(final(1, 4.1, "cut"), final(2, 7.1)))
    snap = tracker.snapshot()
    assert [(t.user_end, t.agent_audio, t.interrupted) for t in snap.turns] == [
        (2.0, 3.0, True), (4.5, 5.5, False)]
    assert snap.interruptions == 1 and snap.n == 2
    assert snap.p50_ms == pytest.approx(1000.0)


def test_speech_left_unanswered_for_the_timeout_is_counted_once() -> None:
    tracker = TurnTracker(timeout_s=2.0)
    user = [VoiceSpan(1, 1.0, 2.0)]
    run(tracker, 3.9, user, [])
    assert tracker.snapshot().unanswered == 0 and tracker.snapshot().waiting
    run(tracker, 6.0, user, [])
    snap = tracker.snapshot()
    assert snap.unanswered == 1 and snap.n == 0 and not snap.waiting
    (turn,) = snap.turns
    assert not turn.answered and turn.agent == AGENT
    assert TurnFeed(0.0).fields(snap)["turns"][0]["latency_ms"] is None


def test_a_reply_after_the_timeout_leaves_the_turn_unanswered() -> None:
    """As the README says: the turn was counted unanswered and stays so; the late reply is
    timed against nothing (no latency of 4.5 s enters p50/p95)."""
    tracker = TurnTracker(timeout_s=2.0)
    user = [VoiceSpan(1, 1.0, 2.0)]
    agent = [VoiceSpan(2, 6.5, 7.5, 0.04)]
    run(tracker, 12.0, user, agent, (final(3, 7.6),))
    snap = tracker.snapshot()
    assert snap.unanswered == 1 and snap.n == 0, snap
    assert [t.answered for t in snap.turns] == [False]


def test_speech_resumed_before_the_timeout_is_one_turn() -> None:
    tracker = TurnTracker(timeout_s=2.0)
    user = [VoiceSpan(1, 1.0, 2.0), VoiceSpan(2, 3.5, 4.0)]
    agent = [VoiceSpan(10, 4.8, 6.0)]
    run(tracker, 8.0, user, agent, finals=(final(1, 6.1),))
    snap = tracker.snapshot()
    assert [(t.user_end, t.answered) for t in snap.turns] == [(4.0, True)]
    assert snap.unanswered == 0


def test_a_reply_with_no_transcript_completes_after_the_wait() -> None:
    tracker = TurnTracker(transcript_wait_s=1.5)
    run(tracker, 7.0, [VoiceSpan(1, 1.0, 2.0)], [VoiceSpan(10, 3.0, 4.0)])
    (turn,) = tracker.snapshot().turns
    assert turn.answered and turn.text == ""


def test_the_microphone_detector_stamps_the_edges_of_the_voice_not_its_decision() -> None:
    voice: VoiceActivity = mic_voice()
    t = np.arange(int(1.0 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = (0.1 * 32767 * np.sin(2 * np.pi * 200 * t)).astype(np.int16)
    lead = int(0.5037 * SAMPLE_RATE)   # off the 10 ms grid: 3.7 ms into a frame
    x = np.concatenate([np.zeros(lead, np.int16), tone, np.zeros(SAMPLE_RATE, np.int16)])
    for i in range(len(x) // FRAME):
        voice.frame(x[i * FRAME:(i + 1) * FRAME], (i + 1) * FRAME / SAMPLE_RATE)
    (span,) = voice.spans()
    # Where the tone starts and ends, to the millisecond: not the frames' stamps (0.51 and
    # 1.51, the ends of the first and last voiced 10 ms), nor when the hangover decided.
    assert abs(span.start - 0.5037) <= 0.001 and abs(span.end - 1.5037) <= 0.001, span


def test_a_channel_detector_places_the_onset_and_counts_its_wait_from_there() -> None:
    voice = channel_voice()
    x = np.zeros(SAMPLE_RATE, np.int16)
    x[int(0.2526 * SAMPLE_RATE):int(0.6 * SAMPLE_RATE)] = 3000   # -20.8 dBFS, from 252.6 ms
    for i in range(len(x) // FRAME):
        # each frame's first sample is heard 40 ms after the frame's stamp (its arrival)
        voice.frame(x[i * FRAME:(i + 1) * FRAME], (i + 1) * FRAME / SAMPLE_RATE, 0.040)
    span = voice.spans()[0]
    assert abs(span.start - 0.2526) <= 0.001, span
    # Its frame arrived at 0.26 and its first sample is heard at 0.30: the onset, 2.6 ms
    # into the frame, at 0.3026, which is start + detail.
    assert span.start + span.detail == pytest.approx(0.3026, abs=0.001), span


def test_noise_below_the_threshold_and_clicks_start_nothing() -> None:
    voice = mic_voice()
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 1, SAMPLE_RATE * 3) * 10 ** (-55 / 20) * 32768).astype(np.int16)
    noise[SAMPLE_RATE:SAMPLE_RATE + FRAME] = 20000  # one loud 10 ms click
    for i in range(len(noise) // FRAME):
        voice.frame(noise[i * FRAME:(i + 1) * FRAME], i * 0.01)
    assert voice.spans() == ()
