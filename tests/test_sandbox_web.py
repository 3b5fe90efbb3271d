"""What the sandbox answers any LiveKit client, browsers included: CORS on every HTTP
answer, the ``/rtc/v1`` refusal every SDK falls back from, and Opus with the parameters
livekit-server negotiates (DTX and in-band FEC). The browser itself: ``test_browser.py``."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import numpy as np
import pytest
from aiortc import RTCPeerConnection
from livekit import rtc
from livekit.protocol import models

from console.sandbox import opus_sdp
from console.sandbox.opus_sdp import OpusFeatures
from console.sandbox.peer import ClientPeer
from console.sandbox.server import V1_NOT_SPOKEN, SandboxThread
from console.sandbox.voices import make_token
from console.signals import FRAME, SAMPLE_RATE
from tests.sandbox_helpers import Listener, Publisher, join

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PAGE = "http://page.example"
DTX_MAX_PPS = 10.0    # silence with DTX: a few packets a second
PLAIN_MIN_PPS = 40.0  # without: one every 20 ms


async def _get(url: str, **headers: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
        return r.status, dict(r.headers), await r.text()


@pytest.mark.asyncio
async def test_every_answer_carries_cors_as_livekit_server_gives_it(
        sandbox: SandboxThread) -> None:
    http = sandbox.url.replace("ws://", "http://")
    good = make_token("web", "test")
    bad = make_token("web", "test", api_secret="not-the-secret")
    cases = [  # path, token, status, Access-Control-Allow-Origin
        ("/rtc/v1", good, 404, PAGE),           # the refusal the SDKs fall back from
        ("/rtc/v1/validate", good, 404, "*"),   # what the JS SDK reads to decide that
        ("/rtc/v1", bad, 401, PAGE),
        ("/rtc/v1/validate", bad, 401, "*"),
        ("/rtc/validate", bad, 401, "*"),
        ("/rtc/validate", good, 200, "*"),
        ("/rtc", bad, 401, PAGE),
        ("/no/such/path", good, 404, PAGE),
    ]
    for path, token, status, allowed in cases:
        got, headers, text = await _get(f"{http}{path}?access_token={token}", Origin=PAGE)
        assert (got, headers.get("Access-Control-Allow-Origin")) == (status, allowed), path
        if status == 401:
            assert "signature" in text, (path, text)  # the reason, readable by the page
    status, headers, text = await _get(f"{http}/rtc/v1/validate?access_token={good}",
                                       Origin=PAGE)
    assert text == V1_NOT_SPOKEN
    assert "requested room does not exist" not in text  # the JS SDK would not fall back
    # without an Origin (not a browser) nothing is echoed
    _, headers, _ = await _get(f"{http}/rtc/v1?access_token={good}")
    assert "Access-Control-Allow-Origin" not in headers


@pytest.mark.asyncio
async def test_a_preflight_is_granted_what_it_asks(sandbox: SandboxThread) -> None:
    http = sandbox.url.replace("ws://", "http://")
    async with aiohttp.ClientSession() as session, session.options(
            f"{http}/rtc/validate", headers={
                "Origin": PAGE, "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, x-custom"}) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == PAGE
        assert resp.headers["Access-Control-Allow-Methods"] == "GET"
        assert resp.headers["Access-Control-Allow-Headers"] == "authorization, x-custom"


@pytest.mark.asyncio
async def test_the_python_sdk_falls_back_from_v1_and_hears_the_reason_of_a_refusal(
        sandbox: SandboxThread) -> None:
    """Its default options try ``/rtc/v1`` first: the 404 sends it to ``/rtc`` at once,
    and a refused token is refused there already, with the reason."""
    client = rtc.Room()
    t0 = time.monotonic()
    await client.connect(sandbox.url, make_token("py", "test"))  # single_peer_connection on
    took = time.monotonic() - t0
    try:
        assert sandbox.run(sandbox.server.participants, "test") == ["py"]
        assert took < 3.0, took
    finally:
        await client.disconnect()
    with pytest.raises(rtc.ConnectError, match="token signature does not match"):
        await rtc.Room().connect(sandbox.url,
                                 make_token("py", "test", api_secret="not-the-secret"))


def _opus_fmtp(sdp: str) -> list[str]:
    lines = sdp.splitlines()
    opus = {line.split()[0].split(":")[1] for line in lines
            if line.startswith("a=rtpmap:") and "opus/48000" in line.lower()}
    return [line.split(" ", 1)[1] for line in lines
            if line.startswith("a=fmtp:") and line[7:].split()[0] in opus]


async def _publish_silence(room: rtc.Room, *, dtx: bool) -> asyncio.Task[None]:
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
    track = rtc.LocalAudioTrack.create_audio_track("quiet", source)
    await room.local_participant.publish_track(track, rtc.TrackPublishOptions(
        source=rtc.TrackSource.SOURCE_MICROPHONE, dtx=dtx))

    async def feed() -> None:
        zeros = np.zeros(FRAME, dtype=np.int16).tobytes()
        try:
            while True:
                await source.capture_frame(rtc.AudioFrame(zeros, SAMPLE_RATE, 1, FRAME))
        finally:
            await source.aclose()
    return asyncio.get_running_loop().create_task(feed())


def _client(sandbox: SandboxThread, identity: str) -> ClientPeer:
    peer = sandbox.server.peer("test", identity)
    assert isinstance(peer, ClientPeer)
    return peer


def _packets_in(sandbox: SandboxThread, identity: str) -> int:
    def count() -> int:
        peer = sandbox.server.peer("test", identity)
        return sum(p.fanout.frames_in for p in peer.published.values() if p.fanout)
    result: int = sandbox.run(count)
    return result


@pytest.mark.asyncio
@pytest.mark.parametrize("dtx", [True, False])
async def test_opus_is_negotiated_with_livekit_servers_parameters(
        sandbox: SandboxThread, dtx: bool) -> None:
    """The publisher's answer carries usedtx unless the client asked for none, so a silent
    microphone sends a few packets a second (50 without DTX); subscribers are offered Opus
    with in-band FEC."""
    speaker = await join(sandbox.url, "speaker")
    listener = await join(sandbox.url, "listener")
    hears = Listener(listener)
    feeding = await _publish_silence(speaker, dtx=dtx)
    try:
        await hears.wait_subscribed("speaker")
        await asyncio.sleep(1.0)
        n0, t0 = _packets_in(sandbox, "speaker"), time.monotonic()
        await asyncio.sleep(2.0)
        rate = (_packets_in(sandbox, "speaker") - n0) / (time.monotonic() - t0)
        answer = sandbox.run(lambda: _client(sandbox, "speaker").pub_pc.localDescription.sdp)
        offer = sandbox.run(lambda: _client(sandbox, "listener").sub_pc.localDescription.sdp)
    finally:
        feeding.cancel()
        await asyncio.gather(feeding, return_exceptions=True)
        await hears.aclose()
        await speaker.disconnect()
        await listener.disconnect()
    expected = "minptime=10;useinbandfec=1" + (";usedtx=1" if dtx else "")
    assert _opus_fmtp(answer) == [expected]
    assert _opus_fmtp(offer) == [expected]  # the track as its publisher asked for it
    if dtx:
        assert rate < DTX_MAX_PPS, rate
    else:
        assert rate > PLAIN_MIN_PPS, rate


@pytest.mark.asyncio
async def test_a_tone_is_sent_whole_with_dtx_negotiated(sandbox: SandboxThread) -> None:
    """DTX only leaves out silence: a tone still arrives at 50 packets/s."""
    alice = await join(sandbox.url, "alice")
    tone = Publisher(440.0, -20.0)
    try:
        await tone.publish(alice)
        await asyncio.sleep(1.5)
        n0, t0 = _packets_in(sandbox, "alice"), time.monotonic()
        await asyncio.sleep(2.0)
        rate = (_packets_in(sandbox, "alice") - n0) / (time.monotonic() - t0)
    finally:
        await tone.stop()
        await alice.disconnect()
    assert rate > PLAIN_MIN_PPS, rate


def test_features_come_from_the_old_flags_or_the_feature_list() -> None:
    tf = models.AudioTrackFeature
    assert OpusFeatures.of(models.TrackInfo()) == OpusFeatures(dtx=True, stereo=False)
    assert OpusFeatures.of(models.TrackInfo(disable_dtx=True, stereo=True)) == OpusFeatures(
        dtx=False, stereo=True)
    # TF_STEREO is the enum's 0: still counted when listed
    assert OpusFeatures.of(models.TrackInfo(audio_features=[tf.TF_STEREO, tf.TF_NO_DTX])) == (
        OpusFeatures(dtx=False, stereo=True))


@pytest.mark.asyncio
async def test_rewrite_gives_each_m_line_its_tracks_parameters() -> None:
    pc = RTCPeerConnection()
    try:
        for _ in range(3):
            pc.addTransceiver("audio", direction="sendonly")
        pc.createDataChannel("_reliable")
        sdp = (await pc.createOffer()).sdp
    finally:
        await pc.close()
    seen: list[str] = []

    def features(mid: str, msid: str) -> OpusFeatures | None:
        seen.append(mid)
        return {"0": OpusFeatures(dtx=True, stereo=True), "1": OpusFeatures(dtx=False)}.get(mid)

    assert _opus_fmtp(sdp) == []  # aiortc on its own writes no Opus parameters
    rewritten = opus_sdp.rewrite(sdp, features)
    assert seen == ["0", "1", "2"]
    assert _opus_fmtp(rewritten) == [
        "minptime=10;useinbandfec=1;usedtx=1;stereo=1;maxaveragebitrate=510000",
        "minptime=10;useinbandfec=1",
        "minptime=10;useinbandfec=1",  # a track the sandbox does not know: the defaults
    ]
    assert "m=application" in rewritten and "a=sctp-port" in rewritten
