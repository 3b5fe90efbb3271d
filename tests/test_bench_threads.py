"""Which threads count as livekit's own when a benchmark shows the floor under its goal."""

from __future__ import annotations

from console.bench.threads import livekit_percent


def test_livekit_threads_are_told_from_ours_by_name() -> None:
    """Shares as /proc names them (cut at 15 characters) in a ``bench gui`` run at 32 voices.
    Our ``livekit-buffer-reaper`` starts like livekit's ``livekit-audio`` but is ours."""
    shares = {"python": 15.9, "tokio-rt-worker": 9.6, "media": 8.1, "SyntheticAudioD": 7.2,
              "worker_thread 0": 3.0, "network_thread ": 2.4, "room": 1.7,
              "AudioEncoderQue": 1.6, "livekit-audio": 1.3, "threaded-ml": 1.2,
              "livekit-buffer-": 0.9, "AudioSourceCapt": 0.4, "signaling_threa": 0.1}
    assert livekit_percent(shares) == round(9.6 + 7.2 + 3.0 + 2.4 + 1.6 + 1.3 + 0.4 + 0.1, 1)
    assert livekit_percent({"python": 3.0, "media": 1.0}) == 0.0
