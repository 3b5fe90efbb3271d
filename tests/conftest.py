"""Shared fixtures: the private virtual sound card, offscreen Qt."""

from __future__ import annotations

import os
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
