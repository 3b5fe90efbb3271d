"""Shared fixtures: the private virtual sound card, offscreen Qt."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

# Qt draws offscreen unless a test session asks for a real display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def sound_card() -> Iterator[object]:
    """A private PulseAudio daemon with virtual speakers and loopback mics.

    Started once per session, before anything imports sounddevice (PortAudio reads the
    ALSA device list once, at import), and stopped by its pid at the end.
    """
    from console.virtual_audio import VirtualSoundCard

    card = VirtualSoundCard()
    card.start()
    try:
        card.apply()
        yield card
    finally:
        card.stop()


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)  # after every other plugin has finished
def pytest_unconfigure(config: pytest.Config) -> None:
    """Nothing may hang the exit (and CI) once the results are printed.

    Python joins every non-daemon thread at exit, and livekit's exit hook waits on its
    native runtime: either can wait for ever. A thread still running is a leak and is
    reported here; then the process leaves with the tests' status, skipping exit hooks.
    """
    import sys
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stray = [t for t in threading.enumerate()
                 if t is not threading.main_thread() and not t.daemon and t.is_alive()]
        if not stray:
            break
        time.sleep(0.1)
    else:
        _report(stray)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)


def _report(stray: list[threading.Thread]) -> None:
    import sys
    import traceback

    frames = sys._current_frames()
    print(f"\nconftest: {len(stray)} thread(s) still running after the tests:", file=sys.stderr)
    for thread in stray:
        print(f"--- {thread.name}", file=sys.stderr)
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            traceback.print_stack(frame, file=sys.stderr)
