"""``livekit-console sandbox`` as a user runs it: a process with demo voices, then Ctrl+C."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from console.bench.sandbox import _free_port
from tests.sandbox_helpers import Listener, join, peak_hz, rms_dbfs, sine_rms_dbfs, wait_for

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(params=["server", "sdk"])
def sandbox_process(request: pytest.FixtureRequest
                    ) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Voices played by the server (the default), or joined as SDK clients."""
    port = _free_port()
    kind = ["--sdk-voices"] if request.param == "sdk" else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "sandbox", "--port", str(port), "--voices", "5",
         "--room", "demo", *kind],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the voices are in the room
        assert f"ws://127.0.0.1:{port}" in line, line
        yield proc, f"ws://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.asyncio
async def test_demo_voices_send_what_they_promise(
        sandbox_process: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = sandbox_process
    me = await join(url, "viewer", room="demo")
    hears = Listener(me)
    muted: list[bool] = []
    me.on("track_muted", lambda p, t: muted.append(True) if p.identity == "blinker" else None)
    me.on("track_unmuted", lambda p, t: muted.append(False) if p.identity == "blinker" else None)
    try:
        assert set(me.remote_participants) == {"tone-440", "speech-loud", "clipper", "silent",
                                               "blinker"}
        for who in ("tone-440", "clipper", "silent"):
            await hears.wait_subscribed(who)
        await asyncio.sleep(1.0)
        for who in ("tone-440", "clipper", "silent", "speech-loud"):
            hears.clear(who)
        await asyncio.sleep(1.5)
        got = {who: np.concatenate(hears.samples[who]) for who in
               ("tone-440", "clipper", "silent", "speech-loud")}
        assert rms_dbfs(got["tone-440"]) == pytest.approx(sine_rms_dbfs(-20.0), abs=1.0)
        assert peak_hz(got["tone-440"]) == pytest.approx(440.0, abs=3.0)
        assert int(np.abs(got["clipper"].astype(np.int32)).max()) >= 32000
        assert rms_dbfs(got["silent"]) < -80
        assert rms_dbfs(got["speech-loud"]) > -40
        await wait_for(lambda: True in muted, 8.0)  # blinker mutes every 3 s
    finally:
        await hears.aclose()
        await me.disconnect()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0


def test_real_without_a_livekit_server_binary_says_so() -> None:
    env = dict(os.environ)
    if shutil.which("livekit-server", path=env.get("PATH")):
        pytest.skip("a livekit-server binary is installed here")
    done = subprocess.run([sys.executable, "-m", "console", "sandbox", "--real",
                           "--port", str(_free_port())],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert "--real needs a livekit-server binary on PATH" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_port_gives_one_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "console", "sandbox", "--port", str(port),
                               "--voices", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.audio  # a sandbox with voices joining its room
def test_a_stop_while_voices_are_still_joining_ends_it_at_once() -> None:
    """SIGTERM before the voices are all in (a start that may never finish on a busy machine)."""
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "sandbox", "--port", str(_free_port()),
         "--voices", "12", "--room", "demo", "--sdk-voices"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)  # the server listens and the first voices are joining (~4 s for 12)
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-500:]
    assert "ws://" not in out  # it never claimed to be ready
    assert took < 5.0, took
    # (the SDK may log its own callback errors for the joins cut short; none of ours)
    assert "console/" not in err, err[-800:]
