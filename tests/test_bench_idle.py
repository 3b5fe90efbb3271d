"""``bench idle`` on short states: every state measured, livekit's pieces beside the room."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.audio


def test_bench_idle_measures_each_state_and_the_rooms_floor() -> None:
    done = subprocess.run([sys.executable, "-m", "console", "bench", "idle", "--seconds", "2",
                           "--settle", "1", "--virtual-devices", "--json"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    for state in ("shown", "minimised", "hidden", "room"):
        assert 0 <= result[state]["cpu_percent"] < 200, (state, result[state])
    # In the room the microphone is sent and the agent heard: the microphone's thread works,
    # and livekit's runtime runs, which it does not out of a room.
    room = result["room"]["threads_percent"]
    assert room.get("pulse-in", 0) > 0, room
    assert result["room"]["cpu_percent"] > result["hidden"]["cpu_percent"]
    # livekit's own pieces joined the same room after ours and heard its one participant.
    reference = result["room_reference"]
    assert "error" not in reference, reference
    assert reference["tracks"] == 1
    assert result["room_ratio_vs_reference"] == pytest.approx(
        result["room"]["cpu_percent"] / reference["cpu_percent"], abs=0.01)
    assert 0 < result["room_livekit_threads_percent"] <= result["room"]["cpu_percent"]
    assert result["room_livekit_threads_ratio_vs_reference"] == pytest.approx(
        result["room_livekit_threads_percent"] / reference["cpu_percent"], abs=0.01)
    assert result["goals"] == {
        "shown_le_3_percent": result["shown"]["cpu_percent"] <= 3,
        "minimised_le_1_percent": result["minimised"]["cpu_percent"] <= 1,
        "hidden_le_1_percent": result["hidden"]["cpu_percent"] <= 1,
        "room_le_15_percent": result["room"]["cpu_percent"] <= 15,
    }
