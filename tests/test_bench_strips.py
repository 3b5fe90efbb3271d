"""``bench strips``: fifty strips are updated, scrolled through and painted; figures given."""

from __future__ import annotations

import json
import math
import subprocess
import sys


def test_bench_strips_scrolls_through_fifty_live_strips() -> None:
    done = subprocess.run([sys.executable, "-m", "console", "bench", "strips", "--strips", "50",
                           "--seconds", "3", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["strips"] == 50
    # The scroll reached the end of the list and came back: every strip was on screen.
    assert result["scroll_ends_reached"] >= 1
    assert result["deepest_strip_scrolled_to"] >= 30
    for key in ("tick_ms_p50", "tick_ms_p95", "display_fps", "ui_lag_ms_p99", "cpu_percent"):
        assert math.isfinite(result[key]), key
    assert 0 < result["tick_ms_p50"] <= result["tick_ms_p95"] <= result["tick_ms_max"]
    assert 20 <= result["display_fps"] <= 40  # the 30 Hz display tick
    # guest-00 talks (-50..-10 dBFS RMS): its strip's meter shows what it was fed.
    assert -50.5 <= result["first_strip_rms_db"] <= -9.5
