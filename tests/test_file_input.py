"""A recording in place of the microphone (``monitor --input-file``): read, resampled,
played in real time through the engine's own capture chain on the virtual card."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from console.engine.devices import DeviceError
from console.engine.file_input import FileInputStream, read_audio
from console.engine.format import FRAME, SAMPLE_RATE
from tests.audio_helpers import running_engine, wait_until


def tone(path: Path, dbfs: float, hz: float, seconds: float, rate: int = SAMPLE_RATE,
         channels: int = 1) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    x = 10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t)
    soundfile.write(str(path), np.repeat(x[:, None], channels, axis=1), rate, subtype="PCM_16")
    return path


def test_a_recording_is_read_as_48_khz_mono(tmp_path: Path) -> None:
    pcm = read_audio(tone(tmp_path / "cd.wav", -6.0, 1000.0, 1.0, rate=44100, channels=2))
    assert pcm.dtype == np.int16 and abs(len(pcm) - SAMPLE_RATE) <= 1
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    assert np.argmax(spectrum) * SAMPLE_RATE / len(pcm) == pytest.approx(1000.0, abs=2.0)
    peak = np.abs(pcm[1000:-1000]).max() / 32767
    assert 20 * np.log10(peak) == pytest.approx(-6.0, abs=0.2)


def test_a_file_that_is_not_audio_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(DeviceError, match=r"cannot read .*notes\.txt"):
        read_audio(bad)
    with pytest.raises(DeviceError, match="cannot read"):
        read_audio(tmp_path / "missing.wav")


def test_the_stream_plays_the_recording_then_silence_or_again() -> None:
    samples = np.arange(1, FRAME * 2 + 101, dtype=np.int16)  # two blocks and a bit
    once = FileInputStream(samples, lambda *a: None)
    blocks = [once.next_block()[:, 0] for _ in range(4)]
    played = np.concatenate(blocks)
    assert np.array_equal(played[:len(samples)], samples) and not played[len(samples):].any()
    assert once.ended
    looped = FileInputStream(samples, lambda *a: None, loop=True)
    played = np.concatenate([looped.next_block()[:, 0] for _ in range(6)])
    assert np.array_equal(played[len(samples):2 * len(samples)], samples)
    assert not looped.ended


def test_it_calls_back_in_real_time() -> None:
    calls: list[float] = []
    stream = FileInputStream(np.ones(FRAME * 500, dtype=np.int16),
                             lambda data, frames, *_: calls.append(time.monotonic()))
    stream.start()
    time.sleep(1.0)
    stream.close()
    assert not stream.active
    assert 85 <= len(calls) <= 110  # 100 blocks of 10 ms a second, on a busy host too


@pytest.fixture
def engine(sound_card: object) -> Iterator[Any]:
    with running_engine("lkc_mic_a") as eng:
        yield eng


@pytest.mark.audio
def test_the_engine_sends_the_recording_through_its_own_chain(engine: Any,
                                                              tmp_path: Path) -> None:
    from console.engine.mic_state import MicStatus

    path = tone(tmp_path / "user.wav", -20.0, 440.0, 1.5)
    dev = engine.set_input_file(path)
    assert dev.name == "file:user.wav"
    assert wait_until(lambda: engine.mic_meters().heard.rms_db > -21.0, 2.0)
    assert engine.mic_meters().sent.rms_db == pytest.approx(-20.0, abs=0.5)  # AES17 RMS
    state = engine.mic_state()
    assert (state.status, state.device, state.missing) == (MicStatus.LIVE, "file:user.wav",
                                                           None)
    engine.refresh_devices()  # re-reading PortAudio's list leaves a recording playing
    assert engine.capture_stats().device == "file:user.wav"
    # At its end, the "microphone" falls silent and stays live (no fallback, no error).
    assert wait_until(lambda: engine.mic_meters().heard.rms_db < -90.0, 3.0)
    assert engine.mic_state().status is MicStatus.LIVE
    assert engine.capture_stats().device_error is None


@pytest.mark.audio
def test_monitor_publishes_the_recording(tmp_path: Path) -> None:
    path = tone(tmp_path / "user.wav", -20.0, 440.0, 0.5)
    done = subprocess.run(
        [sys.executable, "-m", "console", "monitor", "--virtual-devices", "--voices", "0",
         "--input-file", str(path), "--loop", "--duration", "3", "--json", "--no-aec",
         "--no-ns", "--no-agc", "--no-hpf"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    last = json.loads(done.stdout.splitlines()[-1])
    assert last["mic"]["published"] is True
    assert last["mic"]["rms_dbfs"] == pytest.approx(-20.0, abs=1.0)  # looped: still playing
    bad = subprocess.run([sys.executable, "-m", "console", "monitor", "--virtual-devices",
                          "--voices", "0", "--input-file", str(tmp_path / "nope.wav"),
                          "--duration", "1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "cannot read" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.audio
def test_a_ci_job_holds_a_conversation_with_the_agent(tmp_path: Path) -> None:
    """The issue's use: a scripted user, the sandbox's agent dispatched by name, and monitor
    ending by itself once the agent answered (exit 0), the turn and transcript in its JSON."""
    t = np.arange(int(1.2 * SAMPLE_RATE)) / SAMPLE_RATE
    speech = 10 ** (-20 / 20) * np.sin(2 * np.pi * 300.0 * t) * (1 + np.sin(2 * np.pi * 4 * t)) / 2
    path = tmp_path / "user.wav"
    soundfile.write(str(path), np.concatenate([speech, np.zeros(SAMPLE_RATE * 3)]),
                    SAMPLE_RATE, subtype="PCM_16")
    done = subprocess.run(
        [sys.executable, "-m", "console", "monitor", "--virtual-devices", "--voices", "0",
         "--agent", "helper", "--input-file", str(path), "--until-turns", "1",
         "--duration", "40", "--json"], capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[-1]["t"] < 39.0, "it ended on the turn, not on --duration"
    turns = [turn for line in lines for turn in line["turns"]]
    assert len(turns) == 1 and turns[0]["agent"].startswith("agent-")
    assert 500 < turns[0]["latency_ms"] < 5000, turns  # endpointing 0.5 s + thinking 0.6 s
    assert turns[0]["interrupted"] is False
    assert lines[-1]["turn_latency_ms"]["n"] == 1
    said = [seg for line in lines for seg in line["transcript"]]
    assert any(seg["identity"].startswith("agent-") for seg in said)  # its reply, final
    states = [e["state"] for line in lines for e in line["agent_events"]]
    assert "thinking" in states and "speaking" in states


@pytest.mark.audio
def test_echo_cancellation_leaves_a_recording_whole_while_the_room_plays(
        sound_card: object, tmp_path: Path) -> None:
    """A recording hears no speaker: what we play is no echo in it. With the echo reference
    fed, the canceller damped the user's speech over an agent's reply (seen as an
    interruption the sandbox agent never heard)."""
    from console.engine.apm import ProcessingConfig
    from console.signals import speech_like

    # The user: steady noise at -20 dBFS, so every 100 ms of it should be sent as it is.
    noise = np.random.default_rng(3).standard_normal(6 * SAMPLE_RATE) * 0.1
    path = tmp_path / "user.wav"
    soundfile.write(str(path), noise.astype(np.float32), SAMPLE_RATE)
    processing = ProcessingConfig(echo_cancellation=True, noise_suppression=False,
                                  auto_gain_control=False, high_pass_filter=False)
    with running_engine("lkc_mic_a", processing=processing,
                        output_device="lkc_speaker_b") as eng:
        sent: list[np.ndarray[Any, Any]] = []
        eng.set_input_file(path, loop=True)
        time.sleep(1.0)
        eng.chain.add_sent_tap(lambda x, _t: sent.append(x.copy()))
        # The far end talks over the user (an agent's reply through the output mixer).
        eng._mixer.play_cue(speech_like(4.0, -12.0, seed=2).astype(np.float32))
        time.sleep(4.0)
        played = list(sent)
    assert len(played) > 350, len(played)
    y = np.concatenate(played[:len(played) // 10 * 10]).astype(np.float64)
    y = y.reshape(-1, 10 * FRAME) / 32768.0
    level = 10 * np.log10(np.mean(y * y, axis=1) + 1e-12)
    # Steady as the noise is (the level the chain sends it at, whatever the canceller's
    # fixed share): no 100 ms dips while the far end talks (-52 dBFS before).
    assert -26.0 < np.median(level) < -17.0, np.median(level)
    assert np.min(level) > np.median(level) - 3.0, np.round(np.sort(level)[:10], 1)
