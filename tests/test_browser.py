"""A real browser in the sandbox: headless Chromium running livekit-client from npm.

One room for the module (starting Chromium is the slow part): the browser joins as a web
app would (``/rtc/v1`` first, so the fallback to ``/rtc`` runs through the sandbox's CORS
answers), publishes its fake microphone (a WAV of a 440 Hz tone at -20 dBFS) and a track
of digital silence, and meters every remote track with WebAudio. The console itself (the
``monitor`` command on its own virtual sound card) and a Python SDK participant join it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from console.sandbox.auth import DEV_KEY, DEV_SECRET
from console.sandbox.server import SandboxThread
from tests.browser.room import MIC_PEAK_DBFS, BrowserClient, missing
from tests.sandbox_helpers import Publisher, join, sine_rms_dbfs

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

WEB = "web"
DTX_MAX_PPS = 10.0    # a silent Opus track with DTX: ~2.5-5 packets/s; without: 50
VOICE_MIN_PPS = 40.0  # a sounding one: 50 packets/s (20 ms each)


@dataclass
class WebRoom:
    sandbox: SandboxThread
    client: BrowserClient
    joined: dict[str, Any]
    silence_sid: str


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def web_room() -> AsyncIterator[WebRoom]:
    why = missing()
    if why:
        pytest.fail(why)
    with SandboxThread(port=0) as sandbox:
        client = await BrowserClient().start()
        try:
            joined = await client.join(sandbox.url, WEB)
            silence_sid = await client.eval("lk.publishSilence()")
            yield WebRoom(sandbox, client, joined, silence_sid)
        finally:
            await client.close()
    assert not client.browser.group_alive()


async def _server_rates(sandbox: SandboxThread, identity: str,
                        seconds: float) -> dict[str, float]:
    """Packets/s the sandbox received on each of ``identity``'s tracks (by track name)."""
    def counts() -> dict[str, int]:
        peer = sandbox.server.peer("test", identity)
        return {pub.info.name: pub.fanout.frames_in for pub in peer.published.values()
                if pub.fanout is not None}
    before, t0 = sandbox.run(counts), time.monotonic()
    await asyncio.sleep(seconds)
    after, t1 = sandbox.run(counts), time.monotonic()
    return {name: (after[name] - before.get(name, 0)) / (t1 - t0) for name in after}


async def _browser_rates(client: BrowserClient, seconds: float) -> dict[str, float]:
    """Packets/s the browser received from each remote participant."""
    first = await client.eval("lk.stats()")
    await asyncio.sleep(seconds)
    second = await client.eval("lk.stats()")
    dt = (second["t"] - first["t"]) / 1000.0
    return {who: (s["packetsReceived"] - first["remote"].get(who, {}).get(
                "packetsReceived", 0)) / dt
            for who, s in second["remote"].items() if "packetsReceived" in s}


async def _wait_live(client: BrowserClient, identity: str, timeout: float) -> dict[str, Any]:
    """The first audio track of ``identity`` once the browser plays it live."""
    deadline = time.monotonic() + timeout
    while True:
        for p in await client.eval("lk.remote()"):
            for t in p["tracks"] if p["identity"] == identity else []:
                if t["subscribed"] and t["readyState"] == "live":
                    return dict(t)
        if time.monotonic() > deadline:
            raise AssertionError(f"the browser never played {identity}'s track live\n"
                                 + client.diagnostics())
        await asyncio.sleep(0.1)


async def test_a_browser_joins_through_the_fallback_and_publishes(web_room: WebRoom) -> None:
    logs = await web_room.client.eval("lk.logs()")
    messages = [f"{line['level']}: {line['msg']}" for line in logs]
    # The v1 websocket failed, the SDK read /rtc/v1/validate's 404 (CORS) and fell back.
    assert any("v1 RTC path not found" in m for m in messages), messages
    assert not [m for m in messages if m.startswith("error")], messages
    assert web_room.joined["connectMs"] < 5000, web_room.joined
    assert web_room.joined["audioState"] == "running"
    published = web_room.sandbox.run(
        lambda: {p.info.name: p.fanout is not None
                 for p in web_room.sandbox.server.peer("test", WEB).published.values()})
    assert published == {"": True, "silence": True}  # both tracks' media arrived


async def test_the_browser_sends_dtx_on_silence_and_every_packet_of_a_tone(
        web_room: WebRoom) -> None:
    await asyncio.sleep(1.5)  # the encoder's first seconds of silence send a little more
    rates = await _server_rates(web_room.sandbox, WEB, 3.0)
    assert rates[""] > VOICE_MIN_PPS, rates           # the microphone's tone
    assert rates["silence"] < DTX_MAX_PPS, rates      # about 50 without the sandbox's usedtx
    stats = await web_room.client.eval("lk.stats()")
    for name in ("", "silence"):
        fmtp = stats["local"][name]["fmtp"].split(";")
        assert {"minptime=10", "useinbandfec=1", "usedtx=1"} <= set(fmtp), stats


async def test_the_browser_hears_a_python_sdk_participant_at_its_level(
        web_room: WebRoom) -> None:
    bot = await join(web_room.sandbox.url, "bot")
    tone = Publisher(1000.0, -30.0)
    try:
        await tone.publish(bot)
        await _wait_live(web_room.client, "bot", 15.0)
        await asyncio.sleep(0.5)  # past the first packets and the jitter buffer's start
        await web_room.client.eval("lk.resetLevels()")
        rates = await _browser_rates(web_room.client, 2.0)
        levels = await web_room.client.eval("lk.levels()")
        assert levels["bot"]["seconds"] > 1.5, levels
        assert levels["bot"]["rmsDbfs"] == pytest.approx(sine_rms_dbfs(-30.0), abs=1.0), levels
        assert rates["bot"] > VOICE_MIN_PPS, rates
    finally:
        await tone.stop()
        await bot.disconnect()


async def test_a_visitor_after_another_plays_in_the_browser_on_the_same_m_line(
        web_room: WebRoom) -> None:
    """The sandbox re-uses an idle m-line for the next track, as livekit-server does:
    livekit-client must play the second visitor live at its own level through it."""
    def m_lines() -> list[str]:
        return [t.mid for t in web_room.sandbox.server.peer("test", WEB).sub_pc
                .getTransceivers()]

    lines: list[list[str]] = []
    for who, peak in (("visitor1", -24.0), ("visitor2", -36.0)):
        bot = await join(web_room.sandbox.url, who)
        tone = Publisher(700.0, peak)
        try:
            await tone.publish(bot)
            await _wait_live(web_room.client, who, 15.0)
            await asyncio.sleep(0.5)
            await web_room.client.eval("lk.resetLevels()")
            await asyncio.sleep(1.5)
            levels = await web_room.client.eval("lk.levels()")
            assert levels[who]["rmsDbfs"] == pytest.approx(sine_rms_dbfs(peak), abs=1.0), \
                levels
            lines.append(web_room.sandbox.run(m_lines))
        finally:
            await tone.stop()
            await bot.disconnect()
        deadline = time.monotonic() + 10.0
        while web_room.sandbox.run(
                lambda: web_room.sandbox.server.peer("test", WEB).reusable()) < 1:
            assert time.monotonic() < deadline, "the m-line never became idle"
            await asyncio.sleep(0.1)
    assert lines[0] == lines[1], lines


async def test_the_console_and_the_browser_hear_each_other(web_room: WebRoom) -> None:
    """The console's ``monitor`` hears the browser's tone at its level; the browser plays
    the console's microphone (silent on its virtual card) live, and its DTX shows as a few
    packets a second."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    monitor = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", "monitor", "--virtual-devices", "--json",
        "--url", web_room.sandbox.url, "--api-key", DEV_KEY, "--api-secret", DEV_SECRET,
        "--room", "test", "--identity", "console", "--duration", "10",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        track = await _wait_live(web_room.client, "console", 30.0)
        assert not track["muted"], track
        await asyncio.sleep(1.0)
        rates = await _browser_rates(web_room.client, 3.0)
        out, err = await asyncio.wait_for(monitor.communicate(), 60.0)
    finally:
        if monitor.returncode is None:
            monitor.kill()
            await monitor.wait()
    assert monitor.returncode == 0, err.decode(errors="replace")[-2000:]
    assert rates["console"] < DTX_MAX_PPS, rates
    heard = [p["rms_dbfs"] for line in map(json.loads, out.decode().splitlines())
             if line["t"] >= 3.0 for p in line["participants"] if p["identity"] == WEB]
    assert len(heard) >= 3, out.decode()
    # the monitor's RMS follows AES17: a sine reads its peak level
    assert statistics.median(heard[-4:]) == pytest.approx(MIC_PEAK_DBFS, abs=1.0), heard


async def test_nothing_is_left_running_after_the_browser_closes() -> None:
    """A browser of its own, joined and closed: no process of its group, no page server, and
    the sandbox sees it leave."""
    with SandboxThread(port=0) as sandbox:
        client = await BrowserClient().start()
        try:
            await client.join(sandbox.url, "leaver", single_peer_connection=False)
            assert sandbox.run(sandbox.server.participants, "test") == ["leaver"]
            pid, port = client.browser.pid, client.pages.port
        finally:
            await client.close()
        assert not client.browser.group_alive(), pid
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            pass
        deadline = time.monotonic() + 5.0
        while sandbox.run(sandbox.server.participants, "test") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert sandbox.run(sandbox.server.participants, "test") == []
        assert not client.browser.profile.exists()
