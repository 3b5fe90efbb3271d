"""``livekit-console monitor`` as a user or a CI job runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from console.engine.channel import ChannelStats
from console.engine.meter import FLOOR_DB, LevelMeter
from console.session.model import ConnState, ParticipantView, SessionSnapshot, TrackView
from console.session.monitor import report
from tests.audio_helpers import playing, sine

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

BURST_DBFS = -6.0
BURST_S = 0.05


def _monitor(*args: str, timeout: float = 90.0,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "console", "monitor", *args],
                          capture_output=True, text=True, timeout=timeout, env=clean)


@pytest.mark.audio
def test_with_no_url_it_watches_the_local_sandbox() -> None:
    done = _monitor("--virtual-devices", "--voices", "3", "--duration", "6", "--json",
                    "--no-aec", "--no-ns", "--no-agc", "--no-hpf")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert 5 <= len(lines) <= 7
    last = lines[-1]
    assert last["state"] == "connected" and last["room"] == "demo"
    walls = [line["wall"] for line in lines]
    assert walls == sorted(walls) and abs(walls[-1] - time.time()) < 30
    assert all(line["agent_events"] == [] and line["transcript"] == [] for line in lines)
    assert last["mic"]["published"] is True
    people = {p["identity"]: p for p in last["participants"]}
    assert set(people) == {"tone-440", "speech-loud", "clipper"}
    assert people["tone-440"]["rms_dbfs"] == pytest.approx(-20.0, abs=1.0)
    assert people["clipper"]["peak_dbfs"] > -0.5
    assert all(p["underruns"] >= 0 and p["queue_ms"] >= 0 for p in people.values())
    # The stats (refreshed every 2 s): the sandbox's voices send a packet every 20 ms.
    assert people["tone-440"]["packets_per_s"] == pytest.approx(50.0, abs=5.0)
    assert 0.0 <= people["tone-440"]["concealed_percent"] <= 100.0
    assert all(p["agent_state"] is None for p in people.values())  # no agent among them
    assert "Traceback" not in done.stderr


def test_bad_input_fails_before_joining_with_one_line() -> None:
    done = _monitor("--url", "localhost:7880", "--token", "x", "--duration", "1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "livekit-console monitor: malformed URL 'localhost:7880': expected ws://host:port "
        "or wss://host"]


@pytest.mark.audio
def test_an_unreachable_server_fails_with_one_line() -> None:
    done = _monitor("--virtual-devices", "--url", "ws://127.0.0.1:1", "--api-key", "k",
                    "--api-secret", "s", "--duration", "2", "--no-publish",
                    env={"LIVEKIT_URL": "ws://ignored:1"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "livekit-console monitor: ws://127.0.0.1:1 refused the connection")
    assert "Traceback" not in done.stderr


def _burst_then_silence(meter: LevelMeter, silence_s: float) -> None:
    burst = sine(BURST_DBFS, 1000.0)
    for i in range(round(BURST_S * 100)):
        meter.process(burst(480 * i, 480))
    for _ in range(round(silence_s * 100)):
        meter.process(np.zeros(480, dtype=np.int16))


def test_a_line_shows_the_held_peak_of_a_burst_not_the_last_frames() -> None:
    """Half a second after a 50 ms burst the last frame (and the 300 ms RMS) read the floor;
    the line reports the burst's peak, held as the window's meters hold it."""
    mic, voice = LevelMeter(), LevelMeter()
    _burst_then_silence(mic, 0.5)
    _burst_then_silence(voice, 0.5)
    assert mic.snapshot().peak_db == FLOOR_DB and mic.snapshot().rms_db == FLOOR_DB
    bot = ParticipantView("bot", "Bot", "PA_1",
                          tracks=(TrackView("TR_1", "mic", False, channel_key="bot/TR_1"),))
    stats = ChannelStats(key="bot/TR_1", label="Bot", muted=False, gain_db=0.0,
                         meter=voice.snapshot(), stream_queue_ms=10.0, channel_queue_ms=20.0,
                         frames_received=55, underruns=0, frames_dropped=0, samples_dropped=0,
                         samples_inserted=0, ended=False)
    snap = SessionSnapshot(state=ConnState.CONNECTED, room="demo", participants=(bot,))
    line = report(snap, 1.0, mic.snapshot(), {stats.key: stats}, None)
    person = line["participants"][0]
    for levels in (line["mic"], person):
        assert levels["peak_dbfs"] == pytest.approx(BURST_DBFS, abs=0.1), line
        assert levels["rms_dbfs"] == FLOOR_DB, line


@pytest.mark.audio
def test_a_burst_between_two_lines_shows_in_the_next_ones(sound_card: object) -> None:
    """A 50 ms burst on the monitor's microphone (the test's virtual card) just after a line:
    the next line shows its peak, the one after that shows it falling, while the mic's RMS
    (300 ms) is back at the floor: so was every frame peak."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "monitor", "--input-device", "lkc_mic_a",
         "--voices", "1", "--duration", "4", "--json", "--no-publish",
         "--no-aec", "--no-ns", "--no-agc", "--no-hpf"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean)
    assert proc.stdout is not None
    lines: list[dict[str, object]] = []
    try:
        lines.append(json.loads(proc.stdout.readline() or "null"))
        assert lines[0] is not None, proc.stderr.read() if proc.poll() is not None else ""
        burst = sine(BURST_DBFS, 1000.0)
        n = round(BURST_S * 48000)

        def once(start: int, count: int) -> np.ndarray:
            out = burst(start, count)
            out[max(0, n - start):] = 0
            return out

        with playing("lkc_speaker_a", once):
            time.sleep(0.15)
        lines.extend(json.loads(line) for line in proc.stdout)
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(lines) >= 3, lines
    mics = [line["mic"] for line in lines]
    assert isinstance(mics[0], dict) and isinstance(mics[1], dict) and isinstance(mics[2], dict)
    assert mics[0]["peak_dbfs"] == FLOOR_DB, mics  # before the burst: silence
    assert mics[1]["peak_dbfs"] == pytest.approx(BURST_DBFS, abs=1.5), mics
    assert BURST_DBFS - 30 < mics[2]["peak_dbfs"] < mics[1]["peak_dbfs"] - 3, mics
    assert mics[2]["rms_dbfs"] == FLOOR_DB, mics
