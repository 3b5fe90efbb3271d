"""A browser in a sandbox room: the page server, Chromium and its page, started and closed
together, for the browser tests and the fallback measurement."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from console.sandbox.voices import make_token
from tests.browser import chromium
from tests.browser.chromium import Chromium, write_tone_wav
from tests.browser.devtools import Page
from tests.browser.page_server import PageServer, sdk_installed

MIC_HZ = 440.0        # what the browser's fake microphone plays (whole cycles in 1 s)
MIC_PEAK_DBFS = -20.0


def missing() -> str:
    """Why a browser cannot run here, or "" when it can."""
    if not chromium.available():
        return f"{chromium.CHROMIUM} is missing: ./dev.sh test installs chromium"
    if not sdk_installed():
        return "tests/browser/node_modules is missing: ./dev.sh test runs npm install there"
    return ""


class BrowserClient:
    """Headless Chromium with the test page open, its microphone playing a tone."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="lkc-browser-"))
        self.wav = write_tone_wav(self.folder / "mic.wav", MIC_HZ, MIC_PEAK_DBFS)
        self.pages = PageServer()
        self.browser = Chromium(self.wav)
        self.page: Page | None = None

    async def start(self) -> BrowserClient:
        try:
            self.pages.start()
            self.browser.start()
            self.page = await self.browser.open(self.pages.url)
            await self.page.wait_for("window.lk && window.LivekitClient")
        except BaseException:
            await self.close()
            raise
        return self

    async def eval(self, expression: str, timeout: float = 20.0) -> Any:
        if self.page is None:
            raise RuntimeError("the browser is not started")
        return await self.page.evaluate(expression, timeout)

    async def join(self, url: str, identity: str, room: str = "test",
                   single_peer_connection: bool = True) -> dict[str, Any]:
        """Join as the page would (v1 signalling first unless told otherwise) and publish
        the microphone; the page's answer: connect time, sid, AudioContext state."""
        token = make_token(identity, room)
        result: dict[str, Any] = await self.eval(
            f"lk.join({json.dumps(url)}, {json.dumps(token)}, "
            f"{json.dumps(single_peer_connection)})", timeout=30.0)
        return result

    def diagnostics(self) -> str:
        """What to print when a check fails: the page's console and the browser's log."""
        lines = self.page.console[-40:] if self.page is not None else []
        return "\n".join(["page console:", *lines, "chromium log:",
                          self.browser.log_tail(1500)])

    async def close(self) -> None:
        """Leave, close the page, stop the browser (all its processes) and the page server."""
        if self.page is not None:
            with contextlib.suppress(Exception):  # a browser already gone has left
                await self.page.evaluate("lk.leave()", 5.0)
            await self.page.close()
            self.page = None
        self.browser.close()
        self.pages.close()
        for item in self.folder.iterdir():
            item.unlink()
        self.folder.rmdir()
