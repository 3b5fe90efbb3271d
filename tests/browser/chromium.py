"""Debian's Chromium, headless, with its fake microphone fed a WAV file, for one test.

Started in a process group of its own (and under ``setpriv --pdeathsig``, so it dies with
the test run even after a crash); closed through DevTools, then the whole group is waited
for, and killed if it lingers, so no renderer or GPU helper outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import wave
from pathlib import Path

from console import parent_death
from console.signals import SAMPLE_RATE, tone
from tests.browser.devtools import Page

CHROMIUM = "/usr/bin/chromium"
START_TIMEOUT_S = 20.0
CLOSE_TIMEOUT_S = 5.0


def available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def write_tone_wav(path: Path, hz: float, peak_dbfs: float, seconds: float = 1.0) -> Path:
    """A 48 kHz mono 16-bit WAV of a tone that loops without a seam (whole cycles)."""
    n = int(seconds * SAMPLE_RATE)
    if (hz * seconds) % 1:
        raise ValueError("the tone must fit the file in whole cycles to loop cleanly")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(tone(0, n, hz, peak_dbfs).tobytes())
    return path


class Chromium:
    """A headless Chromium whose microphone plays ``audio_file`` in a loop."""

    def __init__(self, audio_file: Path) -> None:
        self.audio_file = audio_file
        self.profile = Path(tempfile.mkdtemp(prefix="lkc-chromium-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("chromium is not running")
        return self.process.pid

    def start(self) -> Chromium:
        argv = [
            CHROMIUM, "--headless=new", f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0", "--remote-allow-origins=*",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={self.audio_file}",
            "--autoplay-policy=no-user-gesture-required",
            "--no-first-run", "--no-default-browser-check", "--disable-gpu",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--disable-features=WebRtcHideLocalIpsWithMdns,Translate,MediaRouter",
            "--mute-audio", "about:blank",
        ]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root otherwise
        log = open(self.profile / "chromium.log", "wb")  # noqa: SIM115 (the child holds it)
        with log:
            self.process = subprocess.Popen(parent_death.command(argv), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, start_new_session=True)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_file.exists() or not port_file.read_text().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                text = self.log_tail()
                self.close()
                raise RuntimeError(f"chromium did not start: {text}")
            time.sleep(0.05)
        self.port = int(port_file.read_text().split()[0])
        return self

    async def open(self, url: str) -> Page:
        return await Page.open(self.port, url)

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return (self.profile / "chromium.log").read_text(errors="replace")[-chars:]
        return ""

    def group_alive(self) -> bool:
        """Is any process of the browser's group (browser, renderers, helpers) still there?"""
        if self.process is None:
            return False
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def close(self) -> None:
        """Stop the browser and every process of its group; idempotent."""
        process = self.process
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(CLOSE_TIMEOUT_S)
            deadline = time.monotonic() + CLOSE_TIMEOUT_S
            while self.group_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.group_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(self.profile, ignore_errors=True)
