"""``bench output`` and ``bench aec``, run briefly as a user would (subprocesses)."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from functools import partialmethod

import pytest


def _bench(*args: str, timeout: float) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", "console", "bench", *args, "--json",
                          "--virtual-devices"], capture_output=True, text=True,
                         timeout=timeout, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _finite(d: dict[str, object], *keys: str) -> None:
    for key in keys:
        value = d[key]
        assert isinstance(value, (int, float)) and math.isfinite(value), (key, value)


@pytest.mark.audio
def test_output_benchmark_finds_the_clicks_in_both_systems() -> None:
    seconds = 6
    result = _bench("output", "--participants", "3", "--seconds", str(seconds), timeout=120)
    ref = result["reference"]
    assert isinstance(ref, dict)
    for d in (result, ref):
        _finite(d, "latency_ms_p50", "latency_ms_p95", "drift_ms", "cpu_percent",
                "clicks_sent", "clicks_found")
        # A click every 500 ms while clicking, nearly all of them found again.
        assert 2 * seconds - 1 <= d["clicks_sent"] <= 2 * seconds + 1, d["clicks_sent"]
        assert d["clicks_found"] >= 0.8 * d["clicks_sent"]
        assert len(d["latencies_ms"]) == d["clicks_found"]
        assert (0 < d["latency_ms_min"] <= d["latency_ms_p50"] <= d["latency_ms_p95"]
                <= d["latency_ms_max"]), d
        assert abs(d["drift_ms"]) < 100.0, d["drift_ms"]
        assert 0 < d["cpu_percent"] < 200  # a process on 2 cores that did some work
        assert d["added_latency_ms_p50"] == pytest.approx(
            d["latency_ms_p50"] - result["loopback_ms"], abs=0.002)
    _finite(result, "loopback_ms", "p95_ratio_vs_reference")
    assert 0 < result["loopback_ms"] < result["latency_ms_p50"]
    # Ours: 10 ms blocks and a short ring; the reference: 100 ms blocks behind a mixer.
    assert result["latency_ms_p95"] < 400.0, result["latencies_ms"]
    assert ref["latency_ms_p50"] < 2000.0, ref["latencies_ms"]
    assert result["p95_ratio_vs_reference"] == pytest.approx(
        result["latency_ms_p95"] / ref["latency_ms_p95"], abs=0.001)
    # The output device played in real time while the clicks went: 100 frames per second.
    assert 80.0 <= result["output_frames_per_s"] <= 110.0, result["output_frames_per_s"]
    assert result["output_frames_played"] == pytest.approx(100 * seconds, rel=0.2)
    # The reference's block size is measured on its stream's callbacks (livekit's default
    # 100 ms), and they came about that often.
    assert ref["block_ms"] == pytest.approx(100.0), ref
    assert ref["block_callbacks"] == pytest.approx(10 * seconds, rel=0.25), ref
    assert 50.0 <= ref["block_interval_ms_p50"] <= 150.0, ref
    # This VM freezes whole processes for 15-40 ms every few seconds (an idle process sees
    # it too): at most one underrun per channel per such stall. Shorter scheduling delays
    # when other jobs share the 2 cores cost a few more (runs saw 1 and 4 with no freeze
    # counted), so the bound is two a second on top; a path that does not keep up runs dry
    # every few blocks, hundreds in 6 s. The quiet-machine figures: docs/BENCHMARKS.md.
    stalls = result["stalls_ge_15ms"]
    assert result["underruns"] <= stalls * (3 + 1) + 2 * seconds, (result["underruns"], stalls)
    assert result["underruns"] == result["output_underruns"] + result["channel_underruns"]
    # The engine blames on a freeze only underruns that followed a gap in the device's
    # callbacks: never more than it counted, and none without such a gap.
    _finite(result, "underruns_after_host_stall", "host_stalls_seen_by_output")
    assert 0 <= result["underruns_after_host_stall"] <= result["underruns"]
    if result["host_stalls_seen_by_output"] == 0:
        assert result["underruns_after_host_stall"] == 0
    assert result["tracks_playing"] == 3
    assert ref["underruns"] is None and ref["tracks_refused"] == 2
    assert ref["tracks_added"] == 1
    assert result["goals"] == {
        "latency_p95_le_half_of_reference": result["p95_ratio_vs_reference"] <= 0.5,
        "abs_drift_lt_5ms": abs(result["drift_ms"]) < 5.0,
        "zero_underruns": result["underruns"] == 0,
        "zero_underruns_outside_host_stalls": (
            result["underruns"] == result["underruns_after_host_stall"]),
    }


@pytest.mark.audio
def test_the_references_block_size_is_measured(sound_card: object,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """livekit's MediaDevices made to open 20 ms blocks: the figure follows."""
    from livekit import rtc

    from console.bench import output

    monkeypatch.setattr(rtc.MediaDevices, "__init__",
                        partialmethod(rtc.MediaDevices.__init__, blocksize=960))
    ref = output.run_reference(1, 2.0, "lkc_speaker_a", "lkc_mic_a")
    assert ref["block_ms"] == pytest.approx(20.0), ref
    assert ref["block_callbacks"] == pytest.approx(100, rel=0.25), ref
    assert 10.0 <= ref["block_interval_ms_p50"] <= 30.0, ref
    assert ref["clicks_found"] >= 3, ref


@pytest.mark.audio
def test_aec_benchmark_measures_erle_in_both_systems() -> None:
    result = _bench("aec", "--seconds", "7", timeout=120)
    ref = result["reference"]
    internal = result["internal"]
    assert isinstance(ref, dict) and isinstance(internal, dict)
    for d in (result, ref, internal):
        _finite(d, "erle_db_median", "erle_db_worst")
        assert d["windows"] >= 3
        assert d["erle_db_worst"] <= d["erle_db_median"]
    for d in (result, ref):
        windows = d["external_windows_db"]
        assert isinstance(windows, list) and len(windows) == d["windows"]
        assert d["erle_db_median"] == pytest.approx(statistics.median(windows), abs=0.1)
        assert d["erle_db_worst"] == pytest.approx(min(windows), abs=0.1)
        # Both ran, and both cancel the echo: the reference's APM is the same WebRTC AEC.
        assert 0 < d["cpu_percent"] < 200
        assert d["erle_db_median"] > 20.0, windows
    _finite(result, "echo_delay_ms", "cpu_percent", "echo_rms_dbfs", "residual_rms_dbfs")
    # The far end comes back at about its own level (-20 dBFS RMS while active), the same in
    # both runs, and what is left is the ERLE lower.
    assert -30.0 < result["echo_rms_dbfs"] < -10.0
    assert ref["echo_rms_dbfs"] == pytest.approx(result["echo_rms_dbfs"], abs=3.0)
    assert result["residual_rms_dbfs"] < result["echo_rms_dbfs"] - 20.0
    # The echo path: output buffer, PulseAudio, input buffer.
    assert 0 < result["echo_delay_ms"] < 300.0
    # A host stall (see above) can shift the echo path by a few ms and cost one window.
    windows = result["external_windows_db"]
    if result["stalls_ge_15ms"] == 0:
        assert result["erle_db_worst"] > 20.0, windows
    assert sum(w <= 20.0 for w in windows) <= result["stalls_ge_15ms"], windows
    # The chain's own ERLE (before/after its APM) tells the same story.
    assert internal["erle_db_median"] > 20.0, internal
    assert result["goals"] == {"worst_window_ge_30db": result["erle_db_worst"] >= 30.0,
                               "worst_window_ge_60db": result["erle_db_worst"] >= 60.0}
    assert result["freezes"] is None  # none injected unless asked for


@pytest.mark.audio
def test_with_aec_off_the_measured_erle_is_near_0_db(sound_card: object) -> None:
    """The same measurement on our chain with the APM off: nothing is removed, ERLE ~ 0 dB
    (so the figures above come from the canceller, not from the measurement)."""
    from console.bench import aec
    from console.engine.apm import ProcessingConfig

    result = aec.run_ours(6.0, "lkc_speaker_a", "lkc_mic_a", ProcessingConfig.off())
    windows = result["external_windows_db"]
    assert result["windows"] >= 1, result
    assert all(abs(w) < 3.0 for w in windows), windows
    assert result["echo_rms_dbfs"] > -30.0
    assert result["residual_rms_dbfs"] == pytest.approx(result["echo_rms_dbfs"], abs=3.0)
