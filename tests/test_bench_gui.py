"""``bench gui`` on a small room: every figure is measured (the goals are for 32 voices)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

pytestmark = pytest.mark.audio


def test_bench_gui_measures_cpu_display_rate_lag_and_underruns() -> None:
    seconds = 3
    done = subprocess.run([sys.executable, "-m", "console", "bench", "gui", "--participants",
                           "2", "--seconds", str(seconds), "--virtual-devices", "--json",
                           "--floor"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert "error" not in result, result
    assert result["strips"] == 2
    assert 0 < result["join_to_all_strips_s"] < 90
    for key in ("cpu_percent", "display_fps", "ui_lag_ms_p50", "ui_lag_ms_p99"):
        assert math.isfinite(result[key]), key
    assert 0 < result["cpu_percent"] < 200  # the window, the engine, the session: 2 cores
    # The window's 33 ms tick (a coarse Qt timer: 5 % early at most), late on a busy host.
    assert 20 <= result["display_fps"] <= 33, result["display_fps"]
    assert 25 <= result["display_frame_ms_p95"] <= 200, result["display_frame_ms_p95"]
    # The 10 ms timer's lateness (no stalls injected yet): sorted, and not in seconds.
    assert 0 <= result["ui_lag_ms_p50"] <= result["ui_lag_ms_p99"] <= result["ui_lag_ms_max"]
    assert result["ui_lag_ms_p50"] < 50 and result["ui_lag_ms_p99"] < 1000, result
    # The room played on the output device in real time: 100 frames of 10 ms a second.
    assert 80 <= result["output_frames_per_s"] <= 110, result["output_frames_per_s"]
    # 200 ms every 2 s over 10 s.
    assert 4 <= result["stalls_injected"] <= 5, result["stalls_injected"]
    # Audio runs on its own thread: a 200 ms Qt freeze (GIL free) would otherwise cost about
    # 20 frames per channel each time, 200 here. Host freezes of the VM are counted apart; a
    # few more come from the sandbox's voices arriving late on a shared 2-core host (a CI run
    # saw 4), so the bound is a twentieth of what a blocked media thread would lose.
    during = result["underruns_during_ui_stalls"]
    assert 0 <= result["of_which_after_host_stalls"] <= during, result
    assert 0 <= during - result["of_which_after_host_stalls"] <= 10, result
    quiet = result["underruns_without_ui_stalls"]
    assert 0 <= result["of_which_output_ring"] <= quiet, result
    # The per-10-s rates are the counts over each phase's length (seconds, then 10 s).
    assert result["underruns_per_10s_without_ui_stalls"] == pytest.approx(
        10 * quiet / seconds, rel=0.1, abs=0.1)
    assert result["underruns_per_10s_during_ui_stalls"] == pytest.approx(
        during, rel=0.1, abs=0.1)
    for phase in ("without", "during"):
        late15 = result[f"blocks_late_15ms_{phase}_ui_stalls"]
        assert 0 <= result[f"blocks_late_30ms_{phase}_ui_stalls"] <= late15
    # The reference app (livekit's MediaDevices + OutputPlayer) ran in the same room after
    # ours, in its own process, and heard every voice.
    reference = result["reference"]
    assert "error" not in reference, reference
    assert reference["tracks"] == 2
    assert 0 < reference["cpu_percent"] < 200
    assert result["cpu_ratio_vs_reference"] == pytest.approx(
        result["cpu_percent"] / reference["cpu_percent"], abs=0.01)
    # livekit's own threads on each side (its runtime, WebRTC's audio device and encoder):
    # both ran a room, so both have some, and ours are a part of our whole.
    assert 0 < result["livekit_threads_percent"] <= result["cpu_percent"]
    assert 0 < result["reference_livekit_threads_percent"] <= reference["cpu_percent"]
    assert result["livekit_threads_ratio_vs_reference"] == pytest.approx(
        result["livekit_threads_percent"] / reference["cpu_percent"], abs=0.01)
    # The floor (the bare audio job at our block size, no code of ours) ran in the same room
    # too, in its own process: it heard every voice, mixed in real time and published the
    # microphone (frames go one in flight at a time; one still in flight is skipped).
    floor = result["floor"]
    assert "error" not in floor, floor
    assert floor["tracks"] == 2
    assert 0 < floor["cpu_percent"] < 200
    assert 80 <= floor["frames_mixed_per_s"] <= 110, floor
    assert 50 <= floor["frames_sent_per_s"] <= 110, floor
    assert floor["threads_percent"]["portaudio-out"] > 0, floor
    assert result["floor_ratio_vs_reference"] == pytest.approx(
        floor["cpu_percent"] / reference["cpu_percent"], abs=0.01)
    assert result["cpu_ratio_vs_floor"] == pytest.approx(
        result["cpu_percent"] / floor["cpu_percent"], abs=0.01)
    # Each goal is its threshold applied to the figures above.
    assert result["goals"] == {
        "cpu_le_25_percent": result["cpu_percent"] <= 25.0,
        "cpu_le_reference": result["cpu_percent"] <= reference["cpu_percent"],
        "display_ge_30_fps": result["display_fps"] >= 29.5,
        "ui_lag_p99_le_8_ms": result["ui_lag_ms_p99"] <= 8.0,
        "zero_underruns_with_ui_stalls": during == 0,
    }
