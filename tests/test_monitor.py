"""``livekit-console monitor`` as a user or a CI job runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _monitor(*args: str, timeout: float = 90.0,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "console", "monitor", *args],
                          capture_output=True, text=True, timeout=timeout, env=clean)


@pytest.mark.audio
def test_with_no_url_it_watches_the_local_sandbox() -> None:
    done = _monitor("--virtual-devices", "--voices", "3", "--duration", "4", "--json",
                    "--no-aec", "--no-ns", "--no-agc", "--no-hpf")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert 3 <= len(lines) <= 5
    last = lines[-1]
    assert last["state"] == "connected" and last["room"] == "demo"
    assert last["mic"]["published"] is True
    people = {p["identity"]: p for p in last["participants"]}
    assert set(people) == {"tone-440", "speech-loud", "clipper"}
    assert people["tone-440"]["rms_dbfs"] == pytest.approx(-20.0, abs=1.0)
    assert people["clipper"]["peak_dbfs"] > -0.5
    assert all(p["underruns"] >= 0 and p["queue_ms"] >= 0 for p in people.values())
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
        "livekit-console monitor: cannot reach 127.0.0.1:1: connection refused "
        "(is the server running?)")
    assert "Traceback" not in done.stderr
