"""The sandbox's scripted agent in a conversation with a real livekit SDK client: states,
transcripts, ground truth and interruptions, all as the user's own Room sees them."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest
from livekit import api, rtc

from console.sandbox.agent import AgentOptions
from console.sandbox.agent_turns import ANSWERED, INTERRUPTED
from console.sandbox.agent_voice import REPLIES, phrases
from console.sandbox.server import SandboxThread
from console.signals import FRAME, SAMPLE_RATE
from tests.sandbox_helpers import wait_for

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # dev keys are short

ROOM = "talk"
USER = "you"
AGENT_NAME = "bot"
EARLY_S = 0.02       # a timer is never early (10 ms blocks and rounding aside) ...
LATE_S = 0.15        # ... but on a loaded 2-core VM with 15-100 ms freezes it can be late


def on_time(actual: float, expected: float) -> bool:
    return expected - EARLY_S <= actual <= expected + LATE_S


def speech(seconds: float, rms_dbfs: float = -20.0) -> npt.NDArray[np.int16]:
    """A voiced burst: a 140 Hz buzz whose loudness swings at 4 Hz (never to silence)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    buzz = sum(np.sin(2 * np.pi * 140.0 * k * t) / k for k in range(1, 10))
    x = buzz * (0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t))
    x *= 10 ** (rms_dbfs / 20) * 32768 / np.sqrt(np.mean(x ** 2))
    return x.astype(np.int16)


def silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


class ScriptedUser:
    """A microphone track playing a script in real time, noting when each voiced burst's
    last frame was handed to the AudioSource."""

    def __init__(self, script: list[npt.NDArray[np.int16]]) -> None:
        self.script = script
        self.source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
        self.track = rtc.LocalAudioTrack.create_audio_track("mic", self.source)
        self.burst_ends: list[float] = []
        self.done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def publish(self, room: rtc.Room) -> str:
        pub = await room.local_participant.publish_track(
            self.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        return pub.sid

    def play(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._play())

    async def _play(self) -> None:
        for part in self.script:
            voiced = bool(np.any(part))
            for i in range(0, part.shape[0] - FRAME + 1, FRAME):
                frame = part[i:i + FRAME]
                await self.source.capture_frame(
                    rtc.AudioFrame(frame.tobytes(), SAMPLE_RATE, 1, FRAME))
            if voiced:
                self.burst_ends.append(time.monotonic())
        self.done.set()
        while True:  # then silence, as a microphone goes on sending
            await self.source.capture_frame(
                rtc.AudioFrame(bytes(FRAME * 2), SAMPLE_RATE, 1, FRAME))

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.source.aclose()


@dataclass
class Seen:
    """What the user's Room receives from the agent."""

    states: list[tuple[float, str]] = field(default_factory=list)
    streams: list[tuple[str, dict[str, str], str]] = field(default_factory=list)  # who, attrs, text
    agent_track: str = ""
    mic_track: str = ""
    loud: list[float] = field(default_factory=list)     # arrival of agent frames above -40 dBFS
    frames: list[tuple[float, float]] = field(default_factory=list)  # (arrival, dBFS)


def watch(room: rtc.Room, seen: Seen) -> list[asyncio.Task[None]]:
    tasks: list[asyncio.Task[None]] = []

    def on_attributes(changed: dict[str, str], participant: rtc.Participant) -> None:
        if "lk.agent.state" in changed:
            seen.states.append((time.monotonic(), changed["lk.agent.state"]))

    async def read(reader: rtc.TextStreamReader, who: str) -> None:
        text = await reader.read_all()
        seen.streams.append((who, dict(reader.info.attributes), text))

    def on_stream(reader: rtc.TextStreamReader, who: str) -> None:
        tasks.append(asyncio.get_running_loop().create_task(read(reader, who)))

    async def listen(track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        try:
            async for event in stream:
                x = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
                ms = float(np.mean(x ** 2)) / 32768 ** 2 if x.size else 0.0
                dbfs = 10 * math.log10(ms) if ms > 0 else -120.0
                now = time.monotonic()
                seen.frames.append((now, dbfs))
                if dbfs > -40:
                    seen.loud.append(now)
        finally:
            await stream.aclose()

    def on_track(track: rtc.Track, pub: rtc.RemoteTrackPublication,
                 participant: rtc.RemoteParticipant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT:
            tasks.append(asyncio.get_running_loop().create_task(listen(track)))

    room.on("participant_attributes_changed", on_attributes)
    room.on("track_subscribed", on_track)
    room.register_text_stream_handler("lk.transcription", on_stream)
    return tasks


def dispatching_token(url_room: str, identity: str, agent: str) -> str:
    return (api.AccessToken("devkey", "secret").with_identity(identity).with_name(identity)
            .with_grants(api.VideoGrants(room_join=True, room=url_room))
            .with_room_config(api.RoomConfiguration(
                agents=[api.RoomAgentDispatch(agent_name=agent)]))
            .to_jwt())


@pytest.fixture
def agent_sandbox() -> Iterator[SandboxThread]:
    """A sandbox whose agent "bot" answers dispatches (default think time)."""
    with SandboxThread(port=0, agents=(AGENT_NAME,)) as server:
        yield server


async def converse(sandbox: SandboxThread, script: list[npt.NDArray[np.int16]],
                   after_s: float) -> tuple[Seen, ScriptedUser]:
    """Join with a token that dispatches the agent, wait for it, play the script, and
    listen ``after_s`` seconds past its end."""
    me = rtc.Room()
    seen = Seen()
    tasks = watch(me, seen)
    user = ScriptedUser(script)
    try:
        await me.connect(sandbox.url, dispatching_token(ROOM, USER, AGENT_NAME),
                         rtc.RoomOptions(single_peer_connection=False))
        await wait_for(lambda: any(p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
                                   for p in me.remote_participants.values()), 10.0)
        seen.mic_track = await user.publish(me)
        agent = sandbox.run(sandbox.server.agents, ROOM)[0]
        seen.agent_track = agent.track_sid
        await wait_for(lambda: agent.linked == USER and agent._tap is not None, 5.0)
        user.play()
        await asyncio.wait_for(user.done.wait(), 60.0)
        await asyncio.sleep(after_s)
    finally:
        await user.aclose()
        await me.disconnect()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return seen, user


def test_replies_are_rendered_speech_with_their_words() -> None:
    rendered = phrases()
    assert [p.text for p in rendered] == list(REPLIES)
    for phrase in rendered:
        assert "".join(phrase.words) == phrase.text
        assert list(phrase.word_packets) == sorted(phrase.word_packets)
        assert phrase.word_packets[0] == 0
        assert phrase.levels[0] < 40, "a reply is audible from its first packet"
        assert 1.0 < phrase.duration_s < 4.0


@pytest.mark.asyncio
async def test_a_turn_states_transcripts_and_ground_truth(agent_sandbox: SandboxThread) -> None:
    seen, user = await converse(agent_sandbox, [silence(0.6), speech(1.2)],
                                         after_s=3.6)
    turns = agent_sandbox.server.agent_turns(ROOM)
    assert len(turns) == 1, turns
    turn = turns[0]
    reply = phrases()[0]
    # Ground truth: endpointing 500 ms after the last voiced audio, then 600 ms thinking.
    assert turn.outcome == ANSWERED and turn.user == USER
    assert turn.user_end - turn.user_start == pytest.approx(1.2, abs=0.1)
    assert 0 <= turn.user_end - user.burst_ends[0] < 0.25  # the source queues up to 100 ms
    assert on_time(turn.endpoint - turn.user_end, 0.5), turn
    assert turn.reply_start is not None and turn.reply_end is not None
    assert on_time(turn.reply_start - turn.endpoint, 0.6), turn
    assert on_time(turn.reply_end - turn.reply_start, reply.duration_s - 0.02), turn
    assert turn.reply_text == turn.spoken_text == reply.text
    # The reply's sound reaches the user after it left the agent, not before, and within
    # a jitter buffer's delay.
    first = min(t for t in seen.loud if t > turn.endpoint)
    assert 0 < first - turn.reply_start < 0.4, first - turn.reply_start
    assert not [t for t in seen.loud if turn.user_start < t < turn.reply_start]
    # States, as the user's SDK saw them: listening, thinking, speaking, listening.
    states = [s for _, s in seen.states]
    assert states[-4:] == ["listening", "thinking", "speaking", "listening"], states
    thinking = next(t for t, s in seen.states if s == "thinking")
    speaking = next(t for t, s in seen.states if s == "speaking")
    assert 0.5 < speaking - thinking < 0.8, speaking - thinking
    # The user's own words, sent on the user's behalf: interim then final, one segment,
    # naming the user's microphone track.
    mine = [(attrs, text) for who, attrs, text in seen.streams if who == USER]
    assert len(mine) >= 2, seen.streams
    assert [a["lk.transcription_final"] for a, _ in mine] == ["false"] * (len(mine) - 1) + ["true"]
    assert {a["lk.segment_id"] for a, _ in mine} == {turn.user_segment_id}
    assert {a["lk.transcribed_track_id"] for a, _ in mine} == {seen.mic_track}
    assert mine[-1][1] == "(speech 1.2 s)"
    # The agent's reply: one delta stream from the agent, final in its trailer.
    theirs = [(who, attrs, text) for who, attrs, text in seen.streams if who != USER]
    assert len(theirs) == 1, seen.streams
    who, attrs, text = theirs[0]
    assert who == turn.agent and text == reply.text
    assert attrs["lk.transcription_final"] == "true"
    assert attrs["lk.segment_id"] == turn.reply_segment_id
    assert attrs["lk.transcribed_track_id"] == seen.agent_track
    # The same ground truth for another process, in Unix time.
    async with aiohttp.ClientSession() as http, http.get(
            agent_sandbox.url.replace("ws://", "http://") + "/sandbox/agent_turns",
            params={"room": ROOM}) as resp:
        (row,) = await resp.json()
    assert row["outcome"] == "answered" and row["reply_text"] == reply.text
    assert row["latency_ms"] == round((turn.reply_start - turn.user_end) * 1000, 1)
    unix_now, mono_now = time.time(), time.monotonic()
    assert row["user_end_wall"] == pytest.approx(unix_now - (mono_now - turn.user_end), abs=0.05)


@pytest.mark.asyncio
async def test_speaking_over_the_reply_interrupts_it(agent_sandbox: SandboxThread) -> None:
    # Speak, wait for the reply to begin (1.1 s after the end), then talk over it.
    seen, _ = await converse(agent_sandbox, [silence(0.4), speech(0.8), silence(1.5),
                                                   speech(1.2)], after_s=3.8)
    turns = agent_sandbox.server.agent_turns(ROOM)
    assert [t.outcome for t in turns] == [INTERRUPTED, ANSWERED], turns
    cut, answer = turns
    assert cut.reply_start is not None and cut.reply_end is not None
    # Stopped once the user had spoken over it for 0.5 s: well before its end.
    assert cut.reply_end - cut.reply_start < phrases()[0].duration_s - 0.5
    assert on_time(cut.reply_end - answer.user_start, 0.5), (cut, answer)
    assert cut.reply_text.startswith(cut.spoken_text) and cut.spoken_text != cut.reply_text
    # The user hears it stop (a jitter buffer's worth later at most) ...
    assert not [t for t in seen.loud if cut.reply_end + 0.3 < t < answer.endpoint]
    # ... and its transcript ends with the words it said, marked final.
    theirs = [(attrs, text) for who, attrs, text in seen.streams if who == cut.agent]
    assert theirs[0] == ({"lk.transcription_final": "true",
                          "lk.transcribed_track_id": seen.agent_track,
                          "lk.segment_id": cut.reply_segment_id}, cut.spoken_text)
    states = [s for _, s in seen.states]
    assert states[-6:] == ["thinking", "speaking", "listening", "thinking", "speaking",
                           "listening"], states
    assert answer.outcome == ANSWERED and answer.reply_text == phrases()[1].text


@pytest.mark.asyncio
async def test_think_time_and_silent_turns_are_options(sandbox: SandboxThread) -> None:
    sandbox.run(sandbox.server.register_agent, AGENT_NAME,
                AgentOptions(think_s=0.25, unanswered=frozenset({1})))
    seen, _ = await converse(sandbox, [silence(0.4), speech(0.6), silence(1.3),
                                          speech(0.6)], after_s=3.7)
    silent, answered = sandbox.server.agent_turns(ROOM)
    assert silent.outcome == "unanswered" and silent.reply_start is None
    assert answered.outcome == ANSWERED and answered.reply_start is not None
    assert on_time(answered.reply_start - answered.endpoint, 0.25), answered
    states = [s for _, s in seen.states]
    assert states[-5:] == ["thinking", "listening", "thinking", "speaking", "listening"], states
