"""``bench soak`` in half a minute: voices come and go, and leaving leaves nothing behind.

The real app (offscreen window, engine on the virtual card's server devices, session) in
the local sandbox, the voices in a process of their own; the leftovers are counted from
/proc (threads), the engine (channels), livekit's native streams and the media loop's tasks.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.audio


def test_bench_soak_samples_the_curve_and_leaving_leaves_nothing() -> None:
    done = subprocess.run([sys.executable, "-m", "console", "bench", "soak", "--minutes",
                           "0.5", "--voices", "3", "--period", "10", "--virtual-devices",
                           "--json"], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert "error" not in result, result
    # Waves happened: voices left and came back, with new tracks (new channels).
    assert result["voices"]["waves"] >= 2, result["voices"]
    assert result["channels_seen"] >= 3 + 2, result["channels_seen"]
    curve = result["curve"]
    assert len(curve) >= 3
    assert len({s["channels"] for s in curve}) >= 2, curve  # the room changed under it
    assert all(100 < s["rss_mb"] < 2000 and s["os_threads"] >= s["threads"] for s in curve)
    assert all(s["native_streams"] == s["channels"] for s in curve), curve
    assert 12 <= result["stalls_injected"] <= 16
    # The underruns split: those no stall explains are a part of those outside UI stalls,
    # and the goal is read off the last sample.
    for s in curve:
        assert 0 <= s["underruns_outside_any_stall"] <= s["underruns_outside_ui_stalls"], s
    assert result["goals"]["no_underrun_outside_ui_or_host_stalls"] == (
        curve[-1]["underruns_outside_any_stall"] == 0)
    # What the first stay started for the whole process is listed apart (livekit's runtime).
    left = result["leftovers_after_leaving"]
    assert any(name.startswith("tokio") for name in left["process_wide_threads_started"])
    assert left["threads"] == [] and left["channels"] == 0, left
    assert left["native_streams"] == 0 and left["media_loop_tasks"] == [], left
    assert result["goals"]["nothing_left_over"] is True
    assert 0.0 <= result["leftovers_gone_after_s"] < 5.0  # read until gone, not once
    assert result["rss_mb_at_minute_2"] is None  # not reached: no growth claimed
