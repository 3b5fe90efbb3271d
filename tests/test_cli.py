"""The command line, run as a user would run it (subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from console import __version__


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_version_and_help() -> None:
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"livekit-console {__version__}"
    helped = _run("--help")
    assert helped.returncode == 0
    for word in ("devices", "bench capture", "--virtual-devices", "--input-device"):
        assert word in helped.stdout


@pytest.mark.audio
def test_devices_json_on_a_private_virtual_card() -> None:
    out = _run("devices", "--json", "--virtual-devices")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    names = {d["name"] for d in listed}
    assert {"lkc_mic_a", "lkc_speaker_a"} <= names
    assert all({"index", "hostapi", "max_input_channels", "default_samplerate",
                "is_default_input"} <= d.keys() for d in listed)


@pytest.mark.audio
def test_capture_benchmark_prints_figures() -> None:
    out = _run("bench", "capture", "--seconds", "1.5", "--toggles", "10", "--json",
               "--floor", "--virtual-devices", timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["frames_captured"] > 100
    assert result["frames_lost_across_toggles"] == 0
    assert result["apm_toggles"] == 10
    assert 0 < result["latency_ms_p95"] < result["reference"]["latency_ms_p95"]
    assert result["reference"]["block_ms"] == 100.0
    # both sides measured in the same run, and compared (issue 18's CPU goal)
    assert result["cpu_ratio_vs_reference"] == pytest.approx(
        result["cpu_percent"] / result["reference"]["cpu_percent"], abs=0.001)
    assert result["goals"]["cpu_le_reference"] == (result["cpu_ratio_vs_reference"] <= 1.0)
    # The bare path ran at both read sizes, in real time, every read handed over.
    floor = result["floor"]
    assert set(floor) == {"read_10ms", "read_100ms"}
    for name, bare in floor.items():
        assert 120 <= bare["frames"] <= 180, (name, bare)  # 1.5 s of 10 ms frames
        assert bare["reads_not_sent"] == 0, (name, bare)
        assert bare["cpu_percent"] > 0, (name, bare)


@pytest.mark.audio
def test_unknown_device_gives_one_line_error_not_a_traceback() -> None:
    out = _run("bench", "capture", "--input", "no such mic", "--seconds", "0.5",
               "--virtual-devices")
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("livekit-console:")]
    assert lines == [lines[0]] and "no input device named 'no such mic'" in lines[0]
    assert "lkc_mic_a" in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.audio
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_app_starts_and_quits_cleanly_on_a_signal(sig, tmp_path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "console", "--virtual-devices",
                             "--input-device", "lkc_mic_a"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5.0)  # the card settles (2.5 s), the window comes up
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    children = _pulse_children(proc.pid)
    assert children, "the app should run its own PulseAudio daemon"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    # Settings were remembered in the user's config folder, not in the card's private HOME.
    stored = list(tmp_path.rglob("*.conf")) + list(tmp_path.rglob("*.ini"))
    assert stored, "the window's settings should be saved under XDG_CONFIG_HOME"


def _pulse_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "pulseaudio"], capture_output=True,
                         text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except FileNotFoundError:
        return True
