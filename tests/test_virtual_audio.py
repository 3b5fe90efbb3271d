"""The virtual sound card itself: it starts, it is private, and it never outlives its owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.process_helpers import alive, gone_within

pytestmark = pytest.mark.audio

OWNER = """
import os, signal, sys
from console.virtual_audio import VirtualSoundCard
card = VirtualSoundCard(settle_s=0.1)
card.start()
print(card._pid, card.env["XDG_RUNTIME_DIR"], flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)  # die without any cleanup
"""


def test_a_killed_owner_leaves_no_daemon_behind() -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None and owner.stdin is not None
    pid_text, runtime = owner.stdout.readline().split()
    pid = int(pid_text)
    assert alive(pid)
    owner.stdin.write("\n")
    owner.stdin.flush()
    assert owner.wait(10) == -signal.SIGKILL
    assert gone_within(pid, 5), "the PulseAudio daemon outlived the process that started it"
    assert runtime.startswith("/tmp/") or runtime.startswith(os.environ.get("TMPDIR", "/tmp"))


def test_stop_removes_the_daemon_and_its_files() -> None:
    from console.virtual_audio import VirtualSoundCard

    card = VirtualSoundCard(settle_s=0.1)
    card.start()
    pid = card._pid
    root = card.env["HOME"].rsplit("/", 1)[0]
    assert pid is not None and alive(pid) and os.path.isdir(root)
    card.stop()
    assert not alive(pid)
    assert not os.path.exists(root)
    card.stop()  # twice is fine


def test_apply_keeps_the_users_config_folder(tmp_path) -> None:
    from console.virtual_audio import VirtualSoundCard

    card = VirtualSoundCard(settle_s=0.1)
    card.start()
    try:
        environ = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
        card.apply(environ)
        assert environ["XDG_CONFIG_HOME"] == str(tmp_path / ".config")
        assert environ["HOME"] == card.env["HOME"] != str(tmp_path)
        assert environ["PULSE_SERVER"].startswith("unix:")
        mine = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": "/somewhere/else"}
        card.apply(mine)
        assert mine["XDG_CONFIG_HOME"] == "/somewhere/else"
    finally:
        card.stop()
