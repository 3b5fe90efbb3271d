"""``bench gui --transcript-flood`` on a small room: both phases are measured, and the flood
(sent by an agent in a child process) reaches the window. No timing bounds: the figures
themselves are what the benchmark reports."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

pytestmark = pytest.mark.audio

PHASE_FIGURES = ("underruns", "underruns_channels", "underruns_output_ring",
                 "of_which_after_host_stalls", "host_stalls", "blocks_late_15ms",
                 "blocks_late_30ms", "output_frames_per_s", "ui_lag_ms_p50", "ui_lag_ms_p99",
                 "ui_lag_ms_max", "display_fps", "display_frame_ms_p95", "cpu_percent",
                 "transcript_versions_seen", "transcript_redraws",
                 "transcript_rewritten_lines")


def test_bench_gui_transcript_flood_measures_both_phases() -> None:
    seconds, rate = 3, 100
    done = subprocess.run([sys.executable, "-m", "console", "bench", "gui", "--participants",
                           "2", "--seconds", str(seconds), "--transcript-flood", str(rate),
                           "--virtual-devices", "--json"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert "error" not in result, result
    assert result["strips"] == 3  # two voices and the flooding agent
    flood = result["transcript_flood"]
    assert "error" not in flood, flood
    assert flood["senders"] == 1 and flood["failed"] == 0
    # Paced at the rate for the phase: about rate x seconds updates, one final per segment.
    assert 0.5 * rate * seconds <= flood["updates_sent"] <= rate * seconds + 1, flood
    assert flood["of_which_final"] == flood["segments"] >= seconds, flood
    without, with_ = result["without_flood"], result["with_flood"]
    for phase in (without, with_):
        for key in PHASE_FIGURES:
            assert math.isfinite(phase[key]) and phase[key] >= 0, (key, phase)
        assert phase["ui_lag_ms_p50"] <= phase["ui_lag_ms_p99"] <= phase["ui_lag_ms_max"]
        assert phase["underruns"] == (phase["underruns_channels"]
                                      + phase["underruns_output_ring"])
        assert phase["of_which_after_host_stalls"] <= phase["underruns"]
        assert phase["blocks_late_30ms"] <= phase["blocks_late_15ms"]
        assert phase["output_frames_per_s"] > 0  # the room played throughout
        # The pane is redrawn at most once per display tick.
        assert phase["transcript_redraws"] <= phase["display_fps"] * phase["seconds"] + 1
    # Nothing was sent before the flood: the window saw no transcript at all.
    assert without["transcript_versions_seen"] == without["transcript_redraws"] == 0
    assert without["transcript_rewritten_lines"] == 0
    assert math.isnan(without["transcript_shown_age_ms_p50"])
    # The flood reached the window: one version per interim update (two per final one),
    # fewer only where an update overtook an older one of its segment (the older is stale).
    seen = with_["transcript_versions_seen"]
    most = flood["updates_sent"] + flood["of_which_final"]
    assert 0.5 * flood["updates_sent"] <= seen <= result["transcript_versions_after_drain"]
    assert result["transcript_versions_after_drain"] <= most, result
    # Coalesced at the display rate: many updates per redraw, and each redraw rewrote only
    # the tail (the growing segment, and a new one's first line), never the whole pane.
    assert 0 < with_["transcript_redraws"] < seen
    assert with_["transcript_redraws"] <= with_["transcript_rewritten_lines"]
    assert with_["transcript_rewritten_lines"] <= 2 * with_["transcript_redraws"]
    assert 0 <= with_["transcript_shown_age_ms_p50"] <= with_["transcript_shown_age_ms_p99"]
    # Each goal is its threshold applied to the figures above.
    assert result["goals"] == {
        "flood_rate_reached": flood["achieved_per_s"] >= 0.95 * rate,
        "zero_underruns_with_flood": with_["underruns"] == 0,
        "ui_lag_p99_with_flood_le_without": with_["ui_lag_ms_p99"] <= without["ui_lag_ms_p99"],
        "ui_lag_p99_le_8_ms_with_flood": with_["ui_lag_ms_p99"] <= 8.0,
    }
