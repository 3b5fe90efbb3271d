"""A microphone on the sound server's list, unplugged while in use, again and again, on a
busy machine (issue 17): the engine falls back to the default each time, and no native
thread is left behind.

Through PortAudio's ``pulse`` device this left PortAudio 19.6's ALSA thread spinning for
ever within a cycle or two (a core, millions of "capture.ready" lines on stderr, an abort
that never returned); the sound server's devices now get libpulse streams of our own
(``console/engine/pulse_stream.py``). Real parts: the virtual card's daemon, the engine in
a child process (``tests/engine_child.py``: a spin burns it, not the test run, and its
stderr is counted), two busy loops as the load. Both ways a server treats the streams of
a device that goes away: killed (the card's own setting) and moved to the default
(PulseAudio's module-rescue-streams, PipeWire).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

pytestmark = pytest.mark.audio

HEADSET = "usb_headset_test"
MIC = HEADSET + "_mic"
CYCLES = 6
REPO = Path(__file__).resolve().parent.parent


class Child:
    """The engine child: lines out through a queue, stderr counted (not kept)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.engine_child", "lkc_mic_a", "lkc_speaker_a",
             "pulse"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines: queue.Queue[str] = queue.Queue()
        self.err_bytes = 0
        self.err_native = 0       # lines from PortAudio's ALSA code
        self.err_head: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._read_out, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._read_err, args=(self.proc.stderr,), daemon=True).start()

    def _read_out(self, out: IO[str]) -> None:
        for line in out:
            self.lines.put(line.strip())

    def _read_err(self, err: IO[str]) -> None:
        for line in err:
            self.err_bytes += len(line)
            if "pa_linux_alsa" in line:
                self.err_native += 1
            if len(self.err_head) < 20:
                self.err_head.append(line.rstrip())

    def ask(self, command: str, timeout: float = 10.0) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.answer(timeout)

    def answer(self, timeout: float = 10.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the child did not answer in {timeout} s; stderr: "
                                 f"{self.err_head}") from None

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def busy(n: int) -> Iterator[None]:
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in loops:
            p.kill()
            p.wait()


@pytest.mark.parametrize("rescue", [False, True], ids=["killed", "moved"])
def test_a_microphone_unplugged_in_use_again_and_again_on_a_busy_machine(
        sound_card: Any, rescue: bool) -> None:
    server = sound_card.rescuing() if rescue else contextlib.nullcontext()
    child = Child()
    try:
        assert child.answer(30.0) == "ready"
        with busy(2), server:
            for cycle in range(CYCLES):
                plugged = sound_card.plug_headset(HEADSET, "USB Headset Test")
                time.sleep(0.3)  # picked soon after it appeared: what spun most often
                assert child.ask(f"input {MIC}") == f"ok {MIC}", cycle
                time.sleep(0.3)
                sound_card.unplug(plugged)
                deadline = time.monotonic() + 2.0
                while True:
                    state = json.loads(child.ask("state"))
                    if state["device"] == "lkc_mic_a" and state["missing"] == MIC:
                        break
                    assert time.monotonic() < deadline, (cycle, state)
                    time.sleep(0.05)
                assert "went away" in state["message"] or "unplugged" in state["message"], \
                    state
            # nothing spins: the child is back to its idle cost (a spin is a whole core)
            c0, t0 = child.cpu_s(), time.monotonic()
            time.sleep(1.0)
            cpu = (child.cpu_s() - c0) / (time.monotonic() - t0)
        assert child.ask("quit", timeout=10.0) == "stopped"
        assert child.proc.wait(10.0) == 0
    finally:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()
    assert child.err_native == 0, child.err_head
    assert child.err_bytes < 20_000, child.err_head
    assert cpu < 0.4, cpu
    print(f"{CYCLES} unplugs, {'moved' if rescue else 'killed'}: child CPU after {cpu:.0%}, "
          f"stderr {child.err_bytes} bytes")
