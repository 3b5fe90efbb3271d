"""Turn latency measured from audio, against the sandbox agent's own ground truth.

A real engine (a recording in place of the microphone; noise suppression, auto gain and
the high-pass filter on; playing on speaker B), the real session and the sandbox's
scripted agent in this process, so both sides share one clock. The path is measured apart
from the turn code: the test taps the level of every 10 ms, and of its milliseconds, at
both ends of each direction (our microphone as sent and the same audio as the sandbox
forwards it; the agent's packets as they enter the forwarder and as they arrive at our
channel) and takes the time between matching level edges, placed to the millisecond, near
each turn: the end of the user's burst on the way up, the reply's first onset on the way
down (``console.bench.agent.Paths``, shared with ``bench agent``). A turn's latency
must be the agent's own, placed to the millisecond (its user_end within the 10 ms block
it stamped, ``speech_end``; its reply's first audible millisecond as it left,
``reply_onset``), plus the uplink and downlink delays so measured, within 20 ms. All
processing is on, echo cancellation too: a recording hears no speaker, so the canceller
is given no echo reference (fed one, it damped the user's speech over the agent's reply
until the agent no longer heard itself interrupted).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from console.bench.agent import Paths, burst
from console.sandbox.agent import AgentOptions
from console.sandbox.agent_turns import ANSWERED, INTERRUPTED, UNANSWERED
from console.sandbox.server import SandboxThread
from console.session.join import JoinSpec, resolve
from console.session.model import ConnState
from console.signals import SAMPLE_RATE
from tests.audio_helpers import running_engine, wait_until

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # dev keys are short

ROOM = "turns"
AGENT = "helper"
TOLERANCE_S = 0.02


def pause(seconds: float) -> npt.NDArray[np.float32]:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


@pytest.fixture
def talk_engine(sound_card: object) -> Iterator[Any]:
    from console.engine.apm import ProcessingConfig

    with running_engine("lkc_mic_b", processing=ProcessingConfig(),
                        output_device="lkc_speaker_b") as eng:
        yield eng


@pytest.mark.audio
def test_each_turn_agrees_with_the_agents_ground_truth_plus_the_path(
        talk_engine: Any, tmp_path: Path) -> None:
    import soundfile

    from console.session.room_session import RoomSession

    script = [pause(0.6),
              burst(0.8), pause(4.0),                    # 1: answered
              burst(0.8), pause(1.5), burst(1.0), pause(4.2),  # 2: talked over; 3: answered
              burst(0.8), pause(3.4),                    # 4: never answered
              burst(0.8), pause(4.5)]                    # 5: answered
    wav = tmp_path / "user.wav"
    soundfile.write(str(wav), np.concatenate(script), SAMPLE_RATE)
    engine = talk_engine
    with SandboxThread(port=0) as sandbox:
        sandbox.run(sandbox.server.register_agent, AGENT,
                    AgentOptions(think_s=0.3, unanswered=frozenset({4})))
        session = RoomSession(engine, turn_timeout_s=2.0)
        try:
            spec = JoinSpec(url=sandbox.url, api_key="devkey", api_secret="secret", room=ROOM,
                            identity="me", agent=AGENT)
            snap = session.join(resolve(spec))
            assert snap.state is ConnState.CONNECTED, snap.detail
            assert wait_until(lambda: bool(sandbox.server.agents(ROOM))
                              and sandbox.server.agents(ROOM)[0].linked == "me", 10.0)
            agent = sandbox.server.agents(ROOM)[0]
            assert wait_until(lambda: bool(session.snapshot().agents)
                              and bool(session.snapshot().voice_keys(agent.identity)), 10.0)
            key = session.snapshot().voice_keys(agent.identity)[0]
            # Both ends of both paths (the sandbox's: once our track is published there).
            paths = Paths(engine, session, sandbox, ROOM, "me", agent, key)
            engine.set_input_file(wav)
            total = sum(len(p) for p in script) / SAMPLE_RATE
            assert wait_until(lambda: session.turns().n + session.turns().unanswered >= 5,
                              total + 8.0)
            turns = session.turns()
        finally:
            session.leave()
        truth = sandbox.server.agent_turns(ROOM)
    assert [t.outcome for t in truth] == [ANSWERED, INTERRUPTED, ANSWERED, UNANSWERED,
                                          ANSWERED], truth
    assert [t.answered for t in turns.turns] == [True, True, True, False, True], turns
    assert [t.interrupted for t in turns.turns] == [False, True, False, False, False]
    assert turns.interruptions == 1 and turns.unanswered == 1 and turns.n == 4
    for ours, gt in zip(turns.turns, truth, strict=True):
        assert ours.agent == agent.identity
        if gt.reply_start is None:
            assert not ours.answered
            continue
        ref = paths.reference(gt.user_end, gt.reply_start)
        assert not math.isnan(ref.up) and not math.isnan(ref.down), ref
        assert abs(ours.latency_s - ref.latency_s) <= TOLERANCE_S, (
            ours, gt, f"up {ref.up * 1000:.1f} ms, down {ref.down * 1000:.1f} ms")
        # The ear is later than the wire by the channel's queue, the ring and the device.
        assert 0.01 < ours.to_ear_s - ours.latency_s < 0.3, ours
        assert ours.text == gt.spoken_text.strip() or ours.text == gt.spoken_text
    assert turns.p50_ms == pytest.approx(
        float(np.median([t.latency_s * 1000 for t in turns.turns if t.answered])))



@pytest.mark.audio
def test_without_the_agent_features_no_transcript_is_read_and_no_turn_measured(
        talk_engine: Any, tmp_path: Path) -> None:
    """What ``bench agent`` compares the features' CPU against: the agent answers and
    sends its transcript as ever, the session reads none and measures no turn."""
    import soundfile

    from console.session.room_session import RoomSession

    wav = tmp_path / "user.wav"
    soundfile.write(str(wav), np.concatenate([pause(0.6), burst(0.8), pause(3.0)]),
                    SAMPLE_RATE)
    engine = talk_engine
    with SandboxThread(port=0) as sandbox:
        sandbox.run(sandbox.server.register_agent, AGENT, AgentOptions(think_s=0.3))
        session = RoomSession(engine, turn_timeout_s=1.0, agent_features=False)
        try:
            spec = JoinSpec(url=sandbox.url, api_key="devkey", api_secret="secret", room=ROOM,
                            identity="me", agent=AGENT)
            assert session.join(resolve(spec)).state is ConnState.CONNECTED
            assert wait_until(lambda: bool(session.snapshot().agents), 10.0)
            engine.set_input_file(wav)
            assert wait_until(lambda: any(t.reply_start is not None
                                          for t in sandbox.server.agent_turns(ROOM)), 8.0)
            assert wait_until(lambda: session.snapshot().agents[0].agent_state == "listening"
                              and any(t.reply_end is not None
                                      for t in sandbox.server.agent_turns(ROOM)), 8.0)
            transcript, turns = session.transcript(), session.turns()
        finally:
            session.leave()
    assert transcript.lines == ()
    assert turns.n == 0 and turns.unanswered == 0 and turns.turns == ()
