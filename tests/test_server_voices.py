"""Voices the sandbox plays itself, heard by a real livekit SDK client."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from livekit import rtc

from console.sandbox.server import SandboxThread
from console.sandbox.server_voices import PACKET, encode_loop, signal_loop
from console.sandbox.voices import voice_specs
from tests.sandbox_helpers import Listener, join, peak_hz, rms_dbfs, sine_rms_dbfs, wait_for


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread() as thread:
        yield thread


def test_a_loop_is_a_whole_number_of_packets_with_a_level_each() -> None:
    spec = voice_specs(1)[0]  # the 440 Hz tone at -20 dBFS peak
    samples = signal_loop(spec)
    assert samples.shape[0] % PACKET == 0
    loop = encode_loop(samples)
    assert len(loop.payloads) == len(loop.levels) == samples.shape[0] // PACKET
    # -20 dBFS peak is -23 dBFS RMS: the packets say 23 dB below full scale.
    assert set(loop.levels) == {23}
    assert all(0 < len(p) < 400 for p in loop.payloads)


@pytest.mark.asyncio
async def test_voices_are_participants_that_speak_mute_and_can_be_kicked(
        sandbox: SandboxThread) -> None:
    sandbox.call(sandbox.server.add_voices("test", 8))
    me = await join(sandbox.url, "viewer")
    hears = Listener(me)
    speakers: set[str] = set()
    me.on("active_speakers_changed", lambda s: speakers.update(p.identity for p in s))
    muted: list[bool] = []
    me.on("track_muted", lambda p, t: muted.append(p.identity == "blinker"))
    gone: list[str] = []
    me.on("participant_disconnected", lambda p: gone.append(p.identity))
    try:
        names = {s.identity for s in voice_specs(8)}
        assert set(me.remote_participants) == names
        assert me.remote_participants["agent"].kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        await hears.wait_subscribed("tone-440")
        # Two and a half passes round the 1 s loop: no seam, no gap, the level holds.
        got = await hears.record("tone-440", 2.5, skip=0.5)
        assert got.shape[0] >= 2.3 * 48000
        blocks = got[: got.shape[0] // 480 * 480].reshape(-1, 480)
        levels = [rms_dbfs(b) for b in blocks]
        assert min(levels) > sine_rms_dbfs(-20.0) - 1.5, min(levels)
        assert max(levels) < sine_rms_dbfs(-20.0) + 1.5, max(levels)
        assert peak_hz(got) == pytest.approx(440.0, abs=3.0)
        await wait_for(lambda: {"tone-440", "speech-loud", "clipper"} <= speakers, 5.0)
        assert "silent" not in speakers
        await wait_for(lambda: True in muted, 8.0)  # the blinker mutes every 3 s
        sandbox.call(sandbox.server.kick("test", "tone-440"))
        await wait_for(lambda: "tone-440" in gone, 3.0)
        assert sandbox.server.participants("test") == sorted((names - {"tone-440"})
                                                             | {"viewer"})
    finally:
        await hears.aclose()
        await me.disconnect()


@pytest.mark.asyncio
async def test_a_voice_can_be_impaired_like_a_client(sandbox: SandboxThread) -> None:
    sandbox.call(sandbox.server.add_voices("test", 1))
    me = await join(sandbox.url, "viewer")
    hears = Listener(me)
    quality: list[tuple[str, int]] = []
    me.on("connection_quality_changed", lambda p, q: quality.append((p.identity, q)))
    try:
        await hears.wait_subscribed("tone-440")
        assert rms_dbfs(await hears.record("tone-440", 0.5)) > -25
        sandbox.run(sandbox.server.impair, "test", "tone-440", paused=True)
        assert rms_dbfs(await hears.record("tone-440", 0.5, skip=0.3)) < -50
        await wait_for(lambda: ("tone-440", rtc.ConnectionQuality.QUALITY_LOST) in quality, 5.0)
        sandbox.run(sandbox.server.impair, "test", "tone-440")
        samples = await hears.record("tone-440", 0.5, skip=0.5)
        assert rms_dbfs(samples) > -25
        assert np.abs(samples.astype(np.int32)).max() < 32767 * 10 ** (-19 / 20)
    finally:
        await hears.aclose()
        await me.disconnect()
